"""Serve one model version with uvicorn alone: the packaged image's server (no Ray inside)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from workbench.serving.app import DEFAULT_MAX_BODY_BYTES, AppOptions, Scored, make_app
from workbench.serving.errors import Overloaded
from workbench.serving.model import ServedModel, read_info
from workbench.serving.signature import Columns


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
    parser.add_argument("--token-file", type=Path, help="require this bearer token")
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per prediction")
    args = parser.parse_args(argv)

    import uvicorn  # deferred: only the standalone server needs it

    model = ServedModel.load(args.model_dir, read_info(args.metadata))
    token = args.token_file.read_text().strip() if args.token_file else None
    options = AppOptions(token=token, max_body_bytes=args.max_body_bytes, timeout_s=args.timeout)
    uvicorn.run(
        make_app(LocalScorer(model), options),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
    )
