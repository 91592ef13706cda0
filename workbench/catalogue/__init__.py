"""The catalogue: one DuckDB file with every run, model, deployment and drift check.

`Catalogue` is the API every component uses; a `Backend` is whoever owns the
file: this process (`DuckDBBackend`) or a cluster-side actor (see workbench/owner/).
Every SQL statement runs here: the schema and its migrations, the metric buffer and its
flusher, and the ledgers (pipelines, models, deployments), each query a named method.

Imports only core (plus DuckDB, pyarrow and numpy); never Ray, the owner, artifacts, an
engine adapter, services or a front end, all of which sit above it.
"""

from workbench.catalogue.backend import Backend, Statement
from workbench.catalogue.catalogue import Catalogue

__all__ = ["Backend", "Catalogue", "Statement"]
