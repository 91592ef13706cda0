"""A CycloneDX 1.5 software bill of materials for an image's Python packages."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any

from workbench.core.version import __version__
from workbench.packaging.base_image import BaseDigest
from workbench.packaging.wheelhouse import Wheel

PRUNED = (
    "from site-packages: tests directories, C and Cython sources and headers, pyarrow's "
    "Flight RPC libraries"
)


def cyclonedx_sbom(
    wheels: Iterable[Wheel],
    *,
    image: str,
    model: dict[str, Any],
    created: str,
    base: tuple[str, BaseDigest | None] | None = None,
) -> dict[str, Any]:
    """One component per wheel installed into the image (purl and the wheel's sha256).

    `base` is the base image's name and digest: a container component of its own.
    """
    components: list[dict[str, Any]] = [
        {
            "type": "library",
            "bom-ref": wheel.purl,
            "name": wheel.name,
            "version": wheel.version,
            "purl": wheel.purl,
            "hashes": [{"alg": "SHA-256", "content": wheel.sha256}],
            "properties": [{"name": "workbench:wheel", "value": wheel.filename}],
        }
        for wheel in sorted(wheels, key=lambda w: w.name)
    ]
    components.append(
        {
            "type": "application",
            "bom-ref": f"workbench@{__version__}",
            "name": "workbench",
            "version": __version__,
            "description": "the scoring server: source on PYTHONPATH=/app, not installed by pip",
        }
    )
    components.append(
        {
            "type": "machine-learning-model",
            "bom-ref": f"model:{model['name']}@{model['version']}",
            "name": str(model["name"]),
            "version": str(model["version"]),
            "hashes": _sha256(model.get("sha256")),
        }
    )
    if base is not None:
        components.append(_base_component(*base))
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": {
                "components": [{"type": "application", "name": "workbench", "version": __version__}]
            },
            "component": {"type": "container", "bom-ref": image, "name": image},
            "properties": [
                {"name": "workbench:python-env", "value": "/opt/venv"},
                {"name": "workbench:pruned", "value": PRUNED},
            ],
        },
        "components": components,
    }


def _base_component(name: str, digest: BaseDigest | None) -> dict[str, Any]:
    """The image built FROM: by digest when an engine was asked, by name alone otherwise."""
    component: dict[str, Any] = {"type": "container", "bom-ref": f"base:{name}", "name": name,
                                 "description": "the base image (FROM)"}  # fmt: skip
    if digest is None:
        component["properties"] = [{"name": "workbench:base-digest", "value": "unknown"}]
        return component
    component["hashes"] = _sha256(digest.digest.removeprefix("sha256:"))
    component["properties"] = [
        {"name": "workbench:base-digest", "value": digest.digest},
        {"name": "workbench:base-digest-source", "value": digest.source},
    ]
    return component


def _sha256(digest: object) -> list[dict[str, str]]:
    """A hash entry when `digest` really is a hex sha256 (CycloneDX validates the pattern)."""
    text = str(digest or "")
    return [{"alg": "SHA-256", "content": text}] if re.fullmatch(r"[0-9a-f]{64}", text) else []
