"""The base image a model image builds FROM, recorded by digest in its labels and SBOM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BaseDigest:
    """A base image pinned by content: its registry manifest digest, or its local image id.

    `source` says which: "repo-digest" (the image was pulled; `name@digest` pulls it again)
    or "image-id" (built or imported locally, so no registry digest exists; the id is the
    sha256 of the image's config, which names its layers).
    """

    digest: str
    source: str

    @classmethod
    def of(cls, name: str, attrs: dict[str, Any]) -> BaseDigest:
        """The digest of an inspected image: the repo digest of `name`'s repository if any."""
        repository = name.rsplit(":", 1)[0] if "/" not in name.rsplit(":", 1)[-1] else name
        repo_digests = [str(entry) for entry in attrs.get("RepoDigests") or []]
        for entry in repo_digests:
            if entry.split("@", 1)[0] == repository:
                return cls(entry.split("@", 1)[1], "repo-digest")
        if repo_digests:
            return cls(repo_digests[0].split("@", 1)[1], "repo-digest")
        return cls(str(attrs["Id"]), "image-id")
