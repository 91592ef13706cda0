"""A folder put first on PYTHONPATH for the Ray processes Workbench starts (see sitecustomize)."""

from pathlib import Path

FOLDER = str(Path(__file__).resolve().parent)
"""What goes on PYTHONPATH."""
