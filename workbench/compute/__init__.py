"""Adapters to Ray: clusters, pipeline steps (tasks, Ray Train), sweeps (Ray Tune), GPUs.

An adapter beside serving, packaging and interop: imports owner, artifacts, catalogue and
core, never another adapter. Ray is imported inside functions, never at module import, so
commands that do not touch a cluster stay fast.
"""
