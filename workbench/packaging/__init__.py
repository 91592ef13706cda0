"""Images of model versions: build contexts, wheelhouses, SBOMs, the Docker Engine API.

An adapter beside compute, serving and interop: imports artifacts, owner, catalogue and
core, never another adapter. Artifact checks live in `workbench.artifacts`.
"""

# `package build --base-image` default: pinned by tag, the host's Python minor on Debian slim.
DEFAULT_BASE_IMAGE = "python:3.11-slim"
