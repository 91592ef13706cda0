"""The image's build context: pinned requirements, the Dockerfile, the SBOM, the secret guard."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

import pytest

from workbench.packaging.context import (
    USER,
    ImageSpec,
    SecretInContextError,
    refuse_secrets,
    render_dockerfile,
)
from workbench.packaging.sbom import cyclonedx_sbom
from workbench.packaging.wheelhouse import (
    Wheel,
    WheelhouseError,
    host_constraints,
    pin_requirements,
    read_requirements,
)

WHEELS = [
    Wheel("numpy", "2.4.6", "numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl", "a" * 64),
    Wheel("mlflow-skinny", "3.17.2", "mlflow_skinny-3.17.2-py3-none-any.whl", "b" * 64),
]


def _spec(**changes: object) -> ImageSpec:
    fields: dict[str, object] = {
        "name": "fraud", "version": 3, "run_id": "r1", "sha256": "c" * 64, "flavor": "sklearn",
        "metrics": {"auc": 0.93, "note": 1.0}, "revision": "abc123",
        "created": "2026-01-02T03:04:05+00:00", "tag": "workbench/fraud:3",
        "base_image": "python:3.11-slim",
    }  # fmt: skip
    fields.update(changes)
    return ImageSpec(**fields)  # type: ignore[arg-type]  # a dict of mixed values, by name


# -- requirements -------------------------------------------------------------------------------


def test_mlflow_becomes_skinny_and_model_pins_win() -> None:
    pinned = pin_requirements(
        ["mlflow==3.17.2", "numpy==2.0.0", "scikit-learn>=1.4"], ("numpy", "starlette", "mlflow")
    )
    assert pinned == ["mlflow-skinny==3.17.2", "numpy==2.0.0", "scikit-learn>=1.4",
                      f"starlette=={version('starlette')}"]  # fmt: skip


def test_unpinned_requirements_get_the_host_version() -> None:
    assert pin_requirements([], ("uvicorn", "pyarrow")) == [
        f"uvicorn=={version('uvicorn')}", f"pyarrow=={version('pyarrow')}"
    ]  # fmt: skip
    # A package the host lacks stays unpinned: pip picks it, the SBOM records what it picked.
    assert pin_requirements(["surely-not-installed-pkg"], ()) == ["surely-not-installed-pkg"]


def test_bad_requirement_lines_are_refused(tmp_path: Path) -> None:
    with pytest.raises(WheelhouseError, match="not a valid requirement"):
        pin_requirements(["numpy=="], ())
    path = tmp_path / "requirements.txt"
    path.write_text("# pinned\nnumpy==2.4.6  # why\n\n--extra-index-url https://example.org\n")
    with pytest.raises(WheelhouseError, match="pip option line"):
        read_requirements(path)
    path.write_text("# pinned\nnumpy==2.4.6  # why\n\nscipy\n")
    assert read_requirements(path) == ["numpy==2.4.6", "scipy"]
    assert read_requirements(tmp_path / "missing.txt") == []


def test_host_constraints_pin_dependencies_but_not_what_was_asked_for() -> None:
    constraints = host_constraints({"numpy"})
    assert f"pyarrow=={version('pyarrow')}" in constraints
    assert not any(line.startswith("numpy==") for line in constraints)


# -- Dockerfile ---------------------------------------------------------------------------------


def test_dockerfile_runs_as_non_root_with_healthcheck_and_serving_command() -> None:
    dockerfile = render_dockerfile(_spec(), WHEELS)
    final = dockerfile.split("\nFROM python:3.11-slim\n", 1)[1]  # the final stage
    assert re.search(r"^USER 10001:10001$", final, re.MULTILINE)
    assert USER.split(":")[0] not in ("0", "root")
    assert "HEALTHCHECK" in final
    assert "http://127.0.0.1:8080/ping" in final
    assert not re.search(r"\b(curl|wget)\b", dockerfile)
    assert "EXPOSE 8080" in final
    cmd = re.search(r"^CMD (.*)$", final, re.MULTILINE)
    assert cmd is not None
    command = json.loads(cmd[1])
    assert command[:3] == ["python3", "-m", "workbench.serving"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert "--no-index --find-links /wheels" in dockerfile  # the build needs no network
    assert "COPY wheels" not in final  # wheels stay in the builder stage


def test_dockerfile_has_no_secrets_in_arg_or_env() -> None:
    dockerfile = render_dockerfile(_spec(), WHEELS)
    assert not re.search(r"^ARG\b", dockerfile, re.MULTILINE)
    env = re.search(r"^ENV (.*?)(?<!\\)$", dockerfile, re.MULTILINE | re.DOTALL)
    assert env is not None
    names = re.findall(r"(\w+)=", env[1])
    assert names == ["PATH", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"]
    assert not re.search(r"token|secret|password|credential", dockerfile, re.IGNORECASE)


def test_labels_carry_identity_provenance_and_metrics() -> None:
    labels = _spec().labels()
    for key in ("title", "version", "created", "revision", "description"):
        assert labels[f"org.opencontainers.image.{key}"]
    assert labels["io.workbench.model.name"] == "fraud"
    assert labels["io.workbench.model.version"] == "3"
    assert labels["io.workbench.model.source_run"] == "r1"
    assert labels["io.workbench.model.sha256"] == "c" * 64
    assert json.loads(labels["io.workbench.model.metrics"]) == {"auc": 0.93, "note": 1.0}
    dockerfile = render_dockerfile(_spec(), WHEELS)
    assert 'io.workbench.model.metrics="{\\"auc\\": 0.93, \\"note\\": 1.0}"' in dockerfile


def test_label_values_are_quoted_against_expansion() -> None:
    dockerfile = render_dockerfile(_spec(name="fr$HOME", revision='a"b\nc'), WHEELS)
    assert 'io.workbench.model.name="fr\\$HOME"' in dockerfile
    assert 'org.opencontainers.image.revision="a\\"b c"' in dockerfile


def test_venv_tools_are_dropped_unless_the_wheelhouse_ships_them() -> None:
    assert "pip uninstall -y -q pip setuptools" in render_dockerfile(_spec(), WHEELS)
    setuptools = Wheel("setuptools", "80.0", "setuptools-80.0-py3-none-any.whl", "d" * 64)
    assert "pip uninstall -y -q pip \\" in render_dockerfile(_spec(), [*WHEELS, setuptools])


# -- SBOM -----------------------------------------------------------------------------------------


def test_sbom_lists_every_wheel_with_purl_and_hash() -> None:
    sbom = cyclonedx_sbom(WHEELS, image="workbench/fraud:3", model=_spec().info(),
                          created="2026-01-02T03:04:05+00:00")  # fmt: skip
    assert (sbom["bomFormat"], sbom["specVersion"]) == ("CycloneDX", "1.5")
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", sbom["serialNumber"])
    libraries = {c["name"]: c for c in sbom["components"] if c["type"] == "library"}
    assert set(libraries) == {"numpy", "mlflow-skinny"}
    assert libraries["mlflow-skinny"]["purl"] == "pkg:pypi/mlflow-skinny@3.17.2"
    assert libraries["numpy"]["hashes"] == [{"alg": "SHA-256", "content": "a" * 64}]
    model = next(c for c in sbom["components"] if c["type"] == "machine-learning-model")
    assert model["hashes"] == [{"alg": "SHA-256", "content": "c" * 64}]
    assert sbom["metadata"]["component"]["name"] == "workbench/fraud:3"


def test_sbom_leaves_out_a_digest_that_is_not_sha256() -> None:
    sbom = cyclonedx_sbom([], image="i", model=_spec(sha256="x" * 64).info(), created="t")
    model = next(c for c in sbom["components"] if c["type"] == "machine-learning-model")
    assert model["hashes"] == []


# -- secrets --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["auth_token", ".env", "id_rsa", "server.pem", "ray.token", "github_token", ".netrc"]
)
def test_a_credential_file_in_the_context_is_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "MLmodel").write_text("flavors: {}")
    refuse_secrets(tmp_path)
    (tmp_path / "model" / name).write_text("s3cr3t")
    with pytest.raises(SecretInContextError, match="looks like a credential") as info:
        refuse_secrets(tmp_path)
    assert info.value.exit_code == 1


def test_ordinary_model_files_are_not_mistaken_for_secrets(tmp_path: Path) -> None:
    for name in ("tokenizer.json", "model.skops", "keys.txt", "conda.yaml", "environment.yml"):
        (tmp_path / name).write_text("{}")
    refuse_secrets(tmp_path)
