"""First start: how long until meaning-based search answers on a fresh demo instance (issue 12, item 6).

    nice -n 5 .venv/bin/python bench/first_start.py                    # this tree and the baseline
    .venv/bin/python bench/first_start.py --no-baseline --cores 0,1   # this tree only

For each tree it starts ``paperfeed serve`` on an empty data directory (the 341 demo papers are seeded, the
configured model is MiniLM, the default) pinned to ``--cores`` (2 by default, as on the reference machine),
and polls ``GET /api/v1/search?q=...&mode=dense`` every 0.5 s. It reports:

- ``first answer``: seconds from the start of ``paperfeed serve`` to the first HTTP 200;
- ``ready``: seconds until an answer has no ``warning`` and every hit was found by meaning
  (``reason == "semantic"``): what a user asking for meaning-based search gets;
- ``minilm``: for this tree, seconds until ``paperfeed status --json`` says the MiniLM vectors serve.

The baseline is the tree at ``--baseline-ref`` (default: the commit before this work), extracted with
``git archive`` and run with the same interpreter and packages; it never sets ``warning``, so only the
"every hit found by meaning" half of the rule applies to it. Numbers on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
QUERY = "graph neural networks for molecules"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def extract(ref: str, into: Path) -> Path:
    """The source tree at ``ref`` (read-only git: ``git archive``)."""
    archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=ROOT, check=True, capture_output=True)
    tar_path = into / "src.tar"
    tar_path.write_bytes(archive.stdout)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into / "src", filter="data")
    return into / "src"


def poll(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]
    except Exception:  # noqa: BLE001 - not up yet
        return None


def run_one(name: str, source: Path, cores: str, limit: float, watch_minilm: bool) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix=f"pf-first-{name.split()[0]}-"))
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(source),
        "PAPERFEED_DATA_DIR": str(data),
        "PAPERFEED_DATABASE_URL": f"sqlite:///{data / 'paperfeed.db'}",
        "PAPERFEED_SEED_DEMO": "true",
        "PAPERFEED_EMBEDDER": "minilm",
        "TMPDIR": str(data / "tmp"),
    }
    (data / "tmp").mkdir()
    env.pop("PAPERFEED_STATIC_MODEL_PATH", None)
    cmd = ["taskset", "-c", cores, sys.executable, "-c", "from paperfeed.cli import main; main()"]
    cmd += ["serve", "--port", str(port)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=source, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api/v1/search?q={QUERY.replace(' ', '+')}&mode=dense&limit=10"
    out: dict[str, Any] = {"tree": name, "first_answer_s": None, "ready_s": None, "minilm_s": None}
    try:
        while time.perf_counter() - started < limit:
            got = poll(url)
            now = round(time.perf_counter() - started, 1)
            if got is not None:
                out["first_answer_s"] = out["first_answer_s"] or now
                hits = got.get("data") or []
                if not got.get("warning") and hits and all(h.get("reason") == "semantic" for h in hits):
                    out["ready_s"] = now
                    break
            time.sleep(0.5)
        if watch_minilm and out["ready_s"] is not None:
            out["minilm_s"] = wait_minilm(env, cmd[:6], started, limit)
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data, ignore_errors=True)
    return out


def wait_minilm(env: dict[str, str], python: list[str], started: float, limit: float) -> float | None:
    while time.perf_counter() - started < limit:
        res = subprocess.run([*python, "status", "--json"], env=env, capture_output=True, text=True)
        try:
            status = json.loads(res.stdout)
        except ValueError:
            status = {}
        if status.get("model") == "minilm" and status.get("state") == "ready":
            return round(time.perf_counter() - started, 1)
        time.sleep(2)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cores", default="0,1", help="CPUs for the server (taskset list); default 2 cores")
    ap.add_argument("--limit", type=float, default=600.0, help="give up after this many seconds per tree")
    ap.add_argument("--baseline-ref", default="efc70ca", help="git ref of the baseline tree")
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()
    load = os.getloadavg()
    rows = [run_one("this tree", ROOT, args.cores, args.limit, watch_minilm=True)]
    if not args.no_baseline:
        with tempfile.TemporaryDirectory(prefix="pf-baseline-") as tmp:
            source = extract(args.baseline_ref, Path(tmp))
            rows.append(run_one(f"baseline {args.baseline_ref}", source, args.cores, args.limit, watch_minilm=False))
    print(f"load average before: {load[0]:.2f}; after: {os.getloadavg()[0]:.2f}; cores: {args.cores}")
    print(f"{'tree':<20} {'first answer':>13} {'dense ready':>12} {'MiniLM serving':>15}")
    for r in rows:
        cells = [r["first_answer_s"], r["ready_s"], r["minilm_s"]]
        shown = [
            f"{c:.1f} s" if c is not None else ("-" if i == 2 else f"> {args.limit:.0f} s") for i, c in enumerate(cells)
        ]
        print(f"{r['tree']:<20} {shown[0]:>13} {shown[1]:>12} {shown[2]:>15}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
