"""Artifact integrity: manifests of sha256 sums, loading only what verifies, safe paths.

Used by compute (step outputs), serving (loading a version), packaging (build contexts) and
services; imports only core, so none of those adapters needs another to check a file.
"""
