"""The Textual front end (issue 10): app factory, screens, widgets, dialogs, one stylesheet.

May import textual, `workbench.services` and `workbench.core` only; an import-linter contract
in pyproject.toml keeps it away from the catalogue, the owner, the engine adapters and Ray.
"""
