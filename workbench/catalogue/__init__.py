"""The catalogue: one DuckDB file with every run, model, deployment and drift check.

`Catalogue` is the API every component uses; a `Backend` is whoever owns the
file: this process (`DuckDBBackend`) or a cluster-side actor (see workbench/owner/).
"""

from workbench.catalogue.backend import Backend, Statement
from workbench.catalogue.catalogue import Catalogue

__all__ = ["Backend", "Catalogue", "Statement"]
