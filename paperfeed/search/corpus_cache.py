"""An in-memory structure built from the whole store and rebuilt when the store changes.

Used by the spelling vocabulary (:mod:`paperfeed.search.spelling`) and the suggestions-as-you-type index
(:mod:`paperfeed.search.suggest`). Readers always get a complete structure (the old one until the new one is
ready); a server's index watcher rebuilds it, at most every ``min_interval`` seconds, when the store changed.
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


class StoreSnapshot(Generic[T]):
    """``get()`` returns the latest structure built by ``build(conn)``. Nothing here starts a thread: the
    structure is built by whoever asks first (a command, or a server's index watcher at start) and rebuilt by
    :meth:`refresh_if_changed`, which a server's index watcher calls after each new generation."""

    def __init__(self, *, engine: Engine, build: Callable[[Connection], T], name: str, min_interval: float) -> None:
        self.engine = engine
        self.name = name
        self.min_interval = min_interval
        self._build = build
        self._value: T | None = None
        self._built_for: Any = None  # the store's change marker the value was built from
        self._built_at = -min_interval
        self._lock = threading.Lock()
        self.error: str | None = None

    @property
    def ready(self) -> bool:
        return self._value is not None

    def get(self, *, wait: float | None = 0.0) -> T | None:
        """The current structure. Before the first is built: built now, in this thread, unless ``wait`` is 0
        (then None)."""
        if self._value is None and (wait is None or wait > 0):
            self._build_now(missing_only=True)
        return self._value

    def rebuild(self) -> None:
        """Build the structure from the store now, in this thread (one build at a time)."""
        self._build_now(missing_only=False)

    def _build_now(self, *, missing_only: bool) -> None:
        with self._lock:
            if missing_only and self._value is not None:
                return  # another thread built it while this one waited
            with self.engine.connect() as conn:
                marker = change_marker(conn=conn)
            self._run(marker)

    def refresh_if_changed(self, *, now: bool = False) -> None:
        """Rebuild when the store changed since the last build, at most every ``min_interval`` seconds (``now``:
        whatever the time since the last build)."""
        if not now and self._value is not None and time.monotonic() - self._built_at < self.min_interval:
            return
        with self._lock:
            try:
                with self.engine.connect() as conn:
                    marker = change_marker(conn=conn)
            except Exception as exc:  # noqa: BLE001 - the store is unreachable: keep what we have
                log.warning("%s: cannot read the store's change marker (%s)", self.name, exc)
                return
            if self._value is not None and marker == self._built_for:
                return
            self._run(marker)

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
