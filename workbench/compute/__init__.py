"""Adapters to Ray: the catalogue owner actor, and (later) clusters, training and tuning.

Ray is imported inside functions, never at module import, so commands that do
not touch a cluster stay fast.
"""
