"""`workbench drift`: check a model's live traffic or any two datasets for drift; history."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from workbench.cli.render import Column, console, emit_json, print_table, short_time

if TYPE_CHECKING:
    from workbench.core.drift.check import DriftReport, FeatureDrift
    from workbench.services.drift import CheckOutcome, ConfigOverrides

_STATUS_STYLE = {
    "ok": "green",
    "drift": "bold red",
    "insufficient_data": "yellow",
    "error": "magenta",
}
_NUMERIC = ("auto", "ks", "wasserstein", "psi", "jensenshannon")
_CATEGORICAL = ("auto", "chisquare", "psi", "jensenshannon")


@click.group()
def drift() -> None:
    """Data drift: reference profiles, checks on served traffic or files, their history.

    A version registered by a pipeline gets a reference profile of the data it was trained
    on. `drift check` compares it with the requests a deployment served (or a file); every
    check is kept, and one that finds drift opens an alert that blocks promotion to champion.
    """


@drift.command("check")
@click.argument("model", metavar="[NAME[:VERSION|@ALIAS]]", required=False)
@click.option("--window", metavar="SPAN", help="Served traffic of the last SPAN (default 1h).")
@click.option("--deployment", metavar="NAME", help="Whose traffic (default: the one serving it).")
@click.option(
    "--current",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Check this CSV or Parquet file instead of served traffic.",
)
@click.option(
    "--reference",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Compare FILE with --current, no model needed.",
)
@click.option("--numeric-method", type=click.Choice(_NUMERIC), help="Decides numeric features.")
@click.option(
    "--categorical-method", type=click.Choice(_CATEGORICAL), help="Decides categorical features."
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="[METHOD=]VALUE",
    help="A method's threshold; a bare VALUE applies to the chosen methods.",
)
@click.option("--drift-share", type=float, help="Share of drifted features that means drift.")
@click.option("--feature", "features", multiple=True, help="Check only this feature (repeat).")
@click.option("--fail-on-drift", is_flag=True, help="Exit 1 when the dataset drifted.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole check as JSON.")
def check_command(
    model: str | None,
    window: str | None,
    deployment: str | None,
    current: Path | None,
    reference: Path | None,
    numeric_method: str | None,
    categorical_method: str | None,
    thresholds: tuple[str, ...],
    drift_share: float | None,
    features: tuple[str, ...],
    fail_on_drift: bool,
    as_json: bool,
) -> None:
    """Check a model version's reference against served traffic or a file, or two files.

    Every feature gets KS, Wasserstein (normed by the reference's std), PSI and
    Jensen-Shannon (numeric) or chi-square, PSI and Jensen-Shannon (categorical); the
    project's method decides its status, the share of drifted features the verdict.
    "auto" uses the tests (KS, chi-square; p < 0.05) up to 1,000 rows, the distances
    (Wasserstein, Jensen-Shannon; >= 0.1) above.

    \b
    Examples:
      workbench drift check fraud@champion                 # its deployment, last hour
      workbench drift check fraud:3 --window 24h --json
      workbench drift check fraud:3 --current today.parquet
      workbench drift check --reference train.parquet --current today.csv \\
          --numeric-method wasserstein --categorical-method jensenshannon --threshold 0.1
    """
    from datetime import UTC, datetime

    from workbench.core.errors import InvalidInputError
    from workbench.core.settings import load_settings
    from workbench.services.drift import check_files, check_model

    overrides = _overrides(numeric_method, categorical_method, thresholds, drift_share, features)
    settings = load_settings()
    if reference is not None:
        if model is not None or current is None:
            raise InvalidInputError(
                "--reference compares two files: give --current FILE and no model",
                "e.g. workbench drift check --reference train.parquet --current today.parquet",
            )
        outcome = check_files(settings, reference, current, overrides)
    elif model is None:
        raise InvalidInputError(
            "name a model or give --reference FILE --current FILE",
            "e.g. workbench drift check fraud@champion",
        )
    else:
        if current is not None and (window or deployment):
            raise InvalidInputError("--current FILE replaces --window and --deployment")
        now = datetime.now(UTC).replace(tzinfo=None)
        span = _window(window) if window else None
        outcome = check_model(
            settings, model, overrides, now=now, current=current, window=span, deployment=deployment
        )
    if as_json:
        emit_json(
            {"check_id": outcome.check_id, **_target_json(outcome), **outcome.report.to_json()}
        )
    else:
        _print_check(outcome.check_id, _subject(outcome), outcome.report)
    if fail_on_drift and outcome.report.drifted:
        raise SystemExit(1)


@drift.command("ls")
@click.option("--model", metavar="NAME", help="Only checks of this model.")
@click.option("--deployment", metavar="NAME", help="Only checks of this deployment's traffic.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ls_command(model: str | None, deployment: str | None, limit: int, as_json: bool) -> None:
    """Recorded checks, newest first."""
    from workbench.core.settings import load_settings
    from workbench.services.drift import list_checks

    rows = list_checks(load_settings(), model=model, deployment=deployment, limit=limit)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        console().print("no drift checks yet; run `workbench drift check NAME`", style="dim")
        return
    print_table(
        [
            "CHECK",
            "WHEN",
            "MODEL",
            "DEPLOYMENT",
            "DATA",
            Column("STATUS", no_wrap=True),
            Column("SHARE", justify="right"),
            Column("ROWS", justify="right"),
            "DRIFTED",
        ],
        [
            (
                r["check_id"],
                short_time(r["created_at"]),
                f"{r['model_name']}:{r['model_version']}" if r["model_name"] else "-",
                r["deployment"] or "-",
                _short(r["source"] or "", 40),
                _status(r["status"]),
                f"{(r['share'] or 0):.0%}",
                f"{r['current_rows'] or 0:,}",
                _short(", ".join(r["drifted_features"]), 40) or "-",
            )
            for r in rows
        ],
    )


@drift.command("show")
@click.argument("check_id", metavar="CHECK")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_command(check_id: str, as_json: bool) -> None:
    """One check: every feature, its statistics, missing and unseen shares."""
    from workbench.core.settings import load_settings
    from workbench.services.drift import show_check

    stored = show_check(load_settings(), check_id)
    target = stored.target
    subject = f"{target.model_name}:{target.model_version}" if target.model_name else target.source
    if as_json:
        emit_json(
            {
                "check_id": stored.check_id,
                "created_at": stored.created_at,
                "model": subject,
                "deployment": target.deployment,
                "source": target.source,
                **stored.report.to_json(),
            }
        )
        return
    _print_check(stored.check_id, f"{subject} ({short_time(stored.created_at)})", stored.report)


@drift.command("profile")
@click.argument("model", metavar="NAME[:VERSION|@ALIAS]")
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    required=True,
    metavar="FILE",
    help="The training data (CSV or Parquet).",
)
def profile_command(model: str, data: Path) -> None:
    """Build a version's reference profile from its training data (pipelines do this at
    registration; use it for versions registered otherwise)."""
    from workbench.core.settings import load_settings
    from workbench.services.drift import profile_model

    version, profile_id = profile_model(load_settings(), model, data)
    console().print(f"profiled {version.label} from {data} (profile {profile_id})")


def _overrides(
    numeric: str | None,
    categorical: str | None,
    thresholds: tuple[str, ...],
    drift_share: float | None,
    features: tuple[str, ...],
) -> ConfigOverrides:
    from workbench.core.errors import InvalidInputError
    from workbench.services.drift import ConfigOverrides

    named: dict[str, float] = {}
    bare: float | None = None
    for text in thresholds:
        method, _, value = text.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            raise InvalidInputError(
                f"--threshold {text!r}: {value!r} is not a number",
                "e.g. --threshold 0.1 or --threshold ks=0.01",
            ) from None
        if method:
            from workbench.core.drift.config import check_threshold

            check_threshold(method, number)
            named[method] = number
        else:
            bare = number
    return ConfigOverrides(
        numeric_method=numeric,
        categorical_method=categorical,
        thresholds=named,
        threshold=bare,
        drift_share=drift_share,
        features=features,
    )


def _window(text: str) -> Any:
    from workbench.core.errors import InvalidInputError
    from workbench.services.telemetry import parse_since

    try:
        return parse_since(text)
    except InvalidInputError:
        raise InvalidInputError(
            f"--window {text!r} is not a duration", "e.g. --window 30m, 1h or 7d"
        ) from None


def _target_json(outcome: CheckOutcome) -> dict[str, Any]:
    target = outcome.target
    return {
        "model": f"{target.model_name}:{target.model_version}" if target.model_name else None,
        "deployment": target.deployment,
        "source": target.source,
        "window_start": target.window_start,
        "window_end": target.window_end,
    }


def _subject(outcome: CheckOutcome) -> str:
    target = outcome.target
    if target.model_name is None:
        return target.source
    where = f"deployment {target.deployment}, " if target.deployment else ""
    return f"{target.model_name}:{target.model_version} ({where}{target.source})"


def _print_check(check_id: str, subject: str, report: DriftReport) -> None:
    out = console()
    verdict = _status(report.status)
    out.print(f"[bold]drift check {check_id}[/bold]  {subject}")
    out.print(
        f"{verdict}: {len(report.drifted_features())} of {report.checked_features()} features "
        f"drifted ({report.share:.0%}; the dataset drifts at {report.drift_share:.0%})  "
        f"reference {report.reference_rows:,} rows, current {report.current_rows:,}"
    )
    print_table(
        [
            "FEATURE",
            "KIND",
            Column("STATUS", no_wrap=True),
            "METHOD",
            Column("VALUE", justify="right"),
            Column("THRESHOLD", justify="right"),
            Column("MISSING", justify="right"),
            Column("UNSEEN", justify="right"),
            "NOTE",
        ],
        [_feature_row(f) for f in report.features],
    )
    if report.ignored_columns:
        out.print(
            f"not in the reference, ignored: {', '.join(report.ignored_columns)}", style="dim"
        )


def _feature_row(feature: FeatureDrift) -> tuple[str, ...]:
    primary = feature.primary()
    value = "-"
    if primary is not None:
        shown = primary.p_value if primary.p_value is not None else primary.value
        value = f"{'p=' if primary.p_value is not None else ''}{shown:.4g}"
    threshold = f"{primary.threshold:g}" if primary is not None else "-"
    unseen = f"{feature.unseen_share:.1%}" if feature.unseen_share is not None else "-"
    return (
        feature.feature,
        feature.kind,
        _status(feature.status),
        feature.method,
        value,
        threshold,
        f"{feature.current_missing:.1%}",
        unseen,
        _short(feature.message, 50),
    )


def _status(status: str) -> str:
    style = _STATUS_STYLE.get(status, "")
    return f"[{style}]{status}[/{style}]" if style else status


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@drift.command("schedule")
@click.argument("deployment", required=False)
@click.option("--every", metavar="SPAN", help="Check this often (at least 1m).")
@click.option(
    "--window",
    metavar="SPAN",
    default="1h",
    show_default=True,
    help="Over the traffic of the last SPAN.",
)
@click.option(
    "--retrain/--no-retrain",
    default=False,
    show_default=True,
    help="When a check opens an alert, run the project; its version becomes challenger.",
)
@click.option("--off", is_flag=True, help="Drop this deployment's own schedule.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def schedule_command(
    deployment: str | None, every: str | None, window: str, retrain: bool, off: bool, as_json: bool
) -> None:
    """Check a deployment's traffic on a schedule, on the cluster; no DEPLOYMENT: list them.

    Without a schedule of its own a deployment follows its project's [drift] interval,
    window and retrain settings. The checks run in a detached actor on the cluster that
    `workbench serve` starts, so they go on when this terminal closes.

    \b
    Examples:
      workbench drift schedule                          # every deployment's schedule
      workbench drift schedule fraud --every 10m --window 1h
      workbench drift schedule fraud --every 1h --retrain
      workbench drift schedule fraud --off
    """
    from workbench.core.errors import InvalidInputError
    from workbench.core.settings import load_settings
    from workbench.services import drift_schedule

    settings = load_settings()
    if deployment is None:
        found = drift_schedule.schedules(settings)
        if as_json:
            emit_json([_schedule_json(s) for s in found])
        elif not found:
            console().print("no deployment is checked on a schedule", style="dim")
        else:
            print_table(
                ["DEPLOYMENT", "EVERY", "WINDOW", "RETRAIN", "FROM"],
                [
                    (
                        s.deployment,
                        str(s.interval),
                        str(s.window),
                        "yes" if s.retrain else "no",
                        s.source,
                    )
                    for s in found
                ],
            )
        return
    if off:
        cleared = drift_schedule.clear_schedule(settings, deployment)
        console().print(f"{deployment}: " + ("schedule dropped" if cleared else "had no schedule"))
        return
    if every is None:
        raise InvalidInputError("say how often: --every SPAN", "e.g. --every 10m, or --off")
    made = drift_schedule.set_schedule(
        settings, deployment, every=_window(every), window=_window(window), retrain=retrain
    )
    if as_json:
        emit_json(_schedule_json(made))
    else:
        console().print(
            f"{deployment}: checked every {made.interval} over the last "
            f"{made.window}" + (", retraining on drift" if made.retrain else "")
        )


@drift.command("run-due")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def run_due_command(as_json: bool) -> None:
    """Run every scheduled check that is due, here and now (what the scheduler does)."""
    from workbench.catalogue.catalogue import utcnow
    from workbench.core.settings import load_settings
    from workbench.services.drift_schedule import run_due_checks

    outcomes = run_due_checks(load_settings(), utcnow())
    if as_json:
        emit_json([vars(o) for o in outcomes])
        return
    if not outcomes:
        console().print("no check is due", style="dim")
    for o in outcomes:
        console().print(
            f"{o.deployment} {o.model}: {_status(o.status)} "
            f"{o.check_id or o.error}" + (f" retrain: {o.retrain_log}" if o.retrain_log else "")
        )


def _schedule_json(schedule: Any) -> dict[str, Any]:
    return {
        "deployment": schedule.deployment,
        "interval_s": schedule.interval.total_seconds(),
        "window_s": schedule.window.total_seconds(),
        "retrain": schedule.retrain,
        "source": schedule.source,
    }
