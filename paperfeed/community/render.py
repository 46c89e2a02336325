"""Comment Markdown to safe HTML: markdown-it-py renders, nh3 (ammonia) sanitises.

- Raw HTML in a comment is shown as text (markdown-it ``html=False``); nh3 then keeps only the tags below,
  so nothing executable survives even if the renderer let something through.
- Links keep only ``http``, ``https`` and ``mailto`` targets (no ``javascript:`` or ``data:``) and get
  ``rel="nofollow ugc"``.
- Headings and images are not rendered: ``# x`` stays a paragraph (a page has one ``<h1>``), and
  ``![alt](url)`` becomes a link, so a comment cannot load third-party images.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "em", "hr", "li", "ol", "p", "pre", "strong", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).disable(
    ["heading", "lheading", "image"]
)


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
    )
