"""`workbench feedback` and `workbench quality`: delayed labels, and model quality over time."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from workbench.cli.render import Column, emit_json, print_table, short_time

if TYPE_CHECKING:
    from workbench.core.quality import QualityMetrics
    from workbench.services.quality import QualityReport


@click.command()
@click.argument("name", metavar="NAME")
@click.option(
    "--labels",
    "labels_file",
    required=True,
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="CSV or Parquet: request_id, label and optionally row_index.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def feedback(name: str, labels_file: Path, as_json: bool) -> None:
    """Attach ground-truth labels to the requests deployment NAME answered.

    Every answer carries an `x-request-id` header; a client may also choose the id by
    sending that header (1-64 of A-Z a-z 0-9 _ . : -). FILE gives one label per served
    row: `request_id`, `label` (0/1 for a binary classifier, a number for a regressor)
    and `row_index` (the row's position in its request; 0 when the column is absent).
    The file is taken whole or not at all: missing columns, labels that are not numbers,
    a repeated (request_id, row_index) or an id the deployment never served (or did not
    sample) stores nothing and exits 2. A label sent again replaces the old one.

    \b
    Examples:
      workbench feedback fraud --labels labels.csv
      workbench feedback fraud --labels day-1.parquet --json
      workbench quality fraud --since 24h --every 1h   # then watch quality over time
    """
    from workbench.core.settings import load_settings
    from workbench.services.quality import record_feedback

    result = record_feedback(load_settings(), name, labels_file)
    if as_json:
        emit_json(result.to_json())
        return
    again = f" ({result.replaced} replaced a label sent before)" if result.replaced else ""
    click.echo(f"{result.labels} labels joined to {name}'s served rows{again}")


@click.command()
@click.argument("name", metavar="NAME")
@click.option("--since", default="24h", show_default=True, help="Window: 30m, 24h, 7d, 2w.")
@click.option("--every", default="1h", show_default=True, help="Bucket width: 10m, 1h, 1d.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def quality(name: str, since: str, every: str, as_json: bool) -> None:
    """Model quality of deployment NAME over time, from labels sent with `workbench feedback`.

    Rows are bucketed by when they were served and split by model version. A binary
    classifier (labels 0/1, probability outputs) shows accuracy, ROC AUC, precision and
    recall at a 0.5 threshold on the positive-class probability; a regressor shows RMSE
    and MAE. A bucket without labelled rows says `no data`.

    \b
    Examples:
      workbench quality fraud                       # the last 24 hours, hourly
      workbench quality fraud --since 7d --every 1d
      workbench quality fraud --json | jq '.buckets[] | select(.rows > 0)'
    """
    from workbench.catalogue.catalogue import utcnow
    from workbench.core.settings import load_settings
    from workbench.services.quality import parse_duration
    from workbench.services.quality import quality as quality_report

    report = quality_report(
        load_settings(),
        name,
        now=utcnow(),
        since=parse_duration(since, "--since"),
        every=parse_duration(every, "--every"),
    )
    if as_json:
        emit_json(report.to_json())
        return
    _print_report(report)


def _print_report(report: QualityReport) -> None:
    classifier = report.kind == "classifier"
    metric_names = ["accuracy", "AUC", "precision", "recall"] if classifier else ["RMSE", "MAE"]
    columns = [Column("from (UTC)", no_wrap=True), Column("version", justify="right"),
               Column("labelled", justify="right"),
               *(Column(m, justify="right") for m in metric_names)]  # fmt: skip
    rows = []
    for bucket in report.buckets:
        version = "" if bucket.model_version is None else f"v{bucket.model_version}"
        if not bucket.metrics.rows:
            rows.append([short_time(bucket.start), version, "[dim]no data[/dim]"])
            continue
        rows.append([short_time(bucket.start), version, str(bucket.metrics.rows),
                     *_values(bucket.metrics, classifier)])  # fmt: skip
    title = f"{report.deployment}: {report.kind}, {report.total.rows} labelled rows"
    print_table(columns, rows, title=title, title_justify="left")
    if report.total.rows:
        shown = ", ".join(
            f"{n} {v}" for n, v in zip(metric_names, _values(report.total, classifier), strict=True)
        )
        click.echo(f"whole window: {shown}")
    else:
        click.echo(
            "no labelled rows in the window: send labels with `workbench feedback`", err=True
        )


def _values(metrics: QualityMetrics, classifier: bool) -> list[str]:
    chosen = (
        [metrics.accuracy, metrics.auc, metrics.precision, metrics.recall]
        if classifier
        else [metrics.rmse, metrics.mae]
    )
    return ["-" if value is None else f"{value:.4f}" for value in chosen]
