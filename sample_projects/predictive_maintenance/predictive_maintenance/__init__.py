"""Predictive-maintenance sample project: simulated sensor windows, a 1D-CNN on Ray Train."""
