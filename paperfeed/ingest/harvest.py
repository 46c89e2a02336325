"""Network ingestion from arXiv: OAI-PMH ``ListRecords`` harvests and API ``id_list`` fetches.

``harvest_oai`` follows resumption tokens page by page. Each page is stored in its own transaction and
the next token is then saved in ``kv_state`` with the harvest window, so a harvest cut short (network,
Ctrl-C, crash) resumes from the page where it stopped; a finished harvest clears the token and records
its window as the set's watermark, from which the next run can continue. ``fetch_arxiv`` looks up
given ids through the API, 100 per call. Both go through ``PoliteClient``: paced and retried.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.ids import split_arxiv_id
from paperfeed.ingest.arxiv_atom import parse_atom_bytes
from paperfeed.ingest.http import ArxivUnavailable, PoliteClient
from paperfeed.ingest.oai_pmh import parse_oai_bytes
from paperfeed.ingest.run import IngestReport, store_items
from paperfeed.models import DeletedRecord, Paper, Rejection
from paperfeed.store.state import delete_state, get_state, set_state

METADATA_PREFIXES = ("arXiv", "arXivRaw")
API_BATCH = 100  # ids per API call: arXiv's guidance for id_list queries
_SET_RE = re.compile(r"^[A-Za-z][A-Za-z0-9.\-]*(?::[A-Za-z0-9.\-]+)*$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PageFn = Callable[["PageProgress"], None]
KeepFn = Callable[[Paper], bool]


class HarvestError(RuntimeError):
    """A harvest or fetch that could not finish; ``report`` holds what was stored before it stopped."""

    def __init__(self, message: str, report: IngestReport | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class PageProgress:
    """What a progress display needs after each page."""

    page: int
    records: int
    total: int | None


@dataclass
class HarvestReport(IngestReport):
    pages: int = 0
    records: int = 0
    complete_list_size: int | None = None
    resumed: bool = False
    skipped: int = 0  # records left out by ``keep`` (the follower's categories)
    set_spec: str = ""
    from_date: str = ""
    until_date: str | None = None
    metadata_prefix: str = "arXiv"

    def as_dict(self) -> dict[str, Any]:
        data = super().as_dict()
        data.update(
            pages=self.pages,
            records=self.records,
            complete_list_size=self.complete_list_size,
            resumed=self.resumed,
            skipped=self.skipped,
            set=self.set_spec,
            from_date=self.from_date,
            until_date=self.until_date,
            format=self.metadata_prefix,
        )
        return data


@dataclass
class FetchReport(IngestReport):
    requested: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    pages: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = super().as_dict()
        data.update(pages=self.pages, requested=len(self.requested), not_found=self.not_found)
        return data


def state_key(set_spec: str, metadata_prefix: str, label: str = "") -> str:
    return f"harvest:oai:{set_spec}:{metadata_prefix}" + (f":{label}" if label else "")


def watermark_key(set_spec: str, metadata_prefix: str, label: str = "") -> str:
    return f"harvest:oai-done:{set_spec}:{metadata_prefix}" + (f":{label}" if label else "")


def check_date(value: str, option: str) -> str:
    """A ``YYYY-MM-DD`` date (arXiv's OAI granularity), or HarvestError naming the option."""
    text = value.strip()
    try:
        if not _DATE_RE.match(text):
            raise ValueError
        date.fromisoformat(text)
    except ValueError:
        raise HarvestError(f"{option} {value!r} is not a date in YYYY-MM-DD form") from None
    return text


def last_harvest(*, engine: Engine, set_spec: str, metadata_prefix: str = "arXiv") -> dict[str, Any] | None:
    """The window of the last finished harvest of a set, or None."""
    with engine.connect() as conn:
        value = get_state(conn=conn, key=watermark_key(set_spec, metadata_prefix))
    return value if isinstance(value, dict) else None


def _check_window(set_spec: str, from_date: str, until_date: str | None, prefix: str) -> None:
    if not _SET_RE.match(set_spec):
        raise HarvestError(f"--set {set_spec!r} is not an OAI set spec (e.g. cs, math, physics:hep-th)")
    if prefix not in METADATA_PREFIXES:
        raise HarvestError(f"--format {prefix!r} is not supported (choose {' or '.join(METADATA_PREFIXES)})")
    check_date(from_date, "--from")
    if until_date is not None:
        check_date(until_date, "--until")
        if until_date < from_date:
            raise HarvestError(f"--until {until_date} is before --from {from_date}")


def _first_params(set_spec: str, from_date: str, until_date: str | None, prefix: str) -> dict[str, str]:
    params = {"verb": "ListRecords", "metadataPrefix": prefix, "set": set_spec, "from": from_date}
    if until_date:
        params["until"] = until_date
    return params


def _saved_token(engine: Engine, key: str, window: dict[str, Any], restart: bool) -> str | None:
    """The token to resume from when a harvest of the same window was interrupted."""
    with engine.begin() as conn:
        saved = get_state(conn=conn, key=key)
        if restart or not isinstance(saved, dict) or saved.get("window") != window:
            delete_state(conn=conn, key=key)
            return None
    token = saved.get("token")
    return token if isinstance(token, str) and token else None


def _store_page(engine: Engine, items: list[Any], report: IngestReport, name: str, keep: KeepFn | None = None) -> int:
    """Store one page's records (one transaction) and count them; an unreadable page stops the job.

    A truncated response would otherwise lose its resumption token and end a harvest early, silently.
    ``keep`` leaves out papers it refuses (counted in ``report.skipped``); deletions are always applied.
    """
    broken = [i for i in items if isinstance(i, Rejection) and i.record is None]
    if broken:
        raise HarvestError(f"{name}: unreadable response: {broken[0].reason}", report)
    records = sum(isinstance(i, Paper | DeletedRecord) for i in items)
    if keep is not None:
        kept = [i for i in items if not isinstance(i, Paper) or keep(i)]
        if isinstance(report, HarvestReport):
            report.skipped += len(items) - len(kept)
        items = kept
    store_items(engine=engine, items=items, report=report)
    return records


def harvest_oai(
    *,
    engine: Engine,
    settings: Settings,
    set_spec: str,
    from_date: str,
    until_date: str | None = None,
    metadata_prefix: str = "arXiv",
    client: PoliteClient | None = None,
    restart: bool = False,
    on_page: PageFn | None = None,
    keep: KeepFn | None = None,
    label: str = "",
) -> HarvestReport:
    """Harvest one OAI-PMH set over a date window into the store, resuming an interrupted run.

    ``keep`` stores only the papers it accepts (the follower keeps its categories of an archive's set);
    ``label`` keeps such a job's saved position and watermark apart from plain harvests of the same set.
    Raises HarvestError (with the partial report) when arXiv fails or answers an OAI error.
    """
    _check_window(set_spec, from_date, until_date, metadata_prefix)
    report = HarvestReport(
        set_spec=set_spec, from_date=from_date, until_date=until_date, metadata_prefix=metadata_prefix
    )
    window = {"set": set_spec, "from": from_date, "until": until_date, "format": metadata_prefix}
    if label:
        window["label"] = label
    key = state_key(set_spec, metadata_prefix, label)
    token = _saved_token(engine, key, window, restart)
    report.resumed = token is not None
    own = client is None
    http = client or PoliteClient.from_settings(settings)
    url = settings.arxiv_oai_url
    try:
        while True:
            params = (
                {"verb": "ListRecords", "resumptionToken": token}
                if token
                else _first_params(set_spec, from_date, until_date, metadata_prefix)
            )
            name = f"{url} page {report.pages + 1}"
            try:
                resp = http.get(url, params=params)
            except ArxivUnavailable as exc:
                raise HarvestError(str(exc), report) from exc
            page = parse_oai_bytes(resp.content, name=name)
            if page.error is not None and page.error[0] != "noRecordsMatch":
                raise HarvestError(_oai_error_message(page.error, url, resumed=token is not None), report)
            if page.error is None and resp.status_code >= 400:
                raise HarvestError(f"{url}: HTTP {resp.status_code} {resp.reason_phrase}", report)
            report.records += _store_page(engine, page.items, report, name, keep)
            report.pages += 1
            report.complete_list_size = page.complete_list_size or report.complete_list_size
            if page.resumption_token and page.resumption_token == token:
                raise HarvestError(
                    f"{url}: the server sent resumption token {token!r} twice; stopping "
                    "rather than looping (run again later to resume)",
                    report,
                )
            token = page.resumption_token
            _save_progress(engine, key, window, token, report)
            if on_page is not None:
                on_page(PageProgress(report.pages, report.records, report.complete_list_size))
            if not token:
                return report
    finally:
        if own:
            http.close()


def _oai_error_message(error: tuple[str, str], url: str, *, resumed: bool) -> str:
    code, message = error
    hint = ""
    if code == "badResumptionToken":
        hint = "; the saved position has expired: run again with --restart" if resumed else ""
    return f"{url}: OAI-PMH error {code}: {message or 'no message'}{hint}"


def _save_progress(engine: Engine, key: str, window: dict[str, Any], token: str | None, report: HarvestReport) -> None:
    """After a page: keep the next token, or on the last page clear it and record the watermark."""
    with engine.begin() as conn:
        if token:
            set_state(conn=conn, key=key, value={"window": window, "token": token, "pages": report.pages})
            return
        delete_state(conn=conn, key=key)
        done = {**window, "finished_at": datetime.now(UTC).isoformat(timespec="seconds")}
        set_state(conn=conn, key=watermark_key(window["set"], window["format"], window.get("label", "")), value=done)


def normalise_ids(raw_ids: Iterable[str]) -> list[str]:
    """Requested ids as the API wants them (``2401.01234``, ``2401.01234v2``), duplicates dropped.

    Accepts abs/pdf URLs and ``arXiv:`` prefixes; raises HarvestError naming the first bad id.
    """
    out: list[str] = []
    for raw in raw_ids:
        parsed = split_arxiv_id(raw) if len(raw) <= 200 else None
        if parsed is None:
            raise HarvestError(
                f"{raw[:80]!r} is not an arXiv id (expected e.g. 2401.01234, 2401.01234v2 or hep-th/9901001)"
            )
        pid, ver = parsed
        wanted = f"{pid}v{ver}" if ver else pid
        if wanted not in out:
            out.append(wanted)
    return out


def _base_id(wanted: str) -> str:
    parsed = split_arxiv_id(wanted)
    return parsed[0] if parsed else wanted


def fetch_arxiv(
    *,
    engine: Engine,
    settings: Settings,
    ids: Iterable[str],
    client: PoliteClient | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> FetchReport:
    """Fetch the given papers from the arXiv API and store them; report ids arXiv did not return."""
    wanted = normalise_ids(ids)
    report = FetchReport(requested=wanted)
    own = client is None
    http = client or PoliteClient.from_settings(settings)
    url = settings.arxiv_api_url
    try:
        for start in range(0, len(wanted), API_BATCH):
            batch = wanted[start : start + API_BATCH]
            params = {"id_list": ",".join(batch), "start": "0", "max_results": str(len(batch))}
            try:
                resp = http.get(url, params=params)
            except ArxivUnavailable as exc:
                raise HarvestError(str(exc), report) from exc
            name = f"{url} batch {report.pages + 1}"
            page = parse_atom_bytes(resp.content, name=name)
            papers = [i for i in page.items if isinstance(i, Paper)]
            if page.errors and not papers:
                raise HarvestError(f"{url}: arXiv API error: {'; '.join(page.errors)}", report)
            if resp.status_code >= 400:
                raise HarvestError(f"{url}: HTTP {resp.status_code} {resp.reason_phrase}", report)
            _store_page(engine, page.items, report, name)
            returned = {p.id for p in papers}
            report.not_found.extend(i for i in batch if _base_id(i) not in returned)
            report.pages += 1
            if on_batch is not None:
                on_batch(len(batch))
    finally:
        if own:
            http.close()
    return report
