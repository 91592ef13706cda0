"""Catalogue access: open the catalogue locally or through its single owner.

Sits between the engine adapters (compute, serving, packaging, interop) and the catalogue:
any of them may import it, it imports only the catalogue and core. Ray is imported inside
the functions that need a cluster, never at module level, so reading the catalogue with no
cluster running loads no Ray.
"""

from workbench.owner.access import open_catalogue, read_owner_file
from workbench.owner.actor import stop_owner

__all__ = ["open_catalogue", "read_owner_file", "stop_owner"]
