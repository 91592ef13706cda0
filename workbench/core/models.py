"""Registered models: a reference as users type it (NAME, NAME:VERSION, NAME@ALIAS), a version."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workbench.core.errors import InvalidInputError

MODELS_HINT = "list models: workbench models ls"
_REF = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(?::(?P<version>\d+)|@(?P<alias>[A-Za-z0-9_.-]+))?$")


@dataclass(frozen=True)
class ModelRef:
    """NAME, NAME:VERSION or NAME@ALIAS as a user typed it; no version and no alias: the latest."""

    name: str
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        """Parse a reference; InvalidInputError (exit 2) for anything else."""
        match = _REF.match(text.strip())
        if match is None:
            raise InvalidInputError(
                f"{text!r} is not NAME, NAME:VERSION or NAME@ALIAS", MODELS_HINT
            )
        version = match.group("version")
        return cls(match.group("name"), int(version) if version else None, match.group("alias"))

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        return f"{self.name}@{self.alias}" if self.alias else self.name


@dataclass(frozen=True)
class ModelVersion:
    """One immutable registered version: its artifact, checksum, signature and gate verdict."""

    name: str
    version: int
    uri: str
    run_id: str | None = None
    sha256: str | None = None
    flavor: str | None = None
    signature: dict[str, Any] | None = None
    gate: dict[str, Any] | None = None
    description: str | None = None
    created_at: datetime | None = None

    @property
    def label(self) -> str:
        """NAME:VERSION."""
        return f"{self.name}:{self.version}"

    @property
    def gate_passed(self) -> bool:
        """True when the evaluation gate recorded at registration passed."""
        return bool((self.gate or {}).get("passed"))

    @property
    def inputs(self) -> Any:
        """The input part of the signature (what a deployment's clients send), or None."""
        return (self.signature or {}).get("inputs")

    def to_json(self) -> dict[str, Any]:
        """The `models show --json` fields (aliases are added by the caller)."""
        return {
            "name": self.name,
            "version": self.version,
            "run_id": self.run_id,
            "uri": self.uri,
            "sha256": self.sha256,
            "flavor": self.flavor,
            "signature": self.signature,
            "gate": self.gate,
            "description": self.description,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class ModelSummary:
    """One registered model in a listing: how many versions, the latest, its aliases."""

    name: str
    versions: int
    latest: int
    updated_at: datetime | None
    aliases: list[str]
    """As `alias=vN`, sorted by alias."""

    def to_json(self) -> dict[str, Any]:
        """The `models ls --json` fields."""
        return {
            "name": self.name,
            "versions": self.versions,
            "latest": self.latest,
            "updated_at": self.updated_at,
            "aliases": self.aliases or None,  # the --json contract: null when there are none
        }
