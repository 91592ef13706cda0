"""Adapters to other tools' stores: runs and model versions to and from MLflow.

An adapter beside compute, serving and packaging: imports owner, artifacts, catalogue and
core, never another adapter. MLflow is imported inside the functions that need it.
"""
