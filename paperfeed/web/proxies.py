"""Which forwarded headers to believe: ``X-Forwarded-For`` / ``X-Forwarded-Proto`` only from trusted proxies.

The client address matters (sign-in throttling, subscribe rate limits) and so does the scheme (``Secure``
cookies). A header anyone can send must not change them: they are taken from these headers only when the
connection comes from a proxy named in ``PAPERFEED_TRUSTED_PROXIES`` (none by default). uvicorn's own
handling (which trusts 127.0.0.1 unless told otherwise) is switched off in ``paperfeed serve``.
"""

from __future__ import annotations

import ipaddress

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from paperfeed.config import Settings, proxy_list


def trusted_proxies(settings: Settings) -> list[str]:
    """The configured proxies, networks in canonical form (``10.1.2.3/8`` -> ``10.0.0.0/8``)."""
    out = []
    for item in proxy_list(settings.trusted_proxies):
        out.append(str(ipaddress.ip_network(item, strict=False)) if "/" in item else item)
    return out


def add_proxy_headers(app: FastAPI, settings: Settings) -> None:
    """Believe forwarded headers from the configured proxies only (no middleware at all when none)."""
    proxies = trusted_proxies(settings)
    if proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
