"""`workbench predict`: send rows to a deployment with its token, return the predictions."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from workbench.core.errors import InvalidInputError, NotFoundError, WorkbenchError
from workbench.core.settings import Settings
from workbench.services.serve import deployment_url, token

CONTENT_TYPES = {
    ".json": "application/json",
    ".csv": "text/csv",
    ".parquet": "application/vnd.apache.parquet",
}


class PredictFailed(WorkbenchError):
    """The deployment could not answer (down, or the model failed)."""

    exit_code = 1


def predict_file(settings: Settings, name: str, source: str, body: bytes | None) -> dict[str, Any]:
    """POST `body` (stdin) or the file `source` to deployment `name`'s /invocations."""
    url = deployment_url(settings, name)  # an unknown deployment is the first thing to say
    content_type = "application/json"
    if body is None:
        path = Path(source)
        content_type = CONTENT_TYPES.get(path.suffix.lower(), "")
        if not content_type:
            raise InvalidInputError(
                f"cannot tell the format of {source}", "use a .json, .csv or .parquet file"
            )
        try:
            body = path.read_bytes()
        except OSError as error:
            raise NotFoundError(f"cannot read {source}: {error.strerror}") from None
    headers = {"Content-Type": content_type}
    bearer = token(settings, name)
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    request = urllib.request.Request(f"{url}/invocations", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - our URL
            answer = json.loads(response.read())
            version = response.headers.get("x-workbench-model-version")
    except urllib.error.HTTPError as error:
        message = _message(error.read())
        if 400 <= error.code < 500:
            raise InvalidInputError(f"{name} refused the input ({error.code}): {message}") from None
        raise PredictFailed(f"{name} failed ({error.code}): {message}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise PredictFailed(
            f"cannot reach {url}: {reason}", "is it running? workbench deployments show " + name
        ) from None
    return {
        "deployment": name,
        "model_version": int(version) if version else None,
        "predictions": answer["predictions"],
    }


def _message(raw: bytes) -> str:
    try:
        return str(json.loads(raw).get("message", raw[:200]))
    except (ValueError, AttributeError):
        return raw[:200].decode(errors="replace")
