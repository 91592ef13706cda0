"""Workbench: a terminal-first MLOps workbench.

The package root stays light on purpose: `workbench --help` must not pay for
Ray, MLflow or Textual. Submodules are imported where they are needed.
"""

from workbench.core.version import __version__

__all__ = ["__version__", "open_catalogue"]


def __getattr__(name: str) -> object:
    # PEP 562: `workbench.open_catalogue` without paying for DuckDB on `import workbench`.
    if name == "open_catalogue":
        from workbench.owner import open_catalogue

        return open_catalogue
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
