"""Code and project links found in a paper's abstract and arXiv comments, at ingest.

Every http(s) link (also ``github.com/...`` or ``www.…`` written without a scheme) is read from the text in
order, with trailing punctuation removed. The first link to a code host (:data:`CODE_HOSTS`: GitHub, GitLab,
Hugging Face, Bitbucket, SourceForge, Codeberg, Google Code) is the paper's code; the first other link that is
not a reference, video or licence (:data:`NOT_PROJECT_HOSTS`) is its project page (``*.github.io`` and
``*.sourceforge.net`` pages included). Only links :func:`paperfeed.links.safe_url` accepts are kept. A link
the source gives (``code_url``/``project_url``) is never replaced. Precision and recall on a hand-labelled sample:
docs/ingest.md ("Code and project links").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from paperfeed.links import safe_url

CODE_HOSTS = (
    "github.com",
    "gitlab.com",
    "huggingface.co",
    "bitbucket.org",
    "sourceforge.net",
    "codeberg.org",
    "code.google.com",
)
NOT_PROJECT_HOSTS = (
    "arxiv.org",
    "doi.org",
    "dx.doi.org",
    "youtu.be",
    "youtube.com",
    "creativecommons.org",
    "clinicaltrials.gov",
    "twitter.com",
    "x.com",
    "ncbi.nlm.nih.gov",
    "pubmed.gov",
)
# Matched on the lower-cased text (a case-insensitive pattern is 3 times slower); spans index the original.
_URL = re.compile(r"(?:https?://|www\.|(?:github|gitlab)\.com/|huggingface\.co/)[^\s<>\"'\[\]{}|\\^`]+")
_GLUED = re.compile(r"[\w./@-]")  # before a scheme-less match: part of another word or address, not a link
_TRAILING = ".,;:!?)'\""
MAX_URL = 2000


@dataclass(frozen=True)
class FoundLinks:
    code: str | None = None
    project: str | None = None


def _clean(raw: str) -> str:
    url = raw
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break  # a balanced parenthesis belongs to the URL (Wikipedia-style paths)
        url = url[:-1]
    if not re.match(r"https?://", url, re.IGNORECASE):
        url = "https://" + url
    return url


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _under(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _is_code(url: str) -> bool:
    host = _host(url)
    if not _under(host, CODE_HOSTS) or host.endswith(".github.com"):
        return False
    path = [p for p in urlsplit(url).path.split("/") if p]
    return len(path) >= 1 if host != "github.com" and host != "gitlab.com" else len(path) >= 2


def find_links(text: str) -> list[str]:
    """Every http(s) link in ``text``, in order, cleaned (trailing punctuation off, scheme added)."""
    out: list[str] = []
    low = (text or "").lower()  # most abstracts have no link: skip the regex (ingest speed, bench/ingest.py)
    if "http" not in low and "www." not in low and ".com/" not in low and ".co/" not in low:
        return out
    if len(low) != len(text):  # lower() changed the length (rare letters): spans would not line up
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    for m in _URL.finditer(low):
        start = m.start()
        if not low.startswith("http", start) and start > 0 and _GLUED.match(text[start - 1]):
            continue
        url = safe_url(_clean(text[start : m.end()]))
        if url and len(url) <= MAX_URL and _host(url) and url not in out:
            out.append(url)
    return out


def extract_links(*texts: str | None) -> FoundLinks:
    """The code link and project page found in ``texts`` (abstract, arXiv comments), each None if absent."""
    code = project = None
    for url in (u for t in texts if t for u in find_links(t)):
        host = _host(url)
        if _is_code(url):
            code = code or url.removesuffix(".git")
        elif host not in CODE_HOSTS and not _under(host, NOT_PROJECT_HOSTS):  # *.github.io, *.sourceforge.net
            project = project or url
    return FoundLinks(code=code, project=project)
