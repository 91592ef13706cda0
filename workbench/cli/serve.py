"""`workbench serve`, `workbench deployments ...` and `workbench predict`: models over HTTP."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from workbench.cli.render import Column, console, emit_json, print_table, short_time

if TYPE_CHECKING:
    from workbench.core.deployments import Deployment, VersionEntry


def _autoscale(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        low, high = (int(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter("expected MIN,MAX, e.g. 1,4") from None
    if not 0 <= low <= high or high < 1:
        raise click.BadParameter("expected 0 <= MIN <= MAX and MAX >= 1")
    return (low, high)


@click.command()
@click.argument("model", metavar="NAME[:VERSION|@ALIAS]")
@click.option("--name", help="Deployment name (default: the model's name).")
@click.option("--replicas", type=click.IntRange(1), default=1, show_default=True)
@click.option("--autoscale", metavar="MIN,MAX", callback=_autoscale,
              help="Autoscale between MIN and MAX replicas instead of --replicas.")  # fmt: skip
@click.option("--max-batch-size", type=click.IntRange(1), default=32, show_default=True,
              help="Requests scored together by dynamic batching.")  # fmt: skip
@click.option("--batch-wait-ms", type=click.FloatRange(0), default=1.0, show_default=True,
              help="Longest wait for a batch to fill, only while others wait.")  # fmt: skip
@click.option("--max-ongoing-requests", type=click.IntRange(1), default=64, show_default=True)
@click.option("--max-queued-requests", type=click.IntRange(-1), default=256, show_default=True,
              help="Beyond this, callers get 503 (-1: no limit).")  # fmt: skip
@click.option("--route-prefix", metavar="/P", help="URL prefix (default /NAME).")
@click.option("--canary", metavar="NAME:VERSION", help="Second version taking --traffic percent.")
@click.option("--traffic", type=float, metavar="PCT", help="The canary's share of requests.")
@click.option("--shadow", metavar="NAME:VERSION",
              help="Also score every request with this version; responses unchanged.")  # fmt: skip
@click.option("--canary-max-error-rate", type=click.FloatRange(0, 1), default=0.05,
              show_default=True, help="Roll the canary back above this 5xx share.")  # fmt: skip
@click.option("--canary-max-p95-ms", type=click.FloatRange(0), default=None,
              help="Roll the canary back above this p95 latency.")  # fmt: skip
@click.option("--sample-rate", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="Share of requests logged to the catalogue.")  # fmt: skip
@click.option("--max-body-mb", type=click.FloatRange(0.001), default=4.0, show_default=True)
@click.option("--timeout", "timeout_s", type=click.FloatRange(0.001), default=30.0,
              show_default=True, help="Seconds per prediction before a 408.")  # fmt: skip
@click.option("--hard-timeout", "hard_timeout_s", type=click.FloatRange(0.001), default=None,
              help="A model call still running after this many seconds fails its replica's "
                   "health check, so Serve restarts the replica (audited) "
                   "[default: max(60, 4 x --timeout)].")  # fmt: skip
@click.option("--no-auth", is_flag=True, help="Serve without a bearer token (not recommended).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def serve(model: str, name: str | None, replicas: int, autoscale: tuple[int, int] | None,
          max_batch_size: int, batch_wait_ms: float, max_ongoing_requests: int,
          max_queued_requests: int, route_prefix: str | None, canary: str | None,
          traffic: float | None, shadow: str | None, canary_max_error_rate: float,
          canary_max_p95_ms: float | None, sample_rate: float, max_body_mb: float,
          timeout_s: float, hard_timeout_s: float | None, no_auth: bool,
          as_json: bool) -> None:  # fmt: skip
    """Deploy a model version on Ray Serve at http://127.0.0.1:PORT/NAME.

    Serving again under the same name updates the deployment: a traffic change among the
    versions its replicas hold reconfigures them in place; a new version rolls in new
    replicas, and if it cannot start, the old one keeps serving. A bearer token is created
    (WORKBENCH_HOME/tokens/NAME.token, mode 0600); `workbench predict` sends it.

    \b
    Examples:
      workbench serve fraud@champion
      workbench serve fraud:3 --canary fraud:4 --traffic 10
      workbench serve fraud:3 --shadow fraud:4 --replicas 2 --max-batch-size 64
    """
    from workbench.core.deployments import CanaryPolicy
    from workbench.core.settings import load_settings
    from workbench.services.serve import (
        ServeRequest,
        ensure_cluster,
        plan_versions,
        serve_model,
    )

    settings = load_settings()
    request = ServeRequest(
        model=model, name=name, route_prefix=route_prefix, replicas=replicas,
        autoscale=autoscale, max_batch_size=max_batch_size, batch_wait_ms=batch_wait_ms,
        max_ongoing_requests=max_ongoing_requests, max_queued_requests=max_queued_requests,
        canary=canary, traffic=traffic, shadow=shadow, auth=not no_auth,
        sample_rate=sample_rate, max_body_bytes=int(max_body_mb * 1024 * 1024),
        timeout_s=timeout_s, hard_timeout_s=hard_timeout_s,
        canary_policy=CanaryPolicy(max_error_rate=canary_max_error_rate,
                                   max_p95_ms=canary_max_p95_ms),
    )  # fmt: skip
    versions = plan_versions(settings, request)  # bad input fails here, before any cluster
    if ensure_cluster(settings):
        console(stderr=True).print("started a local Ray cluster (stop it: workbench cluster down)")
    with console(stderr=True).status(f"deploying {model} on Ray Serve ..."):
        deployment = serve_model(settings, request, versions)
    if as_json:
        emit_json(deployment.spec.summary(deployment.status))
        return
    _print_summary(deployment)
    if deployment.spec.ingress != "haproxy":
        console(stderr=True).print(
            "note: haproxy is not installed, so Serve's slower Python proxy is in front; "
            "install haproxy and restart the cluster for ~10x the throughput",
            style="yellow",
        )
    console().print(f"try: workbench predict {deployment.name} --input rows.json", style="dim")


def _print_summary(deployment: Deployment) -> None:
    out = console()
    spec = deployment.spec
    out.print(f"[bold]{spec.name}[/] {deployment.status} at {spec.url}")
    for version in spec.versions:
        share = f" {version.traffic:g}%" if version.traffic else ""
        out.print(f"  {version.role:<8} {version.label}{share}")


@click.group()
def deployments() -> None:
    """Running model deployments: list, inspect, promote a canary, roll back, stop."""


@deployments.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ls(as_json: bool) -> None:
    """List deployments with their versions and URL."""
    from workbench.core.settings import load_settings
    from workbench.services.serve import list_deployments

    found = list_deployments(load_settings())
    if as_json:
        emit_json([d.spec.summary(d.status) for d in found])
        return
    if not found:
        console().print("no deployments yet: workbench serve NAME@champion", style="dim")
        return
    rows = [
        (d.name, d.status, ", ".join(_version_text(v) for v in d.spec.versions), d.spec.url)
        for d in found
    ]
    print_table(("NAME", "STATUS", "VERSIONS", "URL"), rows, no_wrap=True)


def _version_text(version: VersionEntry) -> str:
    text = f"v{version.version}"
    if version.role != "primary":
        share = f" {version.traffic:g}%" if version.traffic else ""
        text += f" ({version.role}{share})"
    return text


@deployments.command("show")
@click.argument("name")
@click.option("--window", "window_minutes", type=click.IntRange(1), default=60,
              show_default=True, help="Minutes of requests the statistics cover.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(name: str, window_minutes: int, as_json: bool) -> None:
    """One deployment: versions, Serve's status, latency p50/p95/p99, QPS and error rate."""
    from workbench.core.settings import load_settings
    from workbench.services.serve import show as show_deployment

    shown = show_deployment(load_settings(), name, window_minutes)
    if as_json:
        emit_json(shown.to_json())
        return
    _print_summary(shown.deployment)
    out = console()
    live = shown.live
    if live:
        replicas = ", ".join(f"{n} {s.lower()}" for s, n in live["replicas"].items()) or "none"
        out.print(f"  [dim]serve[/]    {live['status']}; replicas: {replicas}")
    out.print(f"  [dim]since[/]    {short_time(shown.deployment.created_at)}")
    if not shown.stats:
        out.print(f"  no requests in the last {window_minutes} min", style="dim")
        return
    headers = ("VERSION", "REQUESTS", "QPS", "P50 MS", "P95 MS", "P99 MS", "5XX", "4XX")
    rows = [
        (row["version"], str(row["requests"]), f"{row['qps']:.1f}", _ms(row["p50_ms"]),
         _ms(row["p95_ms"]), _ms(row["p99_ms"]), f"{row['error_rate']:.1%}",
         str(row["client_errors"]))
        for row in shown.stats
    ]  # fmt: skip
    columns = [Column(header, no_wrap=True, justify="right") for header in headers]
    print_table(columns, rows, title=f"last {window_minutes} min", out=out)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


