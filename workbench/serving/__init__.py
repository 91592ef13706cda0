"""Serving: one HTTP scoring contract (MLflow's protocol) for Ray Serve and packaged images.

An adapter beside compute, packaging and interop: imports owner, artifacts, catalogue and
core, never another adapter. Kept light on purpose: importing this package loads nothing
heavy, so a packaged image can run the standalone server without Ray, and the CLI can read
these constants cheaply.
"""

from __future__ import annotations

# What the standalone server needs besides the model's own requirements (packaging pins
# them to the host's versions). pyarrow reads Parquet request bodies.
RUNTIME_REQUIREMENTS: tuple[str, ...] = ("starlette", "uvicorn", "pyarrow", "numpy", "pandas")
