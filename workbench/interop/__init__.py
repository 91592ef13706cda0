"""Adapters to other tools' stores (MLflow tracking and registry)."""
