"""Absolute links that follow the host a page was asked for.

With ``PAPERFEED_BASE_URL`` set, every absolute link (feeds, Markdown, API ``url`` fields) starts with it.
Unset (the default), links are built from the request: its scheme, host and port (``Host`` header), and the
ASGI ``root_path``. Behind a reverse proxy the scheme comes from ``X-Forwarded-Proto`` only when the proxy is
listed in ``PAPERFEED_TRUSTED_PROXIES`` (uvicorn's ``ProxyHeadersMiddleware``, see
:mod:`paperfeed.web.proxies`); the proxy must pass the ``Host`` header on (nginx: ``proxy_set_header Host
$host``). Mail is different: a digest or confirmation has no request to follow, so it needs
``PAPERFEED_BASE_URL`` (see :func:`mail_base_url`).

Handlers that write links take ``settings: SiteSettingsDep`` instead of ``SettingsDep``: the same settings
with ``base_url`` filled in for this request. Code that sends mail keeps the configured settings.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from paperfeed.config import Settings
from paperfeed.links import paper_url  # noqa: F401 - the one paper address, re-exported for pages

MAIL_NEEDS_BASE_URL = (
    "PAPERFEED_BASE_URL is not set: mails need the public address of the site for their links "
    "(e.g. PAPERFEED_BASE_URL=https://papers.example.org)"
)


@lru_cache(maxsize=8192)
def author_url(name: str) -> str:
    """``/authors/<name>``: an author's page."""
    return "/authors/" + quote(name, safe="/")


@lru_cache(maxsize=8192)
def phrase_search_url(phrase: str) -> str:
    """``/search?q="<phrase>"``: a search for a keyphrase as a phrase (the keyword chips of a card)."""
    return "/search?q=" + quote(f'"{phrase}"', safe="/")


def request_base_url(request: Request) -> str:
    """``scheme://host[:port][root_path]`` of this request, without a trailing slash."""
    return str(request.base_url).rstrip("/")


def site_url(request: Request, settings: Settings) -> str:
    """The base of absolute links in the answer to ``request``: the configured one, else the request's."""
    configured = settings.base_url.strip().rstrip("/")
    return configured or request_base_url(request)


def site_settings(request: Request) -> Settings:
    """The app's settings with ``base_url`` set for this request (unchanged when configured)."""
    settings: Settings = request.app.state.settings
    if settings.base_url.strip():
        return settings
    return settings.model_copy(update={"base_url": request_base_url(request)})


def mail_base_url(settings: Settings) -> str | None:
    """The base of links in mails: ``PAPERFEED_BASE_URL``, or None when it is not set (say so, don't mail)."""
    return settings.base_url.strip().rstrip("/") or None


SiteSettingsDep = Annotated[Settings, Depends(site_settings)]
