"""Serving benchmark: the fraud model served four ways in one run, measured with wrk.

1. Workbench: `workbench serve` on a `workbench cluster up` cluster (HAProxy ingress when
   available, token auth on, request logging on, dynamic batching up to 32).
2. Bare Ray Serve on the same cluster and ingress: a plain deployment that parses JSON with
   pandas and calls the same estimator.
3. Plain FastAPI on uvicorn (one process): the same parsing and estimator.
4. `mlflow models serve --env-manager local` on the same model directory.

Each server gets a warm-up, then `taskset -c 1 wrk -t1 -c1` (p50/p99) and `-c32`
(requests/s). A fifth line, Workbench with `--max-batch-size 1`, gives the batching gain.
Files and the cluster live in a temporary WORKBENCH_HOME. Needs `wrk` (Debian package).

    python benchmarks/bench_serving.py --json /tmp/bench_serving.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "sample_projects" / "fraud_detection"

BARE_SERVE = """
import json, sys
import pandas as pd
import mlflow.sklearn
from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse

@serve.deployment(max_ongoing_requests=64, ray_actor_options={"num_cpus": 0.5})
class Bare:
    def __init__(self, model_dir):
        self.model = mlflow.sklearn.load_model(model_dir)

    async def __call__(self, request: Request):
        split = (await request.json())["dataframe_split"]
        frame = pd.DataFrame(split["data"], columns=split["columns"])
        return JSONResponse({"predictions": self.model.predict_proba(frame).tolist()})
"""

PLAIN_FASTAPI = """
import os
import pandas as pd
import mlflow.sklearn
from fastapi import FastAPI, Request

model = mlflow.sklearn.load_model(os.environ["BENCH_MODEL_DIR"])
app = FastAPI()

