"""A real local HTTP server standing in for export.arxiv.org in harvest and fetch tests.

Each test gives it a ``responder(request) -> Reply``; the server records every request with its
server-side arrival time, so tests can check pacing, retries and what was asked for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering (a dropped connection)


@dataclass
class Request:
    at: float  # time.monotonic() when the server read the request
    path: str
    params: dict[str, str]
    headers: dict[str, str]


DROP = Reply(drop=True)
Responder = Callable[[Request], Reply]


def fixture(name: str, status: int = 200, **headers: str) -> Reply:
    """A reply whose body is a saved file from tests/fixtures, served as arXiv serves it."""
    ctype = "application/atom+xml; charset=utf-8" if name.startswith("api_") else "text/xml;charset=utf-8"
    return Reply(status, (FIXTURES / name).read_bytes(), {"Content-Type": ctype, **headers})


class ArxivServer:
    """``ThreadingHTTPServer`` on 127.0.0.1 with a random port; ``url`` is its base URL."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[Request] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                split = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
                req = Request(time.monotonic(), split.path, params, dict(self.headers.items()))
                server.requests.append(req)
                reply = server.responder(req)
                if reply.drop:
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def gaps(self) -> list[float]:
        """Seconds between consecutive requests, measured on the server."""
        times = [r.at for r in self.requests]
        return [b - a for a, b in zip(times, times[1:], strict=False)]

    def start(self) -> ArxivServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@contextmanager
def arxiv_server(responder: Responder) -> Iterator[ArxivServer]:
    server = ArxivServer(responder).start()
    try:
        yield server
    finally:
        server.stop()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- a live OAI-PMH repository


