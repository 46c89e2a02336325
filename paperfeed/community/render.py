"""Comment Markdown to safe HTML: markdown-it-py renders, nh3 (ammonia) sanitises.

- Raw HTML in a comment is shown as text (markdown-it ``html=False``); nh3 then keeps only the tags below,
  so nothing executable survives even if the renderer let something through.
- Bare ``http(s)://`` URLs become links (linkify-it-py), like written ``[text](url)`` links.
- Links keep only absolute ``http``, ``https`` and ``mailto`` targets (no ``javascript:`` or ``data:``, and no
  relative or protocol-relative ``//host`` ones, which would point wherever the page is served from) and get
  ``rel="nofollow ugc"``; a link whose target is dropped stays as its text.
- The HTML is rendered once, when a comment is written or edited, and stored (``comments.body_html``).
- Headings and images are not rendered: ``# x`` stays a paragraph (a page has one ``<h1>``), and
  ``![alt](url)`` becomes a link, so a comment cannot load third-party images.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "em", "hr", "li", "ol", "p", "pre", "strong", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}

# ``linkify`` (linkify-it-py) makes bare URLs with a scheme links (``https://x.org/y``); fuzzy links stay off,
# so ``example.com``, ``www.x.org``, file names and version numbers stay text.
_md = (
    MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False})
    .enable("linkify")
    .disable(["heading", "lheading", "image"])
)
if _md.linkify is None:  # markdown-it makes it only when linkify-it-py is installed (a dependency)
    raise ImportError("comments need linkify-it-py: pip install linkify-it-py")
_md.linkify.set({"fuzzy_link": False, "fuzzy_email": False})


def _absolute_links_only(tag: str, attribute: str, value: str) -> str | None:
    """nh3's attribute filter: an ``href`` stays only with one of :data:`URL_SCHEMES` and, for the web ones,
    a host (``//evil.example`` and ``/path`` are dropped)."""
    if tag != "a" or attribute != "href":
        return value
    parts = urlsplit(value)
    if parts.scheme.lower() not in URL_SCHEMES:
        return None
    if parts.scheme.lower() != "mailto" and not parts.netloc:
        return None
    return value


def render_comment(markdown: str) -> str:
    """Sanitised HTML for a comment's Markdown (safe to insert into a page or a feed)."""
    html = _md.render(markdown)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow ugc",
        strip_comments=True,
        attribute_filter=_absolute_links_only,
    )
