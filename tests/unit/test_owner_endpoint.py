"""The owner's local socket: the two backend primitives, errors, and a private socket."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from workbench.catalogue import Catalogue, Statement
from workbench.catalogue.duckdb_backend import DuckDBBackend
from workbench.core.errors import CatalogueError, InvalidInputError
from workbench.owner.endpoint import OwnerEndpoint, SocketBackend, socket_path


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[DuckDBBackend, Path]]:
    backend = DuckDBBackend(tmp_path / "catalogue.duckdb")
    endpoint = OwnerEndpoint(backend, socket_path(tmp_path / "catalogue.duckdb"))
    yield backend, endpoint.path
    endpoint.close()
    backend.close()


def test_a_client_writes_and_reads_through_the_socket(served: tuple[DuckDBBackend, Path]) -> None:
    backend, path = served
    with Catalogue(SocketBackend(path, "test owner")) as remote:
        run_id = remote.create_run("fraud", params={"lr": 0.1})
        remote.log_metric(run_id, "auc", 0.93, step=1)
        remote.flush()
        assert remote.get_run(run_id).params == {"lr": "0.1"}
    # The owner's own connection sees what the client wrote.
    rows = backend.query("SELECT key, value FROM latest_metrics WHERE run_id = ?", (run_id,))
    assert rows.to_pylist() == [{"key": "auc", "value": 0.93}]


def test_arrow_batches_travel_with_a_write(served: tuple[DuckDBBackend, Path]) -> None:
    backend, path = served
    client = SocketBackend(path, "test owner")
    batch = pa.table({"k": ["a", "b"], "v": ["1", "2"]})
    client.write([Statement("INSERT INTO params SELECT 'r1', k, v FROM batch", data=batch)])
    assert client.query("SELECT count(*) AS n FROM params").to_pylist() == [{"n": 2}]
    client.close()


def test_errors_come_back_typed_and_the_owner_keeps_serving(
    served: tuple[DuckDBBackend, Path],
) -> None:
    _, path = served
    client = SocketBackend(path, "test owner")
    with pytest.raises(InvalidInputError):
        client.query("DELETE FROM runs")
    with pytest.raises(InvalidInputError):
        client.query("SELECT nope FROM runs")
    assert client.query("SELECT 1 AS one").to_pylist() == [{"one": 1}]
    client.close()


def test_the_socket_is_private_to_its_user(served: tuple[DuckDBBackend, Path]) -> None:
    _, path = served
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.parent.stat().st_uid == os.getuid()


def test_a_client_of_a_closed_owner_gets_a_catalogue_error(tmp_path: Path) -> None:
    backend = DuckDBBackend(tmp_path / "catalogue.duckdb")
    endpoint = OwnerEndpoint(backend, socket_path(tmp_path / "catalogue.duckdb"))
    client = SocketBackend(endpoint.path, "test owner")
    endpoint.close()
    backend.close()
    with pytest.raises(CatalogueError, match="went away"):
        client.query("SELECT 1")
    client.close()
    with pytest.raises((FileNotFoundError, ConnectionRefusedError)):
        SocketBackend(endpoint.path, "test owner")
