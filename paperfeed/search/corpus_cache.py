"""An in-memory structure built from the whole store and rebuilt, in a background thread, when the store changes.

Used by the spelling vocabulary (:mod:`paperfeed.search.spelling`) and the suggestions-as-you-type index
(:mod:`paperfeed.search.suggest`). Readers always get a complete structure (the old one until the new one is
ready); a cheap "did the store change?" query runs at most every ``CHECK_INTERVAL`` seconds and a rebuild
starts at most every ``min_interval`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine

from paperfeed.store.index_sync import change_marker

log = logging.getLogger(__name__)

T = TypeVar("T")
CHECK_INTERVAL = 2.0


class StoreSnapshot(Generic[T]):
    """``get()`` returns the latest structure built by ``build(conn)``, or None before the first is ready."""

    def __init__(self, *, engine: Engine, build: Callable[[Connection], T], name: str, min_interval: float) -> None:
        self.engine = engine
        self.name = name
        self.min_interval = min_interval
        self._build = build
        self._value: T | None = None
        self._built_for: Any = None  # the store's change marker the value was built from
        self._built_at = 0.0
        self._checked = -CHECK_INTERVAL
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    @property
    def ready(self) -> bool:
        return self._value is not None

    def get(self, *, wait: float | None = 0.0) -> T | None:
        """The current structure; starts a rebuild when the store changed. Before the first build is ready,
        waits up to ``wait`` seconds for it (None: as long as it takes)."""
        now = time.monotonic()
        if now - self._checked >= CHECK_INTERVAL:
            self._checked = now
            self._maybe_rebuild(now)
        thread = self._thread
        if self._value is None and thread is not None and (wait is None or wait > 0):
            thread.join(wait)
        return self._value

    def rebuild(self) -> None:
        """Build the structure from the store now, in this thread (waits for a build in progress first)."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()
        with self.engine.connect() as conn:
            marker = change_marker(conn=conn)
        self._run(marker)

    def _maybe_rebuild(self, now: float) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            if self._value is not None and now - self._built_at < self.min_interval:
                return
            try:
                with self.engine.connect() as conn:
                    marker = change_marker(conn=conn)
            except Exception:  # noqa: BLE001 - the store is unreachable: keep what we have
                log.exception("%s: cannot read the store's change marker", self.name)
                return
            if self._value is not None and marker == self._built_for:
                return
            thread = threading.Thread(target=self._run, args=(marker,), name=f"paperfeed-{self.name}", daemon=True)
            thread.start()
            self._thread = thread  # published only once started: readers may join it at once

    def _run(self, marker: Any) -> None:
        started = time.perf_counter()
        try:
            with self.engine.connect() as conn:
                value = self._build(conn)
        except Exception as exc:  # noqa: BLE001 - keep serving the previous structure
            self.error = str(exc)
            log.exception("building the %s failed; keeping the previous one", self.name)
            return
        self._value, self._built_for, self._built_at, self.error = value, marker, time.monotonic(), None
        log.info("built the %s in %.2fs", self.name, time.perf_counter() - started)


class PerStore(Generic[T]):
    """One ``make(engine)`` per store and process, made on first use and dropped with the engine: the
    speller and the suggester each build their structure once, whatever thread asks first."""

    def __init__(self, make: Callable[[Engine], T]) -> None:
        self._make = make
        self._made: weakref.WeakKeyDictionary[Engine, T] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, engine: Engine) -> T:
        with self._lock:
            made = self._made.get(engine)
            if made is None:
                made = self._made[engine] = self._make(engine)
            return made
