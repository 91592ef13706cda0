"""The peers of bench_serving.py at their best, and wrk with a Lua script that checks bodies.

- bare Ray Serve, batched: `@serve.batch` at Workbench's max batch size and wait, the model
  called on the replica's loop (as Workbench does); unbatched: a plain deployment.
- FastAPI on uvicorn, one worker: the same parsing and estimator.
- `mlflow models serve --env-manager local` (one uvicorn worker, its default).

Every wrk run counts non-2xx answers and 2xx answers whose body differs from the body the
server gave for the same request in its correctness probe (see serving_setup.probe).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BARE_SERVE = """
import pandas as pd
import mlflow.sklearn
from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse

BATCH = {batch}

@serve.deployment(max_ongoing_requests=64, ray_actor_options={{"num_cpus": 0.5}})
class Bare:
    def __init__(self, model_dir):
        self.model = mlflow.sklearn.load_model(model_dir)

    async def __call__(self, request: Request):
        split = (await request.json())["dataframe_split"]
        frame = pd.DataFrame(split["data"], columns=split["columns"])
        if BATCH > 1:
            return JSONResponse({{"predictions": await self.batched(frame)}})
        return JSONResponse({{"predictions": self.model.predict_proba(frame).tolist()}})

    @serve.batch(max_batch_size=max(BATCH, 1), batch_wait_timeout_s={wait_s})
    async def batched(self, frames):
        scores = self.model.predict_proba(pd.concat(frames, ignore_index=True)).tolist()
        out, start = [], 0
        for frame in frames:
            out.append(scores[start : start + len(frame)])
            start += len(frame)
        return out
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

CHECKING_LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0; wrong = 0; expected = {expected} end
function response(status, headers, body)
  if status < 200 or status > 299 then bad = bad + 1
  elseif not expected[body] then wrong = wrong + 1 end
end
function done(summary, latency, requests)
  local b, w = 0, 0
  for _, t in ipairs(threads) do b = b + t:get("bad"); w = w + t:get("wrong") end
  io.write(string.format("BENCH_ERRORS non_2xx=%d wrong_body=%d\\n", b, w))
end
"""


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lua_string(text: str) -> str:
    """`text` as a Lua long-bracket literal that cannot end early."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def wrk_script(body: bytes, headers: dict[str, str], expected: list[bytes]) -> Path:
    """A wrk script that POSTs `body` and counts non-2xx and unexpected bodies."""
    table = "{" + ", ".join(f"[ {lua_string(b.decode())} ] = true" for b in expected) + "}"
    lines = ['wrk.method = "POST"', f"wrk.body = {lua_string(body.decode())}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    fd, name = tempfile.mkstemp(suffix=".lua")
    os.close(fd)
    script = Path(name)
    script.write_text("\n".join(lines) + CHECKING_LUA.replace("{expected}", table))
    return script


def wrk(url: str, script: Path, connections: int, seconds: float) -> dict[str, float]:
    """One wrk run pinned to core 1: requests/s, p50/p99 ms, requests, non-2xx, wrong bodies."""
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s",
               "--latency", "-s", str(script), url]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def parse_wrk(out: str) -> dict[str, float]:
    """The figures of one wrk report printed with --latency and the checking script."""
    figures = {"rps": float(_find(r"Requests/sec:\s+([\d.]+)", out)[0]),
               "requests": float(_find(r"(\d+) requests in", out)[0])}  # fmt: skip
    for label, key in (("50%", "p50_ms"), ("99%", "p99_ms")):
        value, unit = _find(rf"{label}\s+([\d.]+)(us|ms|s)", out)
        figures[key] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    non_2xx, wrong = _find(r"BENCH_ERRORS non_2xx=(\d+) wrong_body=(\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    figures["non_2xx"], figures["wrong_body"] = float(non_2xx), float(wrong)
    figures["socket_errors"] = (
        float(sum(map(int, socket_errors.groups()))) if socket_errors else 0.0
    )
    return figures


def _find(pattern: str, text: str) -> tuple[str, ...]:
    found = re.search(pattern, text)
    if found is None:
        raise RuntimeError(f"wrk output lacks {pattern!r}:\n{text}")
    return found.groups()


def start_process(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a server in its own session, output discarded."""
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's session, SIGKILL after 20 s."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


def uvicorn_server(model_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """FastAPI on uvicorn, one worker, for `model_dir`; the process and its URL."""
    app_dir = Path(tempfile.mkdtemp(prefix="bench-uvicorn-"))
    (app_dir / "plain_app.py").write_text(PLAIN_FASTAPI)
    port = free_port()
    env = {**os.environ, "BENCH_MODEL_DIR": str(model_dir)}
    process = start_process([sys.executable, "-m", "uvicorn", "--app-dir", str(app_dir),
                             "plain_app:app", "--port", str(port), "--log-level", "warning",
                             "--no-access-log"], env)  # fmt: skip
    return process, f"http://127.0.0.1:{port}/invocations"


def mlflow_server(model_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`mlflow models serve --env-manager local` for `model_dir`; the process and its URL."""
    port = free_port()
    command = ["mlflow", "models", "serve", "-m", str(model_dir), "-p", str(port),
               "-h", "127.0.0.1", "--env-manager", "local"]  # fmt: skip
    process = start_process(command, dict(os.environ))
    return process, f"http://127.0.0.1:{port}/invocations"


def bare_serve(home: Path, apps: dict[str, tuple[Path, int, float]]) -> dict[str, str]:
    """Deploy bare Serve apps on the Workbench cluster of `home`: name -> (model dir, max
    batch size (1: no @serve.batch), batch wait s); returns each app's URL."""
    profile: dict[str, Any] = json.loads((home / "cluster.json").read_text())
    code_dir = Path(tempfile.mkdtemp(prefix="bench-bare-"))
    runs = []
    for name, (model_dir, batch, wait_s) in apps.items():
        (code_dir / f"bare_{name}.py").write_text(BARE_SERVE.format(batch=batch, wait_s=wait_s))
        runs.append(f"import bare_{name}\nserve.run(bare_{name}.Bare.bind({str(model_dir)!r}), "
                    f"name='bare_{name}', route_prefix='/bare_{name}')")  # fmt: skip
    driver = f"""
import os, sys
os.environ["RAY_AUTH_MODE"] = "token"
import ray
sys.path.insert(0, {str(code_dir)!r})
ray.init(address={profile["address"]!r}, logging_level="ERROR",
         runtime_env={{"working_dir": {str(code_dir)!r}}})
from ray import serve
""" + "\n".join(runs)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    subprocess.run([sys.executable, "-c", driver], env=env, check=True, capture_output=True)
    return {name: f"http://127.0.0.1:{profile['serve_port']}/bare_{name}" for name in apps}
