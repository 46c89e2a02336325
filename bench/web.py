"""Web benchmark: requests/s of the search page, served by uvicorn on the demo corpus.

    .venv/bin/python bench/web.py                         # minilm hybrid search, 20 s of wrk load
    .venv/bin/python bench/web.py --embedder none         # BM25 only (no model installed)
    .venv/bin/python bench/web.py --embedder static --static-model-path ~/.local/share/paperfeed/models/static
    nice -n 10 .venv/bin/python bench/web.py --duration 30 --connections 32 --json

Setup, in a fresh data folder: open the store and seed the demo corpus, then build the search indexes once
(``Searcher.refresh``: lexical and, unless ``--embedder none``, dense), exactly what ``paperfeed serve`` and
``paperfeed index`` do. Then it starts ``paperfeed serve`` (the real command: uvicorn, access log on) as a
subprocess and loads ``GET /search?q=...`` with `wrk <https://github.com/wg/wrk>`_ (``apt-get install wrk``;
small and written in C, so the load tool takes little of the CPU it shares with the server). Queries rotate
over ``--queries`` distinct two-word queries drawn from the demo titles, more than the query-vector cache
holds, so every request runs a real search (parse, BM25, query embedding, fusion, hydration, template).
Without wrk it falls back to an asyncio httpx client (which costs the server more CPU, so it reads lower).

It prints requests/s, latency percentiles, non-2xx responses, the load average before and after, and the
server's CPU time per request (user + system, from /proc, workers included). On a shared machine the
requests/s depend on what else runs (compare only at a similar load); CPU time per request does not, and
``requests per server CPU-second`` is what one core that serves nothing else sustains.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.ingest.demo import DEMO_PATH, seed_demo_if_empty  # noqa: E402
from paperfeed.search.analyze import STOP_WORDS  # noqa: E402
from paperfeed.search.factory import make_searcher  # noqa: E402
from paperfeed.store.db import open_store  # noqa: E402

# Lucene's stop words (the index's) and the filler words of titles: what stays makes a query worth timing.
_STOP = STOP_WORDS | {"can", "do", "from", "its", "our", "through", "towards", "using", "via", "we", "without"}


def make_queries(n: int, seed: int = 7) -> list[str]:
    """``n`` distinct two-word queries from the demo titles (deterministic)."""
    words: list[str] = []
    for line in DEMO_PATH.read_text(encoding="utf-8").splitlines():
        title = json.loads(line).get("title", "")
        words += [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z-]{2,}", title) if w.lower() not in _STOP]
    vocab = sorted(set(words))
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        out.add(f"{rng.choice(vocab)} {rng.choice(vocab)}")
    return sorted(out)


def prepare(data_dir: Path, embedder: str, static_model_path: str = "") -> dict[str, str]:
    """Seed and index a fresh store; returns the environment for the server."""
    env = {
        **os.environ,
        "PAPERFEED_DATA_DIR": str(data_dir),
        "PAPERFEED_EMBEDDER": embedder,
        "PAPERFEED_SEED_DEMO": "true",
        "PAPERFEED_DATABASE_URL": "",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PAPERFEED_STATIC_MODEL_PATH": static_model_path,
    }
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        embedder=embedder,  # type: ignore[call-arg,arg-type]
        database_url="",
        seed_demo=True,
        static_model_path=static_model_path,
    )
    engine = open_store(settings)
    seed_demo_if_empty(engine=engine)
    t0 = time.perf_counter()
    make_searcher(engine=engine, settings=settings).refresh()
    print(f"indexed the demo corpus in {time.perf_counter() - t0:.1f} s ({embedder})", flush=True)
    engine.dispose()
    return env


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn workers), from /proc."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return out


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by the server process tree (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / tick


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).parent / "paperfeed"
    cmd = [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early; see {log}:\n{log.read_text()[-2000:]}")
        try:
            answered = httpx.get(f"http://127.0.0.1:{port}/search?q=warm+up", timeout=30).status_code == 200
        except httpx.HTTPError:
            answered = False
        # Every worker listening (each has its own socket, paperfeed/web/workers.py): the load's connections,
        # opened at once and kept, are then spread over all of them, not given to the first one up.
        if answered and log.read_text(errors="replace").count("Application startup complete") >= workers:
            time.sleep(1.0)
            return proc
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit("server did not answer within 120 s")


_LUA = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def _seconds(value: str) -> float:
    units = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}
    m = re.match(r"([\d.]+)(us|ms|s|m)$", value)
    return float(m.group(1)) * units[m.group(2)] if m else float("nan")


def run_wrk(url: str, paths: list[str], duration: int, connections: int, threads: int, tmp: Path) -> dict[str, Any]:
    (tmp / "paths.txt").write_text("\n".join(paths) + "\n")
    (tmp / "rotate.lua").write_text(_LUA % (tmp / "paths.txt"))
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(tmp / "rotate.lua"),
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    lat = {p: _seconds(v) * 1000 for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.MULTILINE)}
    return {
        "tool": "wrk",
        "command": " ".join(cmd),
        "requests": total,
        "requests_per_s": rps,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
        "latency_ms": {"p50": lat.get("50"), "p90": lat.get("90"), "p99": lat.get("99")},
        "raw": out,
    }


async def _httpx_load(url: str, paths: list[str], duration: int, connections: int) -> dict[str, Any]:
    latencies: list[float] = []
    bad = 0
    stop = time.perf_counter() + duration

    async def worker(client: httpx.AsyncClient, start: int) -> None:
        nonlocal bad
        i = start
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            r = await client.get(paths[i % len(paths)])
            latencies.append(time.perf_counter() - t0)
            bad += r.status_code != 200
            i += connections

    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client, k) for k in range(connections)))
        elapsed = time.perf_counter() - t0
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "tool": "httpx",
        "command": f"asyncio httpx, {connections} connections, {duration} s",
        "requests": len(latencies),
        "requests_per_s": len(latencies) / elapsed,
        "non_2xx": bad,
        "latency_ms": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--embedder", choices=["minilm", "static", "none"], default="minilm")
    ap.add_argument(
        "--static-model-path", default="", help="model2vec folder made by `paperfeed distill` (for --embedder static)"
    )
    ap.add_argument("--duration", type=int, default=20, help="seconds of load")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--queries", type=int, default=2000, help="distinct queries to rotate over")
    ap.add_argument("--tool", choices=["auto", "wrk", "httpx"], default="auto")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="paperfeed-bench-web-"))
    proc = None
    try:
        env = prepare(tmp / "data", args.embedder, args.static_model_path)
        port = free_port()
        proc = start_server(env, port, args.workers, tmp / "server.log")
        paths = ["/search?q=" + quote_plus(q) for q in make_queries(args.queries)]
        load_before = os.getloadavg()
        cpu_before = server_cpu_seconds(proc.pid)
        use_wrk = args.tool == "wrk" or (args.tool == "auto" and shutil.which("wrk"))
        url = f"http://127.0.0.1:{port}"
        if use_wrk:
            result = run_wrk(url, paths, args.duration, args.connections, args.threads, tmp)
        else:
            result = asyncio.run(_httpx_load(url, paths, args.duration, args.connections))
        cpu = server_cpu_seconds(proc.pid) - cpu_before
        result.update(
            server_cpu_s=round(cpu, 2),
            server_cpu_ms_per_request=round(1000 * cpu / max(result["requests"], 1), 2),
            requests_per_server_cpu_s=round(result["requests"] / cpu, 1) if cpu else None,
        )
        result.update(
            embedder=args.embedder,
            workers=args.workers,
            connections=args.connections,
            distinct_queries=len(paths),
            cpus=os.cpu_count(),
            load_before=load_before,
            load_after=os.getloadavg(),
        )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    raw = result.pop("raw", "")
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(raw)
    lat = result["latency_ms"]
    print(
        f"search page: {result['requests_per_s']:.1f} requests/s over {result['requests']} requests "
        f"({result['non_2xx']} non-2xx); latency p50 {lat['p50']:.1f} ms, p90 {lat['p90']:.1f} ms, "
        f"p99 {lat['p99']:.1f} ms; embedder {args.embedder}, {args.workers} worker(s), "
        f"{args.connections} connections, "
        f"load {result['load_before'][0]:.1f} -> {result['load_after'][0]:.1f}"
    )
    print(
        f"server CPU: {result['server_cpu_ms_per_request']} ms per request = "
        f"{result['requests_per_server_cpu_s']} requests per CPU-second (what one free core sustains)"
    )


if __name__ == "__main__":
    main()