@dataclass
class OaiRecord:
    """One arXiv paper as the OAI-PMH ``arXiv`` format lists it; ``datestamp`` is YYYY-MM-DD."""

    id: str
    title: str
    categories: str  # space-separated, primary first: "cs.LG stat.ML"
    created: str
    datestamp: str
    abstract: str = "An abstract."
    authors: tuple[str, ...] = ("Ada Lovelace",)

    @property
    def archive_set(self) -> str:
        archive = self.categories.split()[0].split(".")[0]
        physics = {"astro-ph", "cond-mat", "gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "quant-ph", "physics"}
        return f"physics:{archive}" if archive in physics else archive

    def sets(self) -> set[str]:
        out = set()
        for cat in self.categories.split():
            archive = cat.split(".")[0]
            out.add(archive)
            out.add(f"physics:{archive}")
        return out

    def xml(self) -> str:
        from xml.sax.saxutils import escape

        authors = "".join(
            f"<author><keyname>{escape(a.split()[-1])}</keyname><forenames>{escape(' '.join(a.split()[:-1]))}"
            "</forenames></author>"
            for a in self.authors
        )
        return (
            f"<record><header><identifier>oai:arXiv.org:{self.id}</identifier><datestamp>{self.datestamp}"
            f"</datestamp><setSpec>{self.archive_set}</setSpec></header><metadata>"
            '<arXiv xmlns="http://arxiv.org/OAI/arXiv/">'
            f"<id>{self.id}</id><created>{self.created}</created><authors>{authors}</authors>"
            f"<title>{escape(self.title)}</title><categories>{self.categories}</categories>"
            f"<abstract>{escape(self.abstract)}</abstract></arXiv></metadata></record>"
        )


def oai_repository(records: list[OaiRecord], page_size: int = 2) -> Responder:
    """A responder answering ``ListRecords`` like arXiv: records of the set with datestamp >= ``from``
    (and <= ``until``), ``page_size`` per page, resumption tokens, ``noRecordsMatch`` when none."""
    head = '<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
    head += "<responseDate>2026-01-01T00:00:00Z</responseDate>"
    xml_type = {"Content-Type": "text/xml;charset=utf-8"}

    def respond(req: Request) -> Reply:
        token = req.params.get("resumptionToken")
        if token:
            set_spec, from_date, until, start_text = token.split("|")
            start = int(start_text)
        else:
            set_spec = req.params.get("set", "")
            from_date, until, start = req.params.get("from", ""), req.params.get("until", ""), 0
        matching = [
            r
            for r in records
            if (not set_spec or set_spec in r.sets())
            and r.datestamp >= from_date
            and (not until or r.datestamp <= until)
        ]
        if not matching:
            body = head + '<error code="noRecordsMatch">no records</error></OAI-PMH>'
            return Reply(200, body.encode(), xml_type)
        page = matching[start : start + page_size]
        nxt = start + page_size
        more = f"{set_spec}|{from_date}|{until}|{nxt}" if nxt < len(matching) else ""
        body = head + "<ListRecords>" + "".join(r.xml() for r in page)
        body += f'<resumptionToken cursor="{start}" completeListSize="{len(matching)}">{more}</resumptionToken>'
        body += "</ListRecords></OAI-PMH>"
        return Reply(200, body.encode(), xml_type)

    return respond


# ---------------------------------------------------------------- the API's title search (paperfeed enrich)


@dataclass
class ApiEntry:
    """One paper as the arXiv API's Atom lists it (``id`` with its version, ``published`` YYYY-MM-DD)."""

    id: str
    title: str
    authors: tuple[str, ...]
    categories: str  # space-separated, primary first
    published: str
    abstract: str = "An abstract."

    def xml(self) -> str:
        from xml.sax.saxutils import escape

        cats = self.categories.split()
        return (
            f"<entry><id>http://arxiv.org/abs/{self.id}</id><published>{self.published}T17:59:00Z</published>"
            f"<updated>{self.published}T17:59:00Z</updated><title>{escape(self.title)}</title>"
            f"<summary>{escape(self.abstract)}</summary>"
            + "".join(f"<author><name>{escape(a)}</name></author>" for a in self.authors)
            + f'<link href="http://arxiv.org/abs/{self.id}" rel="alternate" type="text/html"/>'
            f'<link title="pdf" href="http://arxiv.org/pdf/{self.id}" rel="related" type="application/pdf"/>'
            f'<arxiv:primary_category term="{cats[0]}"/>'
            + "".join(f'<category term="{c}"/>' for c in cats)
            + "</entry>"
        )


def api_entries(name: str) -> list[ApiEntry]:
    """The ``[[entry]]`` tables of ``tests/fixtures/<name>.toml`` as :class:`ApiEntry` values."""
    import tomllib

    with (FIXTURES / f"{name}.toml").open("rb") as f:
        return [ApiEntry(**{**e, "authors": tuple(e["authors"])}) for e in tomllib.load(f)["entry"]]


def api_title_search(entries: list[ApiEntry]) -> Responder:
    """A responder answering ``search_query=ti:"words"`` like arXiv: every entry whose title contains
    the words in that order (case and punctuation ignored), so longer titles come back too."""
    import re

    head = (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
    )

    def words(text: str) -> str:
        return " " + " ".join(re.sub(r"[^\w]+", " ", text.casefold()).split()) + " "

    def respond(req: Request) -> Reply:
        query = req.params.get("search_query", "")
        found = re.fullmatch(r'ti:"(.*)"', query)
        if found is None:
            body = head + "<entry><id>http://arxiv.org/api/errors#bad_query</id><summary>bad query</summary></entry>"
            return Reply(400, (body + "</feed>").encode(), {"Content-Type": "application/atom+xml"})
        phrase = words(found.group(1))
        hits = [e for e in entries if phrase in words(e.title)][: int(req.params.get("max_results", "10"))]
        body = head + f"<opensearch:totalResults>{len(hits)}</opensearch:totalResults>"
        body += "".join(e.xml() for e in hits) + "</feed>"
        return Reply(200, body.encode(), {"Content-Type": "application/atom+xml; charset=utf-8"})

    return respond