_REASON_HELP = "Why: kept in the audit trail (default: what changed)."


@deployments.command("promote")
@click.argument("name")
@click.option("--reason", help=_REASON_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def promote(name: str, reason: str | None, as_json: bool) -> None:
    """Shift all traffic to the canary (replicas reconfigured in place; none is dropped)."""
    _shift_traffic("promote", name, reason, as_json, f"promoting the canary of {name} ...")


@deployments.command("rollback")
@click.argument("name")
@click.option("--reason", help=_REASON_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def rollback(name: str, reason: str | None, as_json: bool) -> None:
    """Remove the canary, or return to the primary before the last promotion."""
    _shift_traffic("rollback", name, reason, as_json, f"rolling back {name} ...")


def _shift_traffic(verb: str, name: str, reason: str | None, as_json: bool, doing: str) -> None:
    """Run services.serve.promote or .rollback with a spinner, then print the result."""
    from workbench.core.settings import load_settings
    from workbench.services.serve import promote as promote_canary
    from workbench.services.serve import rollback as roll_back

    action = promote_canary if verb == "promote" else roll_back
    with console(stderr=True).status(doing):
        deployment = action(load_settings(), name, reason)
    if as_json:
        emit_json(deployment.spec.summary(deployment.status))
    else:
        _print_summary(deployment)


@deployments.command("stop")
@click.argument("name")
@click.option("--reason", help="Why: kept in the audit trail (default: deployments stop).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stop(name: str, reason: str | None, as_json: bool) -> None:
    """Remove the deployment from Serve and delete its token; its history stays."""
    from workbench.core.settings import load_settings
    from workbench.services.serve import stop as stop_deployment

    stopped = stop_deployment(load_settings(), name, reason)
    if as_json:
        emit_json({"name": stopped.name, "status": stopped.status, "url": stopped.spec.url})
    else:
        console().print(f"{name} stopped")


@click.command()
@click.argument("name")
@click.option("--input", "source", default="-", show_default=True, metavar="FILE|-",
              help="JSON (an MLflow format), .csv or .parquet; - reads stdin.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the whole response as JSON.")
def predict(name: str, source: str, as_json: bool) -> None:
    """Score rows with deployment NAME, sending its token.

    \b
    Example:
      echo '{"dataframe_records": [{"amount": 12.5, ...}]}' | workbench predict fraud
    """
    from workbench.core.settings import load_settings
    from workbench.services.predict import predict_file

    body = sys.stdin.buffer.read() if source == "-" else None
    result = predict_file(load_settings(), name, source, body)
    if as_json:
        emit_json(result)
        return
    for row in result["predictions"]:
        click.echo(row)
