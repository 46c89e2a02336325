"""Jinja2 environment of the site: autoescaping, filters (LaTeX to HTML, dates, authors) and ``render``.

LaTeX in titles and abstracts is shown cleanly without JavaScript: the text is HTML-escaped first, then
math between ``$...$`` has common commands turned into Unicode (``\\alpha`` -> α, ``\\leq`` -> ≤),
``^{..}``/``_{..}`` into ``<sup>``/``<sub>`` and the dollar signs dropped. Only those two tags are ever
added, so hostile text stays text.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.responses import Response

from paperfeed.links import safe_url
from paperfeed.web.security import csrf_token
from paperfeed.web.static_assets import asset_url

TEMPLATES_DIR = Path(__file__).parent / "templates"
TEMPLATES_RELOAD = "PAPERFEED_TEMPLATES_RELOAD"  # "1": re-read edited templates (set by `serve --reload`)

_SYMBOLS = {
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "varepsilon": "ε",
    "zeta": "ζ",
    "eta": "η",
    "theta": "θ",
    "vartheta": "ϑ",
    "iota": "ι",
    "kappa": "κ",
    "lambda": "λ",
    "mu": "μ",
    "nu": "ν",
    "xi": "ξ",
    "pi": "π",
    "rho": "ρ",
    "sigma": "σ",
    "tau": "τ",
    "upsilon": "υ",
    "phi": "φ",
    "varphi": "φ",
    "chi": "χ",
    "psi": "ψ",
    "omega": "ω",
    "Gamma": "Γ",
    "Delta": "Δ",
    "Theta": "Θ",
    "Lambda": "Λ",
    "Xi": "Ξ",
    "Pi": "Π",
    "Sigma": "Σ",
    "Phi": "Φ",
    "Psi": "Ψ",
    "Omega": "Ω",
    "leq": "≤",
    "le": "≤",
    "geq": "≥",
    "ge": "≥",
    "neq": "≠",
    "ne": "≠",
    "approx": "≈",
    "sim": "∼",
    "simeq": "≃",
    "equiv": "≡",
    "propto": "∝",
    "times": "×",
    "cdot": "·",
    "pm": "±",
    "mp": "∓",
    "div": "÷",
    "infty": "∞",
    "partial": "∂",
    "nabla": "∇",
    "sum": "∑",
    "prod": "∏",
    "int": "∫",
    "in": "∈",
    "notin": "∉",
    "subset": "⊂",
    "subseteq": "⊆",
    "supset": "⊃",
    "cup": "∪",
    "cap": "∩",
    "forall": "∀",
    "exists": "∃",
    "emptyset": "∅",
    "to": "→",
    "rightarrow": "→",
    "leftarrow": "←",
    "Rightarrow": "⇒",
    "Leftarrow": "⇐",
    "leftrightarrow": "↔",
    "mapsto": "↦",
    "ll": "≪",
    "gg": "≫",
    "sqrt": "√",
    "circ": "∘",
    "star": "⋆",
    "ell": "ℓ",
    "hbar": "ℏ",
    "dots": "…",
    "ldots": "…",
    "cdots": "⋯",
    "langle": "⟨",
    "rangle": "⟩",
    "lvert": "|",
    "rvert": "|",
    "mid": "∣",
    "log": "log",
    "exp": "exp",
    "sin": "sin",
    "cos": "cos",
    "max": "max",
    "min": "min",
    "arg": "arg",
    "lim": "lim",
    "|": "‖",
    "{": "\ue000",
    "}": "\ue001",
    "#": "#",
    "_": "_",
    "$": "$",
    "top": "⊤",
    "perp": "⊥",
    "wedge": "∧",
    "vee": "∨",
    "neg": "¬",
    "prime": "′",
    "%": "%",
    "&amp;": "&amp;",
}
_STYLE_CMDS = re.compile(
    r"\\(?:mathbf|mathrm|mathit|mathcal|mathbb|text|textbf|textit|emph|operatorname|"
    r"boldsymbol|bm|hat|tilde|bar|vec|mathsf|texttt)\s*\{([^{}]*)\}"
)
_CMD = re.compile(r"\\([A-Za-z]+|%|&amp;|\||\{|\}|#|_|\$)")
_SUPSUB = re.compile(r"([\^_])(?:\{([^{}]*)\}|(\\?[A-Za-z0-9+\-*′]))")
_MATH = re.compile(r"\$\$?([^$]{1,400}?)\$\$?")


def _math_to_html(expr: str) -> str:
    """Turn one (already escaped) math expression into plain text plus <sup>/<sub>."""
    for _ in range(3):  # nested styling such as \mathbf{\hat{x}}
        expr = _STYLE_CMDS.sub(r"\1", expr)
    expr = _CMD.sub(lambda m: _SYMBOLS.get(m.group(1), m.group(1)), expr)

    def supsub(m: re.Match[str]) -> str:
        tag = "sup" if m.group(1) == "^" else "sub"
        return f"<{tag}>{m.group(2) if m.group(2) is not None else m.group(3)}</{tag}>"

    expr = _SUPSUB.sub(supsub, expr)
    expr = expr.replace("{", "").replace("}", "").replace("\\,", " ").replace("~", " ")
    return expr.replace("\ue000", "{").replace("\ue001", "}")


_PRIVATE = dict.fromkeys((0xE000, 0xE001, 0xE002))


def latex(text: str | None) -> Markup:
    """Escape ``text`` and render its ``$...$`` math as Unicode and sub/superscripts (see module doc)."""
    # private-use placeholders keep \{ \} \$ literal through the math pass (and never come from input)
    escaped = str(escape((text or "").translate(_PRIVATE))).replace("\\$", "\ue002")
    rendered = _MATH.sub(lambda m: f'<span class="math">{_math_to_html(m.group(1))}</span>', escaped)
    rendered = _CMD.sub(lambda m: _SYMBOLS.get(m.group(1), m.group(0)), rendered)  # stray \alpha in text
    return Markup(rendered.replace("\ue000", "{").replace("\ue001", "}").replace("\ue002", "$"))


# A URL in escaped text: stops at whitespace and at escaped <, >, " and ' (so "<https://x.org>" works).
_URL = re.compile(r"(?<![\w/=])https?://(?:(?!&(?:lt|gt|#34|#39|quot);)[^\s<>\"'])+")
_TRAILING = re.compile(r"[.,:;!?)\]]+$")


def linkify(html: Markup | str) -> Markup:
    """Make the bare http(s) URLs of already-escaped text (``latex`` output) clickable.

    Works on escaped text, so a URL can never leave the attribute it is put in; trailing punctuation
    (``.``, ``)``...) stays outside the link.
    """

    def link(m: re.Match[str]) -> str:
        url = m.group(0)
        found = _TRAILING.search(url)
        cut = found.start() if found else len(url)
        if url[:cut].endswith("&amp"):  # keep the entity whole
            cut += 1
        url, tail = url[:cut], url[cut:]
        if len(url) <= len("https://") + 2:
            return m.group(0)
        return f'<a href="{url}" rel="nofollow noopener">{url}</a>{tail}'

    return Markup(_URL.sub(link, str(html)))


def shorten(text: str | None, limit: int = 300) -> str:
    """At most ``limit`` characters, cut at a word boundary, with an ellipsis: ``… the values…``, never
    ``values.…`` or ``values,…`` (punctuation where the cut falls is dropped before the ellipsis)."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    # never end inside an open $...$: drop the unbalanced tail so the math filter stays clean
    if cut.count("$") % 2:
        cut = cut[: cut.rfind("$")].rstrip()
    return cut.rstrip(".,;:!?-–— ") + "…"


