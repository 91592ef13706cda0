"""A missing engine skips a test locally and fails it under CI=true; CI's machine has them all."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.fixtures.engines import in_ci, require_binary, require_engine, require_module


def test_a_missing_engine_skips_locally_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no frobnicator engine"):
        require_engine("no frobnicator engine")


@pytest.mark.parametrize("value", ["true", "TRUE", "1"])
def test_a_missing_engine_fails_under_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="no frobnicator engine.*CI=true"):
        require_engine("no frobnicator engine")


def test_a_missing_module_or_binary_goes_through_the_same_rule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no_such_module_13.*pip install it"):
        require_module("no_such_module_13", "pip install it")
    with pytest.raises(pytest.fail.Exception, match="no no-such-binary-13 on PATH"):
        require_binary("no-such-binary-13", "apt-get install it")
    monkeypatch.setenv("CI", "false")
    assert not in_ci()
    assert require_module("json", "stdlib").dumps([]) == "[]"
    assert os.path.basename(require_binary("sh", "coreutils")) == "sh"


@pytest.mark.slow
def test_every_engine_the_suite_needs_is_here(docker_engine: Any) -> None:
    """Under CI=true this fails the run when .ci/engines.sh or .ci/run left something out."""
    base = os.environ.get("WORKBENCH_TEST_BASE_IMAGE", "workbench-test-base:bookworm")
    if not docker_engine.images.list(name=base):
        require_engine(f"base image {base} is missing; .ci/engines.sh builds it")
    require_binary("haproxy", "apt-get install haproxy (.ci/engines.sh does)")
    require_binary("wrk", "apt-get install wrk (.ci/engines.sh does)")
    require_module("torch", "pip install torch (.ci/run does)")
