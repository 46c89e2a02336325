"""Test data builders: realistic papers without touching the network."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from paperfeed.ids import abs_url, pdf_url
from paperfeed.models import Author, Paper, Version

_counter = itertools.count(1)


def make_paper(**overrides: object) -> Paper:
    """A valid arXiv paper with a unique id; override any field."""
    n = next(_counter)
    pid = str(overrides.pop("id", f"2401.{n:05d}"))
    published = overrides.pop("published", datetime(2024, 1, 1 + n % 28, 18, 0, tzinfo=UTC))
    paper = Paper(
        id=pid,
        title=f"A Study of Example Topic Number {n}",
        abstract=f"We study example topic {n} with careful experiments and report results.",
        authors=[Author("Ada Lovelace", ["Analytical Engines Ltd"]), Author("Alan Turing")],
        categories=["cs.CL", "cs.LG"],
        primary_category="cs.CL",
        published=published,  # type: ignore[arg-type]
        updated=published,  # type: ignore[arg-type]
        versions=[Version(1, published)],  # type: ignore[arg-type]
        abs_url=abs_url(pid),
        pdf_url=pdf_url(pid),
        source="test",
    )
    for key, value in overrides.items():
        setattr(paper, key, value)
    return paper