def authors_short(names: list[str], limit: int = 4) -> str:
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f" and {len(names) - limit} more"


def nice_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return f"{value:%b} {value.day}, {value.year}"


def nice_datetime(value: datetime | None) -> str:
    """``Dec 7, 2026, 14:05 UTC``: a date with its time of day (comments, edits), in UTC as stored."""
    if value is None:
        return ""
    when = value.astimezone(UTC) if value.tzinfo else value
    return f"{nice_date(when)}, {when:%H:%M} UTC"


def make_templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        # No stat() of three template files on every page: templates change with a new release, or in
        # development under `paperfeed serve --reload`, which sets TEMPLATES_RELOAD for its workers.
        auto_reload=os.environ.get(TEMPLATES_RELOAD) == "1",
    )
    env.filters.update(latex=latex, linkify=linkify, shorten=shorten, authors_short=authors_short, nice_date=nice_date)
    env.filters["nice_datetime"] = nice_datetime
    env.filters["safe_url"] = safe_url  # links from data: only http(s), else nothing (paperfeed.links)
    env.globals.update(csrf_token=csrf_token, asset_url=asset_url)  # /static/x?v=<content hash>
    return Jinja2Templates(env=env)


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    """Render ``name`` with the context every page needs (user, theme, site name, CSRF)."""
    from paperfeed.web.deps import optional_user

    app = request.app
    today = datetime.now(UTC).date()
    ctx: dict[str, Any] = {
        "site_name": app.state.settings.site_name,
        "mail_enabled": app.state.settings.emails_enabled,  # pages offer mail only when it can be sent
        "user": optional_user(request),
        "theme": request.cookies.get("theme") if request.cookies.get("theme") in ("light", "dark") else "",
        "path": request.url.path,
        "this_week": f"{today.isocalendar()[0]}-W{today.isocalendar()[1]:02d}",
        "this_month": f"{today:%Y-%m}",
    }
    ctx.update(context or {})
    templates: Jinja2Templates = app.state.templates
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
