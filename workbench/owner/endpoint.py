"""The owner's local socket: processes on the owner's host reach the catalogue without Ray.

A long-lived front end (the TUI) must not become a Ray driver: a driver is ended when its
cluster goes away, and an embedded cluster goes away at the end of every `workbench run`.
So the owner also answers the two backend primitives (`write`, `query`) on a Unix socket
in a directory only its user can enter; the peer's uid is checked on every connection.
Frames are a 4-byte length and a pickle: both ends are the same user's Workbench.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import socket
import socketserver
import struct
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.catalogue import Backend, Statement
from workbench.core.errors import CatalogueError, WorkbenchError, first_line

if TYPE_CHECKING:
    import pyarrow as pa

_FRAME = struct.Struct("!I")
CONNECT_TIMEOUT_S = 2.0


def socket_path(catalogue_path: Path) -> Path:
    """Where the owner of `catalogue_path` listens: a 0700 directory of this user under /tmp.

    Kept short (a Unix socket path is limited to ~100 bytes) and outside the home, which
    may be on a network file system where sockets do not work.
    """
    directory = Path(tempfile.gettempdir()) / f"workbench-{os.getuid()}"
    directory.mkdir(mode=0o700, exist_ok=True)
    status = directory.stat()
    if status.st_uid != os.getuid() or status.st_mode & 0o077:
        raise CatalogueError(
            f"{directory} is not private to this user (owner {status.st_uid}, mode "
            f"{status.st_mode & 0o777:o})",
            f"remove it; Workbench recreates it with mode 0700: rm -r {directory}",
        )
    digest = hashlib.sha1(str(catalogue_path).encode(), usedforsecurity=False).hexdigest()
    return directory / f"{digest[:12]}-{os.getpid()}.sock"


class OwnerEndpoint:
    """Serves `backend` on a Unix socket until `close`; one thread per connected client."""

    def __init__(self, backend: Backend, path: Path) -> None:
        self.path = path
        path.unlink(missing_ok=True)
        handler = _handler_for(backend)
        self._server = _Server(str(path), handler)
        os.chmod(path, 0o600)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="workbench-owner-socket", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving, hang up on connected clients and remove the socket file.

        Hanging up matters: a client's next call must not reach a closed backend, which
        would reopen (and lock again) the file the owner is giving up.
        """
        self._server.shutdown()
        self._server.server_close()
        self._server.hang_up()
        self.path.unlink(missing_ok=True)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, address: str, handler: type[socketserver.BaseRequestHandler]) -> None:
        super().__init__(address, handler)
        self.clients: set[socket.socket] = set()
        self.closed = False
        self.guard = threading.Lock()

    def hang_up(self) -> None:
        with self.guard:
            self.closed = True
            for client in self.clients:
                try:
                    client.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already gone

    def verify_request(self, request: Any, client_address: Any) -> bool:
        credentials = request.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")
        )
        _, uid, _ = struct.unpack("3i", credentials)
        return bool(uid == os.getuid())


def _handler_for(backend: Backend) -> type[socketserver.BaseRequestHandler]:
    class Handler(socketserver.BaseRequestHandler):
        server: _Server

        def handle(self) -> None:
            with self.server.guard:
                if self.server.closed:
                    return
                self.server.clients.add(self.request)
            try:
                while True:
                    try:
                        request = _receive(self.request)
                    except (OSError, EOFError):
                        return
                    with self.server.guard:  # the backend serialises calls anyway
                        if self.server.closed:
                            return
                        reply = _answer(backend, request)
                    _send(self.request, reply)
            finally:
                with self.server.guard:
                    self.server.clients.discard(self.request)

    return Handler


def _answer(backend: Backend, request: tuple[Any, ...]) -> tuple[str, Any]:
    operation, *arguments = request
    try:
        if operation == "query":
            return "ok", backend.query(*arguments)
        if operation == "write":
            backend.write(*arguments)
            return "ok", None
        return "error", CatalogueError(f"unknown catalogue operation {operation!r}")
    except WorkbenchError as error:
        return "error", error
    except Exception as error:  # the owner must keep serving; the client reports it
        return "error", CatalogueError(f"catalogue owner failed: {type(error).__name__}: {error}")


class SocketBackend(Backend):
    """The catalogue behind an owner's socket; every call waits for its answer."""

    def __init__(self, path: Path, location: str) -> None:
        self._location = location
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.settimeout(CONNECT_TIMEOUT_S)
        try:
            self._socket.connect(str(path))
        except OSError:
            self._socket.close()
            raise
        self._socket.settimeout(None)

    @property
    def location(self) -> str:
        return self._location

    def write(self, statements: Sequence[Statement], *, wait: bool = True) -> None:
        self._call("write", list(statements))

    def query(self, sql: str, params: Sequence[object] = ()) -> pa.Table:
        table: pa.Table = self._call("query", sql, list(params))
        return table

    def close(self) -> None:
        self._socket.close()

    def _call(self, *request: Any) -> Any:
        try:
            _send(self._socket, request)
            status, value = _receive(self._socket)
        except (OSError, EOFError) as error:
            raise CatalogueError(
                f"the catalogue owner ({self._location}) went away: {first_line(error)}",
                "retry: with the owner gone the file is free again",
            ) from None
        if status == "error":
            raise value
        return value


def _send(connection: socket.socket, message: Any) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    connection.sendall(_FRAME.pack(len(payload)) + payload)


def _receive(connection: socket.socket) -> Any:
    (size,) = _FRAME.unpack(_read_exactly(connection, _FRAME.size))
    # Trusted: only this user's processes can connect (0700 directory, peer uid checked).
    return pickle.loads(_read_exactly(connection, size))  # noqa: S301


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = connection.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            raise EOFError("connection closed")
        chunks += chunk
    return bytes(chunks)
