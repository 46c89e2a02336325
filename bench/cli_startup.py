"""How long ``paperfeed`` commands take from start to exit: ``--help``, ``status``, ``stats``, a hybrid
``search`` and ``similar``, each run in a fresh process (hyperfine-style: rounds, median), against a baseline
tree in the same run when one is given.

    mkdir -p /tmp/pf-head && git archive HEAD paperfeed | tar -x -C /tmp/pf-head    # the baseline, read-only
    PAPERFEED_DATA_DIR=... PAPERFEED_DATABASE_URL=... \\
        .venv/bin/python bench/cli_startup.py --rounds 5 --baseline /tmp/pf-head --baseline-instance /tmp/pf-head-data

The instance named by the environment (and the baseline's, made with the baseline tree, as a newer store may
not open with older code) should hold an indexed corpus (``paperfeed ingest`` the demo, then
``paperfeed index``). Each command runs as ``python -c "from paperfeed.cli import main; main()"`` (what the
console script does) with ``PYTHONPATH`` set to the tree measured and a neutral working directory. Wall time
and CPU time (user + system, of the child) are reported as medians, with the load average: on a shared
machine wall time includes waiting for a core, CPU time does not.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS = {
    "--help": ["--help"],
    "status": ["status"],
    "stats": ["stats"],
    "search (hybrid)": ["search", "matryoshka embeddings"],
    "similar": ["similar", "pf-84edccd479b9af48"],  # a demo paper
}
CODE = "import sys; from paperfeed.cli import main; sys.argv = ['paperfeed', *sys.argv[1:]]; main()"


def run_once(tree: Path, args: list[str], instance: Path | None = None) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, exit status) of one command in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1"}
    if instance is not None:  # its own instance: a store migrated by that tree
        env.update(PAPERFEED_DATA_DIR=str(instance), PAPERFEED_DATABASE_URL=str(instance / "pf.db"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CODE, *args], cwd=tempfile.gettempdir(), env=env, capture_output=True, timeout=600
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--baseline", type=Path, help="a tree holding the baseline's paperfeed/ package")
    ap.add_argument("--baseline-instance", type=Path, help="data dir (with pf.db) the baseline tree made")
    ap.add_argument("--only", action="append", choices=sorted(COMMANDS), help="measure only these commands")
    args = ap.parse_args()
    trees = {"now": REPO, **({"baseline": args.baseline} if args.baseline else {})}
    instances = {"now": None, "baseline": args.baseline_instance}
    for name in args.only or list(COMMANDS):
        got: dict[str, list[tuple[float, float, int]]] = {t: [] for t in trees}
        for tree_name, tree in trees.items():
            run_once(
                tree, COMMANDS[name], instances[tree_name]
            )  # warm-up: file cache, and the int8 model built if it was not
        for _ in range(args.rounds):  # alternate, so load changes hit both alike
            for tree_name, tree in trees.items():
                got[tree_name].append(run_once(tree, COMMANDS[name], instances[tree_name]))
        for tree_name, runs in got.items():
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            codes = sorted({r[2] for r in runs})
            print(
                f"{name:18} {tree_name:9} median wall {wall:6.2f} s  CPU {cpu:6.2f} s  "
                f"(exit {codes}, load {os.getloadavg()[0]:.1f})"
            )


if __name__ == "__main__":
    main()
