"""Schema as named migrations, applied once each and recorded in `migrations`.

Append new migrations to MIGRATIONS; never edit or reorder one that has shipped.
A catalogue holding a migration this list does not know was written by a newer
Workbench and is refused rather than misread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Migration(NamedTuple):
    """A named schema step: statements run in one transaction."""

    name: str
    statements: Sequence[str]


_INITIAL = [
    """CREATE TABLE projects (
        name VARCHAR PRIMARY KEY,
        root VARCHAR,
        spec JSON,
        created_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE runs (
        run_id VARCHAR PRIMARY KEY,
        project VARCHAR NOT NULL,
        name VARCHAR,
        kind VARCHAR NOT NULL DEFAULT 'run',
        parent_run_id VARCHAR,
        pipeline_run_id VARCHAR,
        status VARCHAR NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 1,
        created_at TIMESTAMP NOT NULL,
        started_at TIMESTAMP,
        ended_at TIMESTAMP,
        heartbeat_at TIMESTAMP,
        git_commit VARCHAR,
        git_dirty BOOLEAN,
        data_fingerprint VARCHAR,
        environment JSON,
        cluster_id VARCHAR,
        nodes JSON,
        error VARCHAR,
        traceback VARCHAR
    )""",
    """CREATE TABLE params (
        run_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        value VARCHAR,
        PRIMARY KEY (run_id, key)
    )""",
    """CREATE TABLE tags (
        run_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        value VARCHAR,
        PRIMARY KEY (run_id, key)
    )""",
    # Long format, no index: appends must stay as fast as DuckDB can go.
    """CREATE TABLE metrics (
        run_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        step BIGINT NOT NULL,
        timestamp TIMESTAMP NOT NULL,
        value DOUBLE,
        attempt INTEGER NOT NULL DEFAULT 1
    )""",
    # Maintained on every metric write so search and sort never scan history.
    """CREATE TABLE latest_metrics (
        run_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        step BIGINT NOT NULL,
        timestamp TIMESTAMP NOT NULL,
        value DOUBLE,
        PRIMARY KEY (run_id, key)
    )""",
    """CREATE TABLE artifacts (
        run_id VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        kind VARCHAR,
        uri VARCHAR NOT NULL,
        size_bytes BIGINT,
        sha256 VARCHAR,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (run_id, path)
    )""",
    """CREATE TABLE model_versions (
        name VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        run_id VARCHAR,
        uri VARCHAR NOT NULL,
        sha256 VARCHAR,
        flavor VARCHAR,
        signature JSON,
        gate JSON,
        description VARCHAR,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (name, version)
    )""",
    """CREATE TABLE model_aliases (
        name VARCHAR NOT NULL,
        alias VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        updated_at TIMESTAMP NOT NULL,
        PRIMARY KEY (name, alias)
    )""",
    """CREATE TABLE deployments (
        deployment_id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        model_name VARCHAR NOT NULL,
        model_version INTEGER NOT NULL,
        route_prefix VARCHAR,
        url VARCHAR,
        status VARCHAR NOT NULL,
        config JSON,
        created_at TIMESTAMP NOT NULL,
        updated_at TIMESTAMP
    )""",
    """CREATE TABLE requests (
        deployment_id VARCHAR NOT NULL,
        request_id VARCHAR NOT NULL,
        ts TIMESTAMP NOT NULL,
        model_version INTEGER,
        status_code INTEGER,
        latency_ms DOUBLE,
        inputs JSON,
        outputs JSON,
        shadow_outputs JSON
    )""",
    """CREATE TABLE drift_profiles (
        profile_id VARCHAR PRIMARY KEY,
        model_name VARCHAR,
        model_version INTEGER,
        source VARCHAR,
        created_at TIMESTAMP NOT NULL,
        profile JSON
    )""",
    """CREATE TABLE drift_checks (
        check_id VARCHAR PRIMARY KEY,
        profile_id VARCHAR,
        model_name VARCHAR,
        model_version INTEGER,
        window_start TIMESTAMP,
        window_end TIMESTAMP,
        created_at TIMESTAMP NOT NULL,
        drifted BOOLEAN,
        summary JSON
    )""",
    """CREATE TABLE drift_results (
        check_id VARCHAR NOT NULL,
        feature VARCHAR NOT NULL,
        statistic VARCHAR NOT NULL,
        value DOUBLE,
        threshold DOUBLE,
        drifted BOOLEAN
    )""",
    """CREATE TABLE resource_samples (
        ts TIMESTAMP NOT NULL,
        node_id VARCHAR NOT NULL,
        run_id VARCHAR,
        cpu_percent DOUBLE,
        mem_used_bytes BIGINT,
        mem_total_bytes BIGINT,
        gpu_index INTEGER,
        gpu_util_percent DOUBLE,
        gpu_mem_used_bytes BIGINT,
        gpu_mem_total_bytes BIGINT,
        gpu_power_w DOUBLE
    )""",
    """CREATE TABLE pipeline_runs (
        run_id VARCHAR NOT NULL,
        step VARCHAR NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 1,
        status VARCHAR NOT NULL,
        cached BOOLEAN NOT NULL DEFAULT false,
        cache_key VARCHAR,
        started_at TIMESTAMP,
        ended_at TIMESTAMP,
        error VARCHAR,
        PRIMARY KEY (run_id, step, attempt)
    )""",
    # Append-only: Workbench inserts here and never updates or deletes. Ids are assigned by
    # the single writer as max + 1 (no sequence, so an import keeps its ids and later ones follow).
    """CREATE TABLE audit_events (
        event_id BIGINT PRIMARY KEY,
        ts TIMESTAMP NOT NULL,
        actor VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        target VARCHAR,
        reason VARCHAR,
        details JSON
    )""",
]

_PIPELINES = [
    # The registration gate's verdict, and who drives the run (host, pid, job id) for cancel.
    "ALTER TABLE runs ADD COLUMN gate JSON",
    "ALTER TABLE runs ADD COLUMN driver JSON",
    # Where each output of a finished step lives, and the metrics it returned:
    # what caching and --resume reuse.
    "ALTER TABLE pipeline_runs ADD COLUMN outputs JSON",
    "ALTER TABLE pipeline_runs ADD COLUMN metrics JSON",
]

# Telemetry (issue 11): full-resolution node and GPU samples, and their 1-minute aggregates
# (mean and max of each reading, weighted merges by `samples`). The owner compacts samples
# older than an hour into the aggregates. `resource_samples` from 0001 stays unused: one row
# per GPU with the node's readings repeated cannot hold per-core CPU, swap, rates or GPU
# errors, and a node without a GPU would need a NULL-GPU row.
_TELEMETRY = [
    """CREATE TABLE telemetry_nodes (
        ts TIMESTAMP NOT NULL,
        node_id VARCHAR NOT NULL,
        hostname VARCHAR,
        cpu_percent DOUBLE,
        cpu_per_core DOUBLE[],
        load_1m DOUBLE,
        load_5m DOUBLE,
        load_15m DOUBLE,
        mem_used_bytes BIGINT,
        mem_total_bytes BIGINT,
        swap_used_bytes BIGINT,
        swap_total_bytes BIGINT,
        disk_read_bps DOUBLE,
        disk_write_bps DOUBLE,
        net_recv_bps DOUBLE,
        net_sent_bps DOUBLE,
        gpu_note VARCHAR
    )""",
    """CREATE TABLE telemetry_gpus (
        ts TIMESTAMP NOT NULL,
        node_id VARCHAR NOT NULL,
        gpu_index INTEGER NOT NULL,
        uuid VARCHAR,
        name VARCHAR,
        utilization_percent DOUBLE,
        memory_used_bytes BIGINT,
        memory_total_bytes BIGINT,
        temperature_c DOUBLE,
        power_w DOUBLE,
        power_limit_w DOUBLE,
        sm_clock_mhz INTEGER,
        memory_clock_mhz INTEGER,
        error VARCHAR
    )""",
    """CREATE TABLE telemetry_nodes_1m (
        minute TIMESTAMP NOT NULL,
        node_id VARCHAR NOT NULL,
        hostname VARCHAR,
        samples INTEGER NOT NULL,
        cpu_percent_mean DOUBLE, cpu_percent_max DOUBLE,
        load_1m_mean DOUBLE, load_1m_max DOUBLE,
        mem_used_bytes_mean DOUBLE, mem_used_bytes_max BIGINT,
        mem_total_bytes BIGINT,
        swap_used_bytes_mean DOUBLE, swap_used_bytes_max BIGINT,
        swap_total_bytes BIGINT,
        disk_read_bps_mean DOUBLE, disk_read_bps_max DOUBLE,
        disk_write_bps_mean DOUBLE, disk_write_bps_max DOUBLE,
        net_recv_bps_mean DOUBLE, net_recv_bps_max DOUBLE,
        net_sent_bps_mean DOUBLE, net_sent_bps_max DOUBLE,
        PRIMARY KEY (minute, node_id)
    )""",
    """CREATE TABLE telemetry_gpus_1m (
        minute TIMESTAMP NOT NULL,
        node_id VARCHAR NOT NULL,
        gpu_index INTEGER NOT NULL,
        uuid VARCHAR,
        name VARCHAR,
        samples INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        utilization_percent_mean DOUBLE, utilization_percent_max DOUBLE,
        memory_used_bytes_mean DOUBLE, memory_used_bytes_max BIGINT,
        memory_total_bytes BIGINT,
        temperature_c_mean DOUBLE, temperature_c_max DOUBLE,
        power_w_mean DOUBLE, power_w_max DOUBLE,
        power_limit_w DOUBLE,
        sm_clock_mhz_mean DOUBLE, sm_clock_mhz_max INTEGER,
        memory_clock_mhz_mean DOUBLE, memory_clock_mhz_max INTEGER,
        PRIMARY KEY (minute, node_id, gpu_index)
    )""",
]


# Issue 11: samples of attributed processes (a run's or a deployment's Ray workers), each
# run's resources and cost, and alerts such as a GPU a run holds but leaves idle.
_RUN_RESOURCES = [
    """CREATE TABLE telemetry_processes (
        ts TIMESTAMP NOT NULL,
        node_id VARCHAR NOT NULL,
        pid INTEGER NOT NULL,
        run_id VARCHAR,
        deployment VARCHAR,
        cpu_percent DOUBLE,
        rss_bytes BIGINT,
        gpu_uuid VARCHAR,
        gpu_memory_bytes BIGINT,
        gpu_utilization_percent DOUBLE
    )""",
    "CREATE INDEX telemetry_processes_run ON telemetry_processes (run_id)",
    """CREATE TABLE run_resources (
        run_id VARCHAR PRIMARY KEY,
        updated_at TIMESTAMP NOT NULL,
        final BOOLEAN NOT NULL,
        samples BIGINT NOT NULL,
        cpu_hours DOUBLE NOT NULL,
        gpu_hours DOUBLE NOT NULL,
        peak_rss_bytes BIGINT,
        peak_gpu_memory_bytes BIGINT,
        cost DOUBLE NOT NULL
    )""",
    """CREATE TABLE run_alerts (
        run_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        node_id VARCHAR NOT NULL,
        gpu_uuid VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL,
        ended_at TIMESTAMP NOT NULL,
        detail VARCHAR NOT NULL,
        PRIMARY KEY (run_id, kind, node_id, gpu_uuid, started_at)
    )""",
]


# Issue 12: drift. Served request rows as columns (one list of numbers and one of texts per
# row, named by a layout), so a window of a million rows reaches a check as arrays, not as a
# million JSON strings; delayed labels joined by request id; a profile's features typed (its
# quantiles and histograms as lists); per-feature results with their status and shares.
_DRIFT = [
    """CREATE TABLE request_layouts (
        layout VARCHAR PRIMARY KEY,
        numeric VARCHAR[] NOT NULL,
        categorical VARCHAR[] NOT NULL
    )""",
    """CREATE TABLE request_rows (
        deployment_id VARCHAR NOT NULL,
        request_id VARCHAR NOT NULL,
        row_index INTEGER NOT NULL,
        ts TIMESTAMP NOT NULL,
        model_version INTEGER,
        layout VARCHAR NOT NULL,
        numbers DOUBLE[],
        texts VARCHAR[],
        outputs DOUBLE[]
    )""",
    """CREATE TABLE feedback (
        deployment_id VARCHAR NOT NULL,
        request_id VARCHAR NOT NULL,
        row_index INTEGER NOT NULL,
        label DOUBLE NOT NULL,
        received_at TIMESTAMP NOT NULL,
        PRIMARY KEY (deployment_id, request_id, row_index)
    )""",
    """CREATE TABLE drift_profile_features (
        profile_id VARCHAR NOT NULL,
        feature VARCHAR NOT NULL,
        position INTEGER NOT NULL,
        kind VARCHAR NOT NULL,
        count BIGINT NOT NULL,
        missing BIGINT NOT NULL,
        edges DOUBLE[],
        histogram BIGINT[],
        quantiles DOUBLE[],
        categories VARCHAR[],
        frequencies BIGINT[],
        stats JSON,
        PRIMARY KEY (profile_id, feature)
    )""",
    "ALTER TABLE drift_profiles ADD COLUMN run_id VARCHAR",
    "ALTER TABLE drift_checks ADD COLUMN deployment VARCHAR",
    "ALTER TABLE drift_checks ADD COLUMN source VARCHAR",
    "ALTER TABLE drift_checks ADD COLUMN status VARCHAR",
    "ALTER TABLE drift_checks ADD COLUMN drift_share DOUBLE",
    "ALTER TABLE drift_checks ADD COLUMN reference_rows BIGINT",
    "ALTER TABLE drift_checks ADD COLUMN current_rows BIGINT",
    "ALTER TABLE drift_results ADD COLUMN kind VARCHAR",
    "ALTER TABLE drift_results ADD COLUMN status VARCHAR",
    "ALTER TABLE drift_results ADD COLUMN p_value DOUBLE",
    "ALTER TABLE drift_results ADD COLUMN primary_method BOOLEAN",
    "ALTER TABLE drift_results ADD COLUMN reference_missing DOUBLE",
    "ALTER TABLE drift_results ADD COLUMN current_missing DOUBLE",
    "ALTER TABLE drift_results ADD COLUMN unseen_share DOUBLE",
    "ALTER TABLE drift_results ADD COLUMN message VARCHAR",
    """CREATE TABLE drift_schedules (
        deployment VARCHAR PRIMARY KEY,
        interval_s INTEGER NOT NULL,
        window_s INTEGER NOT NULL,
        retrain BOOLEAN NOT NULL,
        updated_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE drift_histograms (
        check_id VARCHAR NOT NULL,
        feature VARCHAR NOT NULL,
        labels VARCHAR[] NOT NULL,
        reference DOUBLE[] NOT NULL,
        current DOUBLE[] NOT NULL,
        PRIMARY KEY (check_id, feature)
    )""",
]

MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_initial", _INITIAL),
    Migration("0002_pipelines", _PIPELINES),
    Migration("0003_telemetry", _TELEMETRY),
    Migration("0004_run_resources", _RUN_RESOURCES),
    Migration("0005_drift", _DRIFT),
)

MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS migrations (
    name VARCHAR PRIMARY KEY,
    applied_at TIMESTAMP NOT NULL
)"""

# Every table a catalogue holds, in an order that import can follow.
TABLES: tuple[str, ...] = (
    "migrations",
    "projects",
    "runs",
    "params",
    "tags",
    "metrics",
    "latest_metrics",
    "artifacts",
    "model_versions",
    "model_aliases",
    "deployments",
    "requests",
    "drift_profiles",
    "drift_checks",
    "drift_results",
    "drift_profile_features",
    "drift_histograms",
    "drift_schedules",
    "request_layouts",
    "request_rows",
    "feedback",
    "resource_samples",
    "pipeline_runs",
    "audit_events",
    # A run's resources and GPU-idle alerts (issue 11): part of the run's record.
    "run_resources",
    "run_alerts",
)

# Telemetry samples are operational history: an export holds them only when asked
# (`catalogue export --telemetry`; a day of 1 Hz samples dwarfs the record of runs and models).
TELEMETRY_TABLES: tuple[str, ...] = (
    "telemetry_nodes",
    "telemetry_gpus",
    "telemetry_nodes_1m",
    "telemetry_gpus_1m",
    "telemetry_processes",
)
OPTIONAL_TABLES: frozenset[str] = frozenset({"run_resources", "run_alerts", *TELEMETRY_TABLES})
"""Tables an import does without: older exports lack the first two, most exports the rest."""


def known_migrations() -> list[str]:
    """Names of the migrations this version of Workbench knows, in order."""
    return [m.name for m in MIGRATIONS]
