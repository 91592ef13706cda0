"""Serve one model version with uvicorn alone: the packaged image's server (no Ray inside).

It needs a bearer token (--token-file, $WORKBENCH_TOKEN_FILE or $WORKBENCH_TOKEN) and
refuses to start without one unless told to serve without auth (--no-auth or
$WORKBENCH_NO_AUTH=1): an image must never answer /invocations to anyone by accident.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.serving.app import DEFAULT_MAX_BODY_BYTES, AppOptions, Scored, make_app
from workbench.serving.errors import Overloaded
from workbench.serving.hosts import ALLOWED_HOSTS_ENV, allowed_hosts_from
from workbench.serving.model import ServedModel, read_info
from workbench.serving.signature import Columns

TOKEN_ENV = "WORKBENCH_TOKEN"
TOKEN_FILE_ENV = "WORKBENCH_TOKEN_FILE"
NO_AUTH_ENV = "WORKBENCH_NO_AUTH"
_NO_TOKEN = (
    f"refusing to start without a bearer token: mount a token file and set {TOKEN_FILE_ENV} "
    f"to its path (or pass --token-file), or set {TOKEN_ENV}; to serve without auth on "
    f"purpose, set {NO_AUTH_ENV}=1 (or pass --no-auth)"
)


class TokenMissing(Exception):
    """No usable bearer token, and serving without one was not asked for."""


def resolve_token(token_file: Path | None, no_auth: bool, environ: Mapping[str, str]) -> str | None:
    """The bearer token to require, or None when serving without auth was asked for."""
    path = token_file or (Path(environ[TOKEN_FILE_ENV]) if environ.get(TOKEN_FILE_ENV) else None)
    if path is not None:
        try:
            token = path.read_text().strip()
        except OSError as error:
            raise TokenMissing(f"cannot read the token file {path}: {error.strerror}") from None
        if not token:
            raise TokenMissing(f"the token file {path} is empty")
        return token
    if token := environ.get(TOKEN_ENV, "").strip():
        return token
    if no_auth or environ.get(NO_AUTH_ENV, "").strip().lower() in ("1", "true", "yes"):
        return None
    raise TokenMissing(_NO_TOKEN)


class LocalScorer:
    """Scores in a worker thread, so the event loop keeps answering pings and refusals."""

    def __init__(self, model: ServedModel, max_pending: int = 64) -> None:
        self.model = model
        self.schema = model.schema
        self.max_pending = max_pending
        self.pending = 0

    def metadata(self) -> dict[str, Any]:
        return self.model.metadata

    def healthy(self) -> bool:
        return True

    async def score(self, columns: Columns) -> Scored:
        if self.pending >= self.max_pending:
            raise Overloaded(f"{self.pending} requests already waiting; retry shortly")
        self.pending += 1
        try:
            predictions = await asyncio.to_thread(self.model.predict, columns)
        finally:
            self.pending -= 1
        return Scored(predictions, self.model.version)


def main(argv: list[str] | None = None) -> None:
    """`python -m workbench.serving --model-dir DIR [--metadata FILE] [--host H] [--port P]`."""
    parser = argparse.ArgumentParser(prog="python -m workbench.serving", description=__doc__)
    parser.add_argument("--model-dir", type=Path, required=True, help="MLflow model directory")
    parser.add_argument("--metadata", type=Path, help="model-info.json (name, version, ...)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--token-file",
        type=Path,
        help=f"require this bearer token (or ${TOKEN_FILE_ENV}, ${TOKEN_ENV})",
    )
    parser.add_argument("--no-auth", action="store_true", help="serve without a token, on purpose")
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per prediction")
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        help=f"answer this Host name too (repeatable; or ${ALLOWED_HOSTS_ENV}; * for any)",
    )
    args = parser.parse_args(argv)

    try:  # before the model loads: a misconfigured container fails at once, saying why
        token = resolve_token(args.token_file, args.no_auth, os.environ)
    except TokenMissing as error:
        sys.exit(f"workbench.serving: {error}")
    if token is None:
        print("workbench.serving: serving WITHOUT auth, as asked", file=sys.stderr)  # noqa: T201

    import uvicorn  # deferred: only the standalone server needs it

    model = ServedModel.load(args.model_dir, read_info(args.metadata))
    options = AppOptions(
        token=token,
        max_body_bytes=args.max_body_bytes,
        timeout_s=args.timeout,
        allowed_hosts=allowed_hosts_from(os.environ, tuple(args.allowed_host)),
    )
    uvicorn.run(
        make_app(LocalScorer(model), options),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
    )
