"""Lexical retrieval: BM25 over title, abstract and author names, in a tantivy index on disk.

Chosen by measurement (docs/decisions.md, "Lexical engine"): as good as SQLite FTS5 on SciFact, and 10-100x
faster per query as the corpus grows, with incremental adds. The engine is hidden behind this module:
callers hand over :class:`LexicalDoc` rows and :class:`~paperfeed.search.query.ParsedQuery` objects and get
``(ids, scores)`` back, best first. Text is analysed in Python (:mod:`paperfeed.search.analyze`) and stored
pre-analysed, and queries are built from term objects, never from tantivy's query parser, so nothing a user
types is read as engine syntax.

Files: ``<path>/`` holds tantivy's segments plus ``paperfeed.json`` (schema version, the watermark of the
last refresh). An index made with another schema or analyzer version is wiped on open and rebuilt by the next
refresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import tantivy

from paperfeed.search.analyze import ANALYZER_VERSION, analyse, analyse_name
from paperfeed.search.lexical_query import build, constraints, date_key
from paperfeed.search.query import ParsedQuery
from paperfeed.search.retrievers import LexicalPage, LexicalSearch, PageRequest

log = logging.getLogger(__name__)

# 2: stored content digest per document; 3: a gap between author names; 4: the body field holds the title too
SCHEMA_VERSION = 4
META_FILE = "paperfeed.json"
WRITER_HEAP = 64_000_000
MAX_FREQS = 500_000  # document frequencies remembered per index (forgotten all at once when full)
MAX_IDS = 200_000  # paper ids remembered by document address in a published index (forgotten when full)
_NAME_SEP = re.compile(r"[,;\n]")
_NAME_GAP = "|"  # never produced by the analyzer, so no query term matches it
_MUST = tantivy.Occur.Must


class LexicalIndexError(RuntimeError):
    """The index cannot be opened or written (e.g. another process is writing it)."""


@dataclass
class LexicalDoc:
    """What the lexical index needs of a paper. ``published`` should fall back to first-seen when unknown."""

    id: str
    title: str
    abstract: str = ""
    authors: str = ""  # names separated by ",", ";" or new lines
    categories: list[str] = field(default_factory=list)
    published: datetime | None = None

    @property
    def digest(self) -> str:
        """A hash of everything indexed: a refresh skips documents whose digest is unchanged."""
        parts = [
            self.title,
            self.abstract or "",
            self.authors or "",
            " ".join(sorted(self.categories)),
            str(date_key(self.published)),
        ]
        return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def _category_terms(categories: Iterable[str]) -> list[str]:
    """``cs.CL`` is indexed as ``cs.cl`` and its archive ``cs``, so ``cat:cs`` finds every cs.* paper."""
    out: dict[str, None] = {}
    for c in categories:
        c = c.strip().lower()
        if c:
            out[c] = None
            out[c.split(".", 1)[0]] = None
    return list(out)


def _author_tokens(authors: str) -> str:
    """Author names (separated by ``,``, ``;`` or new lines) as tokens, with a gap token between names so an
    ``author:"first last"`` phrase never matches the end of one name and the start of the next."""
    names = (" ".join(analyse_name(n)) for n in _NAME_SEP.split(authors))
    return f" {_NAME_GAP} ".join(n for n in names if n)


def _body(title: str, abstract: str) -> str:
    """The body field: title and abstract as one text (a gap token between them, so no phrase spans both).
    With the title also weighted in its own field this beat either alone on SciFact train
    (docs/decisions.md, "Lexical ranking")."""
    return f"{' '.join(analyse(title))} {_NAME_GAP} {' '.join(analyse(abstract))}"


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    sb.add_text_field("digest", stored=True, tokenizer_name="raw", index_option="basic")
    for name in ("title", "abstract", "authors"):
        sb.add_text_field(name, tokenizer_name="whitespace", index_option="position")
    sb.add_text_field("cat", tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("date", indexed=True, fast=True)
    return sb.build()


class LexicalIndex(LexicalSearch):
    """A BM25 index of papers, updated in place: ``add`` upserts by id, ``commit`` makes changes visible."""

    def __init__(self, path: Path, index: tantivy.Index, schema: tantivy.Schema, meta: dict[str, Any]) -> None:
        self.path = path
        self._index = index
        self._schema = schema
        self.meta = meta
        self._writer: Any = None
        self._lock = threading.Lock()
        self._reloaded = time.monotonic()
        self._freqs: dict[str, float] = {}
        self._freqs_version: tuple[int, int] | None = None
        self._ids: dict[tuple[int, int], str] | None = None  # address -> id; only a published index has it

    @classmethod
    def open(cls, path: Path) -> LexicalIndex:
        """Open (or create) the index in folder ``path``; an incompatible old index is wiped."""
        path = Path(path)
        meta_path = path / META_FILE
        meta: dict[str, Any] = {}
        if meta_path.exists():
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, ValueError):
                meta = {}
        wanted = {"schema": SCHEMA_VERSION, "analyzer": ANALYZER_VERSION, "engine": "tantivy"}
        if any(meta.get(k) != v for k, v in wanted.items()):
            if path.exists():
                shutil.rmtree(path)
            meta = dict(wanted)
        path.mkdir(parents=True, exist_ok=True)
        schema = _schema()
        try:
            index = tantivy.Index(schema, path=str(path), reuse=True)
        except (OSError, ValueError) as exc:  # damaged files: the index is derived data, start it again
            log.warning("the search index in %s is damaged (%s); the next refresh rebuilds it", path, exc)
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True, exist_ok=True)
            meta = dict(wanted)
            try:
                index = tantivy.Index(schema, path=str(path), reuse=True)
            except (OSError, ValueError) as again:
                raise LexicalIndexError(f"cannot open the search index in {path}: {again}") from again
        out = cls(path, index, schema, meta)
        out.save_meta()
        return out

    @classmethod
    def open_published(cls, path: Path) -> LexicalIndex:
        """Open a published generation's index read-only: nothing is written, and the index never changes
        under it (no reloads). Raises :class:`LexicalIndexError` when it cannot be read."""
        path = Path(path)
        try:
            meta = json.loads((path / META_FILE).read_text())
            index = tantivy.Index.open(str(path))
        except (OSError, ValueError) as exc:
            raise LexicalIndexError(f"cannot open the search index in {path}: {exc}") from exc
        out = cls(path, index, _schema(), meta)
        out._reloaded = float("inf")
        out._ids = {}
        return out

    # ------------------------------------------------------------ writing

    def _get_writer(self) -> Any:
        if self._writer is None:
            try:
                self._writer = self._index.writer(WRITER_HEAP, 1)
            except ValueError as exc:
                raise LexicalIndexError(
                    f"the search index in {self.path} is being written by another "
                    f"process ({exc}); try again when it is done"
                ) from exc
        return self._writer

    def add(self, docs: Iterable[LexicalDoc]) -> int:
        """Add or replace documents by id (visible after :meth:`commit`). Returns how many were written."""
        n = 0
        with self._lock:
            writer = self._get_writer()
            for d in docs:
                writer.delete_documents_by_term("id", d.id)
                doc = tantivy.Document()
                doc.add_text("id", d.id)
                doc.add_text("digest", d.digest)
                doc.add_text("title", " ".join(analyse(d.title)))
                doc.add_text("abstract", _body(d.title, d.abstract or ""))
                doc.add_text("authors", _author_tokens(d.authors or ""))
                for c in _category_terms(d.categories):
                    doc.add_text("cat", c)
                doc.add_integer("date", date_key(d.published))
                writer.add_document(doc)
                n += 1
        return n

    def delete(self, ids: Iterable[str]) -> int:
        """Remove documents by id (visible after :meth:`commit`)."""
        n = 0
        with self._lock:
            writer = self._get_writer()
            for i in ids:
                writer.delete_documents_by_term("id", i)
                n += 1
        return n

    def commit(self) -> None:
        """Make added and deleted documents searchable, persist them, and release the write lock."""
        with self._lock:
            if self._writer is not None:
                self._writer.commit()
                self._writer.wait_merging_threads()
                self._writer = None
            self._index.reload()
            self.save_meta()

    def rollback(self) -> None:
        """Drop uncommitted changes and release the write lock."""
        with self._lock:
            if self._writer is not None:
                self._writer.rollback()
                self._writer = None

    def reload_meta(self) -> None:
        """Re-read ``paperfeed.json`` (another process may have refreshed the index since it was opened)."""
        try:
            meta = json.loads((self.path / META_FILE).read_text())
        except (OSError, ValueError):
            return
        if isinstance(meta, dict) and meta.get("schema") == self.meta.get("schema"):
            self.meta = meta

    def save_meta(self) -> None:
        """Write ``paperfeed.json`` atomically (temp file, then rename)."""
        tmp = self.path / (META_FILE + ".tmp")
        tmp.write_text(json.dumps(self.meta, indent=1, sort_keys=True))
        os.replace(tmp, self.path / META_FILE)

    # ------------------------------------------------------------ reading

    def _searcher(self) -> tantivy.Searcher:
        now = time.monotonic()
        if now - self._reloaded > 1.0:  # pick up commits (a published index never reloads: it never changes)
            self._index.reload()
            self._reloaded = now
        return self._index.searcher()

    def count(self) -> int:
        return int(self._searcher().num_docs)

    def doc_freqs(self, terms: Sequence[str]) -> tuple[dict[str, float], float]:
        """Papers holding each analysed term (title or abstract) and the number of papers; remembered while
        the index is unchanged (a published generation never changes)."""
        searcher = self._searcher()
        version = (int(searcher.num_docs), int(searcher.num_segments))
        if self._freqs_version != version or len(self._freqs) >= MAX_FREQS:
            self._freqs, self._freqs_version = {}, version
        known = self._freqs
        out: dict[str, float] = {}
        for t in terms:
            d = known.get(t)
            if d is None:
                d = known[t] = float(searcher.doc_freq("abstract", t))  # the body field holds the title too
            out[t] = d
        return out, float(searcher.num_docs)

    def digests(self, ids: Collection[str]) -> dict[str, str]:
        """The stored content digest of those of ``ids`` that are indexed."""
        if not ids:
            return {}
        searcher = self._searcher()
        query = tantivy.Query.term_set_query(self._schema, "id", list(ids))
        res = searcher.search(query, len(ids), count=False)
        out: dict[str, str] = {}
        for _, addr in res.hits:
            doc = searcher.doc(addr)
            out[doc["id"][0]] = doc.get_first("digest") or ""
        return out

    def all_ids(self) -> set[str]:
        """Every indexed id (reads each document: for reconciling with the store, not for queries)."""
        searcher = self._searcher()
        n = int(searcher.num_docs)
        if not n:
            return set()
        res = searcher.search(tantivy.Query.all_query(), n, count=False)
        return {searcher.doc(addr)["id"][0] for _, addr in res.hits}

    def _hit_ids(self, searcher: tantivy.Searcher, hits: Sequence[tuple[Any, tantivy.DocAddress]]) -> list[str]:
        """The paper ids of ``hits``. A published index never changes, so there each document's id is read
        (a stored-document fetch, ~2.5 us) once and then remembered by its address: a hybrid page reads 200."""
        known = self._ids
        if known is None:
            return [searcher.doc(addr)["id"][0] for _, addr in hits]
        out = []
        for _, addr in hits:
            key = (addr.segment_ord, addr.doc)
            pid = known.get(key)
            if pid is None:
                if len(known) >= MAX_IDS:
                    known.clear()
                pid = known[key] = searcher.doc(addr)["id"][0]
            out.append(pid)
        return out

    def page(self, request: PageRequest) -> LexicalPage:
        """A page of matches and the total count (see :meth:`LexicalSearch.search_page`)."""
        parsed, k = request.query, request.k
        built = self.build(parsed, allowed=request.allowed)
        if built is None or k <= 0:
            return LexicalPage([], [], 0)
        searcher = self._searcher()
        by_date = request.by_date or not parsed.scored_terms
        kwargs: dict[str, Any] = {"order_by_field": "date"} if by_date else {}
        res = searcher.search(built, k, count=True, offset=request.offset, **kwargs)
        ids = self._hit_ids(searcher, res.hits)
        return LexicalPage(ids, [float(s) for s, _ in res.hits], int(res.count or 0))  # type: ignore[attr-defined]

    def filter_ids(self, query: ParsedQuery, ids: Collection[str]) -> set[str]:
        """Those of ``ids`` that satisfy the query's constraints (phrases, exclusions, author, cat, dates):
        used to hold semantic candidates to the same rules as lexical ones."""
        if not ids:
            return set()
        if not query.has_constraints:
            return set(ids)
        must = constraints(self._schema, query)
        must.append((_MUST, tantivy.Query.term_set_query(self._schema, "id", list(ids))))
        searcher = self._searcher()
        res = searcher.search(tantivy.Query.boolean_query(must), len(ids), count=False)
        return set(self._hit_ids(searcher, res.hits))

    def count_matching(self, query: ParsedQuery) -> int:
        """How many papers satisfy the query's constraints (its words aside)."""
        built = build(self._schema, query, words_needed=False)
        if built is None:
            return int(self._searcher().num_docs)
        return int(self._searcher().search(built, 1, count=True).count or 0)  # type: ignore[attr-defined]

    def matching_ids(self, query: ParsedQuery, limit: int) -> list[str] | None:
        """The ids of every paper that satisfies the query's constraints (its words aside), or None when
        more than ``limit`` do (reading ids costs about 2.5 us each)."""
        built = build(self._schema, query, words_needed=False)
        searcher = self._searcher()
        if built is None:
            return None if searcher.num_docs > limit else sorted(self.all_ids())
        res = searcher.search(built, limit + 1, count=False)
        if len(res.hits) > limit:
            return None
        return self._hit_ids(searcher, res.hits)

    def build(self, query: ParsedQuery, *, allowed: Collection[str] | None = None) -> tantivy.Query | None:
        """The engine query for ``query``, or None when it can match nothing (see lexical_query.build)."""
        return build(self._schema, query, allowed=allowed)
