"""Workbench: a terminal-first MLOps workbench.

The package root stays light on purpose: `workbench --help` must not pay for
Ray, MLflow or Textual. Submodules are imported where they are needed.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("workbench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
