"""Host names as the DNS rebinding check reads them, and where the allowed list comes from."""

from __future__ import annotations

import pytest

from workbench.serving.hosts import LOOPBACK_HOSTS, allowed_hosts_from, host_name


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:8000", "127.0.0.1"),
        ("LocalHost", "localhost"),
        ("[::1]:8000", "::1"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("evil.example:80", "evil.example"),
    ],
)
def test_host_name_drops_the_port_and_case(header: str, name: str) -> None:
    assert host_name(header) == name


def test_allowed_hosts_are_loopback_plus_the_environment_and_star_turns_the_check_off() -> None:
    assert allowed_hosts_from({}) == LOOPBACK_HOSTS
    assert allowed_hosts_from({"WORKBENCH_ALLOWED_HOSTS": " API.corp , ,x"}, ("y",)) == (
        *LOOPBACK_HOSTS, "api.corp", "x", "y",
    )  # fmt: skip
    assert allowed_hosts_from({"WORKBENCH_ALLOWED_HOSTS": "*"}) is None
