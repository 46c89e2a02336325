"""Links that come from data (``abs_url``, ``pdf_url``, ``code_url``, ``project_url``): only http(s).

Ingest drops any other link with a note naming the field (the record still lands); every renderer and API
checks again with :func:`safe_url`, so a row written around ingest (an old database, a hand edit) still
cannot put a ``javascript:`` or ``data:`` link on a page or in an API answer.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

LINK_FIELDS = ("abs_url", "pdf_url", "code_url", "project_url")
ALLOWED_SCHEMES = ("http", "https")
# What browsers ignore inside a URL (tabs, newlines) or strip around it (C0 controls, space): a scheme is
# judged as a browser would read it, so "java\tscript:" counts as "javascript:".
_IGNORED = re.compile(r"[\x00-\x20\x7f]")


def link_problem(value: str) -> str | None:
    """Why ``value`` is not an acceptable link (one short phrase), or None when it is one."""
    compact = _IGNORED.sub("", value)
    try:
        parts = urlsplit(compact)
    except ValueError:
        return "not a valid URL"
    scheme = parts.scheme.lower()
    if not scheme:
        return "not an absolute http(s) URL"
    if scheme not in ALLOWED_SCHEMES:
        return f"'{scheme[:20]}:' links are not allowed (only http and https)"
    if not parts.netloc or value != value.strip() or any(c in value for c in "\t\r\n\\"):
        return "not a valid http(s) URL"
    return None


def safe_url(value: str | None) -> str | None:
    """``value`` when it is an absolute http(s) URL with a host, else None."""
    if not value or link_problem(value) is not None:
        return None
    return value


def doi_url(doi: str) -> str:
    """``https://doi.org/<doi>`` with the DOI percent-encoded (``#``, ``?``, spaces, ``<`` cannot end or
    change the link): the one DOI link of pages, the Markdown export and the API."""
    return "https://doi.org/" + quote(doi.strip(), safe="/")


def paper_url(paper_id: str, base: str = "") -> str:
    """The one address of a paper: ``/papers/<id>``, after ``base`` for an absolute link. Old-style ids keep
    their slash (``/papers/hep-th/9901001``); everything else that is not URL-safe is percent-encoded. Used by
    pages, the API, feeds, mails, suggestions and the citation map alike."""
    return base.rstrip("/") + "/papers/" + quote(paper_id, safe="/")
