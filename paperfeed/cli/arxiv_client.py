"""The arXiv client of the commands that call arXiv (``harvest arxiv``, ``fetch-arxiv``, ``enrich``): paced and
retried requests whose waits are reported on stderr, and Ctrl-C answered with what was kept."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from paperfeed.cli.common import console, fail
from paperfeed.config import Settings
from paperfeed.ingest.http import PoliteClient


def _say_wait(reason: str, seconds: float) -> None:
    console.print(f"[yellow]arXiv:[/yellow] {reason}; retrying in {seconds:.1f} s", highlight=False)


@contextmanager
def arxiv_client(settings: Settings, *, interrupted: str) -> Iterator[PoliteClient]:
    """A paced arXiv client for the block; Ctrl-C in it exits 130 with ``interrupted`` (what is kept, what
    to run to go on)."""
    with PoliteClient.from_settings(settings, on_wait=_say_wait) as client:
        try:
            yield client
        except KeyboardInterrupt:
            fail(interrupted, 130)