@app.post("/invocations")
async def invocations(request: Request):
    split = (await request.json())["dataframe_split"]
    frame = pd.DataFrame(split["data"], columns=split["columns"])
    return {"predictions": model.predict_proba(frame).tolist()}
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(home: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["WORKBENCH_HOME"] = str(home)
    result = subprocess.run([sys.executable, "-m", "workbench.cli", *args], env=env,
                            capture_output=True, text=True, check=False)  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"workbench {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def train(home: Path, work: Path, trees: int) -> tuple[Path, bytes]:
    """Train the fraud model (sample project steps), register it as fraud:1; one-row body."""
    sys.path.insert(0, str(PROJECT))
    sys.path.insert(0, str(ROOT))
    from tests.fixtures.models import holdout_rows, register_fraud, train_fraud_model
    from workbench.catalogue import Catalogue
    from workbench.catalogue.duckdb_backend import DuckDBBackend
    from workbench.core.settings import load_settings

    model_dir = train_fraud_model(work, n_estimators=trees)
    settings = load_settings(home)
    settings.home.mkdir(parents=True, exist_ok=True)
    catalogue = Catalogue(DuckDBBackend(settings.catalogue_path))
    register_fraud(catalogue, model_dir)
    catalogue.close()
    row = holdout_rows(work, 1)
    body = json.dumps({"dataframe_split": json.loads(row.to_json(orient="split", index=False))})
    return model_dir, body.encode()


def wait_ready(url: str, body: bytes, headers: dict[str, str], timeout: float = 120) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = requests.post(url, data=body, headers=headers, timeout=5)
            if response.status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not answer 200 within {timeout:g} s")


def wrk(
    url: str, body: bytes, headers: dict[str, str], connections: int, seconds: int
) -> dict[str, float]:
    """One wrk run pinned to core 1: requests/s, p50 and p99 in ms, non-2xx count."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body.decode())}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    script.write_text("\n".join(lines) + "\n")
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
               "--latency", "-s", str(script), url]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    script.unlink()
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for label, key in (("50%", "p50_ms"), ("99%", "p99_ms")):
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        figures[key] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    figures["non_2xx"] = float(errors.group(1)) if errors else 0.0
    return figures


def measure(
    name: str, url: str, body: bytes, headers: dict[str, str], seconds: int
) -> dict[str, Any]:
    log(f"== {name}: {url}")
    wait_ready(url, body, headers)
    wrk(url, body, headers, 8, 3)  # warm-up, then a quiet second so queues drain
    time.sleep(1)
    wrk(url, body, headers, 1, 3)
    c1 = wrk(url, body, headers, 1, seconds)
    c32 = wrk(url, body, headers, 32, seconds)
    row = {"server": name, "p50_ms_c1": c1["p50_ms"], "p99_ms_c1": c1["p99_ms"],
           "rps_c32": c32["rps"], "non_2xx": c1["non_2xx"] + c32["non_2xx"]}  # fmt: skip
    log(
        f"   p50 {row['p50_ms_c1']:.2f} ms, p99 {row['p99_ms_c1']:.2f} ms, "
        f"{row['rps_c32']:.0f} req/s"
    )
    return row


def start_process(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip


def stop_process(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def bare_serve(home: Path, model_dir: Path) -> str:
    """Deploy the bare Serve app on the Workbench cluster; returns its URL."""
    profile = json.loads((home / "cluster.json").read_text())
    code = Path(tempfile.mkdtemp()) / "bare_app.py"
    code.write_text(BARE_SERVE)
    driver = f"""
import os, sys
os.environ["RAY_AUTH_MODE"] = "token"
import ray
sys.path.insert(0, {str(code.parent)!r})
ray.init(address={profile["address"]!r}, logging_level="ERROR",
         runtime_env={{"working_dir": {str(code.parent)!r}}})
from ray import serve
import bare_app
serve.run(bare_app.Bare.bind({str(model_dir)!r}), name="bare", route_prefix="/bare")
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    subprocess.run([sys.executable, "-c", driver], env=env, check=True, capture_output=True)
    return f"http://127.0.0.1:{profile['serve_port']}/bare"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=int, default=20, help="forest size of the fraud model")
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per measurement")
    parser.add_argument("--settle", type=int, default=30, help="seconds to wait after deploying")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    home = work / "home"
    log(f"training the fraud model ({args.trees} trees) in {work}")
    model_dir, body = train(home, work / "model", args.trees)
    json_headers = {"Content-Type": "application/json"}
    rows: list[dict[str, Any]] = []
    cli(home, "cluster", "up", "--cpus", "2")
    try:
        ingress = json.loads((home / "cluster.json").read_text())["serve_ingress"]
        summary = json.loads(cli(home, "serve", "fraud:1", "--json"))
        token = (home / "tokens" / "fraud.token").read_text().strip()
        auth = {**json_headers, "Authorization": f"Bearer {token}"}
        bare = bare_serve(home, model_dir)
        # A fresh cluster's agents keep a core busy for a while: let them settle first.
        time.sleep(args.settle)
        rows.append(measure("bare ray serve", bare, body, json_headers, args.seconds))
        rows.append(measure("workbench", f"{summary['url']}/invocations", body, auth, args.seconds))
        cli(home, "serve", "fraud:1", "--max-batch-size", "1")
        rows.append(measure("workbench, batch size 1", f"{summary['url']}/invocations", body, auth,
                            args.seconds))  # fmt: skip
    finally:
        cli(home, "cluster", "down")

    env = {**os.environ, "BENCH_MODEL_DIR": str(model_dir)}
    app_dir = Path(tempfile.mkdtemp())
    (app_dir / "plain_app.py").write_text(PLAIN_FASTAPI)
    port = free_port()
    server = start_process([sys.executable, "-m", "uvicorn", "--app-dir", str(app_dir),
                            "plain_app:app", "--port", str(port), "--log-level", "warning",
                            "--no-access-log"], env)  # fmt: skip
    try:
        rows.append(measure("plain fastapi on uvicorn", f"http://127.0.0.1:{port}/invocations",
                            body, json_headers, args.seconds))  # fmt: skip
    finally:
        stop_process(server)
    port = free_port()
    server = start_process(["mlflow", "models", "serve", "-m", str(model_dir), "-p", str(port),
                            "-h", "127.0.0.1", "--env-manager", "local"], env)  # fmt: skip
    try:
        rows.append(measure("mlflow models serve", f"http://127.0.0.1:{port}/invocations", body,
                            json_headers, args.seconds))  # fmt: skip
    finally:
        stop_process(server)
    shutil.rmtree(work, ignore_errors=True)
    report(rows, ingress, args)


def report(rows: list[dict[str, Any]], ingress: str, args: argparse.Namespace) -> None:
    by = {row["server"]: row for row in rows}
    wb, bare = by["workbench"], by["bare ray serve"]
    uvicorn, mlflow = by["plain fastapi on uvicorn"], by["mlflow models serve"]
    ratios = {
        "workbench / uvicorn requests/s (target >= 0.8)": wb["rps_c32"] / uvicorn["rps_c32"],
        "workbench p50 - uvicorn p50, ms (target <= 1.0)": wb["p50_ms_c1"] - uvicorn["p50_ms_c1"],
        "workbench / mlflow requests/s (target >= 10)": wb["rps_c32"] / mlflow["rps_c32"],
        "workbench / bare serve requests/s (target >= 1)": wb["rps_c32"] / bare["rps_c32"],
        "batching gain: batch 32 / batch 1 requests/s": wb["rps_c32"]
        / by["workbench, batch size 1"]["rps_c32"],
    }
    print(f"ingress: {ingress}; model: fraud pipeline, {args.trees} trees; one-row JSON requests")
    print(f"{'server':<28} {'p50 c=1':>10} {'p99 c=1':>10} {'req/s c=32':>11} {'non-2xx':>8}")
    for row in rows:
        print(f"{row['server']:<28} {row['p50_ms_c1']:>8.2f}ms {row['p99_ms_c1']:>8.2f}ms "
              f"{row['rps_c32']:>11.0f} {row['non_2xx']:>8.0f}")  # fmt: skip
    for label, value in ratios.items():
        print(f"{label}: {value:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "ratios": ratios, "ingress": ingress,
                                         "trees": args.trees}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
