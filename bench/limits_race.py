"""Limits under parallel requests, measured from outside against a real ``paperfeed serve`` (issue 21).

    python bench/limits_race.py                       # this checkout
    python bench/limits_race.py --tree /tmp/pf_old    # another checkout of the code (e.g. ``git archive``)
    python bench/limits_race.py --database-url postgresql://...   # an empty PostgreSQL database

A fresh store (SQLite in a temporary folder unless ``--database-url``), a real SMTP server (aiosmtpd) on
loopback, and only HTTP and the CLI, as an attacker would: 25 parallel sign-ups from one address, 40
parallel sign-ins for one account (the right password at guess 35), 20 parallel comments, 42 parallel
reports, 30 parallel subscribes for one address, 30 parallel verification resends, 50 parallel creates of
one collection name, and 4 pairs of concurrent ``paperfeed ingest`` runs. Prints one line per attack:
tries / accepted (or checked, or mailed) / answers by status.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from aiosmtpd.controller import Controller

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"


class Mailbox:
    def __init__(self) -> None:
        self.mails: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.mails.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))  # type: ignore[attr-defined]
        return "250 OK"

    def to(self, address: str) -> list[str]:
        return [body for rcpt, body in self.mails if address in rcpt]

    def settled(self, address: str, quiet: float = 3.0) -> int:
        """Mails to ``address`` once none has arrived for ``quiet`` seconds (background sends)."""
        last, since = -1, time.monotonic()
        while time.monotonic() - since < quiet:
            n = len(self.to(address))
            if n != last:
                last, since = n, time.monotonic()
            time.sleep(0.2)
        return last


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def at_once(n: int, call: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    gate = threading.Barrier(n)

    def one(i: int) -> httpx.Response:
        gate.wait(timeout=60)
        return call(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def browser(url: str, cookies: dict[str, str] | None = None) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, timeout=120, cookies=cookies)
    found = CSRF.search(client.get("/login" if cookies is None else "/account").text)
    assert found
    return client, found.group(1)


def clones(client: httpx.Client, n: int) -> list[tuple[httpx.Client, str]]:
    return [browser(str(client.base_url), dict(client.cookies.items())) for _ in range(n)]


def codes(answers: list[httpx.Response]) -> str:
    return " ".join(f"{k}x{v}" for k, v in sorted(Counter(r.status_code for r in answers).items()))


def report(what: str, tries: int, ok: int, answers: list[httpx.Response] | str) -> None:
    extra = answers if isinstance(answers, str) else codes(answers)
    print(f"{what:<48} {tries:>3} tries  {ok:>3} accepted  ({extra})", flush=True)


def attacks(url: str, mailbox: Mailbox, paper: str) -> None:
    # sign-ups from one address (item 5)
    anon = [browser(url) for _ in range(25)]
    answers = at_once(
        25,
        lambda i: anon[i][0].post(
            "/signup",
            data={"email": f"s{i}@example.org", "username": f"s{i}", "password": PASSWORD, "csrf_token": anon[i][1]},
        ),
    )
    report("parallel sign-ups from one address", 25, sum(r.status_code == 303 for r in answers), answers)

    # sign-in guesses (item 1)
    add_user("victim")
    guessers = [browser(url) for _ in range(40)]
    guesses = [PASSWORD if i == 35 else f"wrong guess {i}" for i in range(40)]
    answers = at_once(
        40,
        lambda i: guessers[i][0].post(
            "/login", data={"email": "victim", "password": guesses[i], "csrf_token": guessers[i][1]}
        ),
    )
    checked = sum(r.status_code != 429 for r in answers)
    signed_in = answers[35].status_code == 303
    report("parallel sign-ins, one account (checked)", 40, checked, f"{codes(answers)}; right one in: {signed_in}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    mailbox = Mailbox()
    smtp_port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    folder = Path(tempfile.mkdtemp(prefix="pf-limits-"))
    port = free_port()
    os.environ.update(
        PYTHONPATH=str(args.tree.resolve()),
        PAPERFEED_DATA_DIR=str(folder / "data"),
        PAPERFEED_DATABASE_URL=args.database_url or f"sqlite:///{folder / 'bench.db'}",
        PAPERFEED_SEED_DEMO="false",
        PAPERFEED_EMBEDDER="none",
        PAPERFEED_BASE_URL=f"http://127.0.0.1:{port}",
        PAPERFEED_SMTP_HOST="127.0.0.1",
        PAPERFEED_SMTP_PORT=str(smtp_port),
        PAPERFEED_SMTP_SECURITY="none",
        PAPERFEED_MAIL_FROM="Paperfeed <pf@example.org>",
        PAPERFEED_MAIL_RATE_LIMIT="0",
    )
    sys.path.insert(0, str(args.tree.resolve()))
    run(folder, port, mailbox)
    controller.stop()


def papers_file(folder: Path, n: int, prefix: str) -> Path:
    path = folder / f"{prefix}.jsonl"
    rows = (
        {"id": f"{prefix}.{i:05d}", "title": f"Paper {prefix} {i}", "abstract": f"Abstract {i}.",
         "authors": [{"name": "Ada Lovelace"}], "published": "2024-02-01T00:00:00+00:00", "source": "bench"}
        for i in range(n)
    )  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def add_user(name: str) -> None:
    """A member made with the CLI, as an operator would (sign-ups from one address may be limited)."""
    cmd = [sys.executable, "-c", "from paperfeed.cli import main; main()", "users", "add", name]
    args = ["--email", f"{name}@example.org", "--password-stdin"]
    subprocess.run([*cmd, *args], input=PASSWORD + "\n", text=True, check=True, capture_output=True)


def cli(*args: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-c", "from paperfeed.cli import main; main()", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run(folder: Path, port: int, mailbox: Mailbox) -> None:
    assert cli("ingest", str(papers_file(folder, 1, "2403"))).wait() == 0
    url = f"http://127.0.0.1:{port}"
    server = cli("serve", "--port", str(port))
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/login", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        attacks(url, mailbox, "2403.00000")
        more_attacks(url, mailbox, "2403.00000")
    finally:
        server.terminate()
        server.wait(timeout=30)
    ingest_pairs(folder)


def more_attacks(url: str, mailbox: Mailbox, paper: str) -> None:
    # members made by the operator, verified through their mailed link
    for name in ("writer", "reporter", "keeper"):
        add_user(name)
    verified: dict[str, httpx.Client] = {}
    for name in ("writer", "reporter", "keeper"):
        client, token = browser(url)
        assert client.post("/login", data={"email": name, "password": PASSWORD, "csrf_token": token}).status_code == 303
        _, token = browser(url, dict(client.cookies.items()))
        client.post("/account/verify/resend", data={"csrf_token": token})
        deadline = time.monotonic() + 30
        while not mailbox.to(f"{name}@example.org") and time.monotonic() < deadline:
            time.sleep(0.1)
        link = re.search(r"(/account/verify/[A-Za-z0-9_.\-=]+)", mailbox.to(f"{name}@example.org")[-1])
        assert link
        client.get(link.group(1))
        verified[name] = client

    # comments, 5 a minute (item 2)
    writers = clones(verified["writer"], 20)
    path = f"/papers/{paper}/comments"
    answers = at_once(20, lambda i: writers[i][0].post(path, data={"body": f"c {i}", "csrf_token": writers[i][1]}))
    report("parallel comments, one member (limit 5/min)", 20, sum(r.status_code == 303 for r in answers), answers)

    # reports, 20 a day (item 2): 42 comments by the keeper, written through the store (as if over days)
    seed = (
        "from paperfeed.config import Settings; from paperfeed.store.db import open_store;"
        "from paperfeed.store.comments import add_comment; from paperfeed.store.users import get_user_by_username;"
        "e = open_store(Settings())\n"
        "with e.begin() as c:\n"
        " u = get_user_by_username(conn=c, username='keeper')\n"
        f" ids = [add_comment(conn=c, paper_id='{paper}', user_id=u.id, body=f'c{{i}}', parent_id=None)"
        " for i in range(42)]\n"
        "print(' '.join(map(str, ids)))"
    )
    ids = subprocess.run([sys.executable, "-c", seed], capture_output=True, text=True, check=True).stdout.split()
    reporters = clones(verified["reporter"], 42)
    answers = at_once(
        42,
        lambda i: reporters[i][0].post(
            f"/comments/{ids[i]}/report", data={"reason": "spam", "csrf_token": reporters[i][1]}
        ),
    )
    report("parallel reports, 42 comments (limit 20/day)", 42, sum(r.status_code == 303 for r in answers), answers)

    # subscribes for one address, 3 mails a day (item 2)
    api = httpx.Client(base_url=url, timeout=120)
    answers = at_once(30, lambda i: api.post("/api/v1/subscriptions", json={"email": "target@example.org"}))
    report("parallel subscribes, one address (mails)", 30, mailbox.settled("target@example.org"), answers)

    # verification resends, 5 a day (item 2)
    add_user("slow")
    client, token = browser(url)
    client.post("/login", data={"email": "slow", "password": PASSWORD, "csrf_token": token})
    resenders = clones(client, 30)
    answers = at_once(
        30, lambda i: resenders[i][0].post("/account/verify/resend", data={"csrf_token": resenders[i][1]})
    )
    report("parallel verification resends (mails)", 30, mailbox.settled("slow@example.org"), answers)

    # same-name collections (item 3)
    keepers = clones(verified["keeper"], 50)
    answers = at_once(
        50, lambda i: keepers[i][0].post("/library/collections", data={"name": "Group", "csrf_token": keepers[i][1]})
    )
    report("parallel same-name collection creates", 50, sum(r.status_code == 303 for r in answers), answers)


def ingest_pairs(folder: Path) -> None:
    crashed = 0
    exact = 0
    for pair in range(4):
        source = papers_file(folder, 4500, f"25{pair:02d}")
        runs = [cli("ingest", str(source), "--json") for _ in range(2)]
        outs = [run.communicate(timeout=900) for run in runs]
        failed = [run.returncode != 0 for run in runs]
        crashed += any(failed)
        if not any(failed):
            added = sum(json.loads(out)["added"] for out, _ in outs)
            exact += added == 4500
    print(f"{'pairs of concurrent ingest runs (4,500 papers)':<48}   4 pairs  {crashed} crashed, {exact} exact counts")


if __name__ == "__main__":
    main()
