"""Telemetry samplers (issue 11): the NVML boundary, the node sampler, the per-node Ray actor.

Importing this package loads neither Ray nor pynvml; both are imported where they are used.
"""
