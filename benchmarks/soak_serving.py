"""Soak: a Workbench deployment at a paced request rate for minutes, every request logged.

`workbench serve fraud:1 --sample-rate 1` on a fresh `workbench cluster up` cluster; an open
loop (each request sent at its scheduled time, whether or not earlier ones have answered)
POSTs one-row requests at --rate for --minutes; every answer must be 200 with the model's
own predictions. The RSS of the Serve replica and of the catalogue owner (found by their
process titles, `ray::ServeReplica:fraud...` and `ray::CatalogueOwner`, among the processes
of this run's WORKBENCH_HOME) is sampled every few seconds; growth is judged between the end
of the warm-up and the end (the median of three samples at each point). After the load,
the requests table must hold exactly the requests sent (counted through `catalogue sql`).

    flock /tmp/bench.lock python benchmarks/soak_serving.py --minutes 10 \
        --json benchmarks/results/serving-2026-12-02/soak.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving_setup import BenchModel, cli, deploy, load_average, train_models  # noqa: E402

TITLES = {"replica": "ray::ServeReplica:fraud", "owner": "ray::CatalogueOwner"}


def find_processes(home: Path) -> dict[str, psutil.Process]:
    """The replica and owner processes of the cluster started with WORKBENCH_HOME=`home`."""
    found: dict[str, psutil.Process] = {}
    for process in psutil.process_iter(["cmdline"]):
        title = " ".join(process.info["cmdline"] or [])
        role = next((r for r, prefix in TITLES.items() if title.startswith(prefix)), None)
        if role is None:
            continue
        try:
            if process.environ().get("WORKBENCH_HOME") == str(home):
                found[role] = process
        except psutil.Error:
            continue
    return found


class MemorySampler:
    """RSS of each process every `every_s` seconds, in a thread: (elapsed s, {role: bytes})."""

    def __init__(self, processes: dict[str, psutil.Process], every_s: float = 5.0) -> None:
        self.processes, self.every_s = processes, every_s
        self.samples: list[tuple[float, dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._start = time.monotonic()

    def __enter__(self) -> MemorySampler:
        self._start = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._sample()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self._sample()

    def _sample(self) -> None:
        rss = {role: p.memory_info().rss for role, p in self.processes.items()}
        self.samples.append((time.monotonic() - self._start, rss))

    def growth(self, warmup_s: float) -> dict[str, dict[str, float]]:
        """Per role: RSS at the end of the warm-up and at the end (medians of 3), growth."""
        after = [(t, rss) for t, rss in self.samples if t >= warmup_s]
        out = {}
        for role in self.processes:
            start = statistics.median(rss[role] for _, rss in after[:3])
            end = statistics.median(rss[role] for _, rss in after[-3:])
            out[role] = {"rss_warm_mb": start / 2**20, "rss_end_mb": end / 2**20,
                         "growth": end / start - 1}  # fmt: skip
        return out


async def paced_load(url: str, model: BenchModel, headers: dict[str, str], rate: float,
                     seconds: float) -> dict[str, Any]:  # fmt: skip
    """Send a request every 1/rate s for `seconds` (open loop); check every answer."""
    import aiohttp

    expected = np.asarray(model.probe_expected[:1], dtype=float)
    failures: dict[str, int] = {}
    latencies: list[float] = []
    late: list[float] = []

    async def one(session: aiohttp.ClientSession) -> None:
        started = time.monotonic()
        try:
            async with session.post(url, data=model.body, headers=headers) as response:
                body = await response.read()
                what = "" if response.status == 200 else f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as error:
            what, body = type(error).__name__, b""
        if not what:
            got = np.asarray(json.loads(body)["predictions"], dtype=float)
            what = "" if got.shape == expected.shape and np.allclose(got, expected) else "wrong"
        latencies.append(time.monotonic() - started)
        if what:
            failures[what] = failures.get(what, 0) + 1

    connector = aiohttp.TCPConnector(limit=256)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = []
        total = int(rate * seconds)
        begin = time.monotonic()
        for index in range(total):
            due = begin + index / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            late.append(time.monotonic() - due)
            tasks.append(asyncio.ensure_future(one(session)))
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - begin
    ms = np.asarray(latencies) * 1000
    return {"sent": total, "failed": sum(failures.values()), "failures": failures,
            "achieved_rate": total / elapsed, "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max()),
            "send_lag_p99_ms": float(np.percentile(late, 99) * 1000)}  # fmt: skip


def logged_requests(home: Path) -> dict[str, int]:
    """Rows of the `fraud` deployment in the requests table, and distinct request ids."""
    query = ("SELECT count(*) AS n, count(DISTINCT request_id) AS ids FROM requests "
             "WHERE deployment_id = 'fraud'")  # fmt: skip
    row = json.loads(cli(home, "catalogue", "sql", query, "--json"))[0]
    return {"rows": int(row["n"]), "distinct_ids": int(row["ids"])}


def wait_for_count(home: Path, sent: int, timeout_s: float = 120) -> dict[str, Any]:
    """Poll the requests table until it holds `sent` rows (the replica flushes in batches)."""
    started = time.monotonic()
    while True:
        counted = logged_requests(home)
        if counted["rows"] >= sent or time.monotonic() - started > timeout_s:
            return {**counted, "flush_wait_s": time.monotonic() - started}
        time.sleep(1)


def run_soak(minutes: float, rate: float, warmup_s: float, trees: int) -> dict[str, Any]:
    """The whole soak in a fresh home; the figures and the verdicts."""
    work = Path(tempfile.mkdtemp(prefix="soak-serving-"))
    home = work / "home"
    model = train_models(home, work, trees)["forest"]
    result: dict[str, Any] = {"minutes": minutes, "rate": rate, "warmup_s": warmup_s,
                              "load_avg_start": load_average()}  # fmt: skip
    cli(home, "cluster", "up", "--cpus", "2")
    try:
        url, headers = deploy(home, "fraud:1", "--sample-rate", "1")
        processes = find_processes(home)
        if set(processes) != set(TITLES):
            raise SystemExit(f"found {sorted(processes)} of {sorted(TITLES)} processes")
        result["pids"] = {role: p.pid for role, p in processes.items()}
        with MemorySampler(processes) as memory:
            result["load"] = asyncio.run(paced_load(url, model, headers, rate, minutes * 60))
        result["memory"] = memory.growth(warmup_s)
        result["memory_samples"] = [{"t": round(t, 1), **{k: v / 2**20 for k, v in rss.items()}}
                                    for t, rss in memory.samples]  # fmt: skip
        result["catalogue"] = wait_for_count(home, result["load"]["sent"])
        time.sleep(3)  # nothing more may arrive: a later flush would show duplicates
        result["catalogue"]["rows_after_3s"] = logged_requests(home)["rows"]
    finally:
        cli(home, "cluster", "down")
        shutil.rmtree(work, ignore_errors=True)
    result["load_avg_end"] = load_average()
    sent = result["load"]["sent"]
    catalogue = result["catalogue"]
    result["checks"] = {
        "zero failed requests": result["load"]["failed"] == 0,
        "requests table holds exactly the requests sent": catalogue["rows"] == sent
        and catalogue["distinct_ids"] == sent and catalogue["rows_after_3s"] == sent,
        "memory growth < 5% after warm-up": all(m["growth"] < 0.05
                                                for m in result["memory"].values()),
    }  # fmt: skip
    return result


def main() -> None:
    """Parse arguments, soak, print the figures (and write them with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=200, help="requests per second")
    parser.add_argument("--warmup", type=float, default=60, help="seconds before memory counts")
    parser.add_argument("--trees", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    result = run_soak(args.minutes, args.rate, args.warmup, args.trees)
    shown = {k: v for k, v in result.items() if k != "memory_samples"}
    print(json.dumps(shown, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if not all(result["checks"].values()):
        raise SystemExit(
            "soak failed: " + ", ".join(k for k, ok in result["checks"].items() if not ok)
        )


if __name__ == "__main__":
    main()
