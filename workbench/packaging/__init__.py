"""Model artifacts and images: manifests of checksums, verification before every load."""

# `package build --base-image` default: pinned by tag, the host's Python minor on Debian slim.
DEFAULT_BASE_IMAGE = "python:3.11-slim"
