"""The ``/similar`` page: a member pastes an abstract or uploads a PDF and gets the papers like it, ranked as a
paper's similar papers (:meth:`paperfeed.search.protocols.Searcher.similar_text`; ``POST /api/v1/similar`` is
the same). Anyone may open the page; finding papers (the POST) needs a signed-in member, like the API's token.

The upload is bounded before it is read: :mod:`paperfeed.web.body_limit` refuses (413) a request to this path
longer than :data:`MAX_REQUEST_BYTES` (the PDF limit of :mod:`paperfeed.pdf_text` plus room for the form's
fields), and a PDF over the limit within it is refused here, on this page, with 413. The page works without
JavaScript: the form posts and the answer is the page with the results, the text read filled in (so another
sort needs no second upload).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from paperfeed.models import SimilarSort
from paperfeed.pdf_text import MAX_PDF_BYTES, PdfTextError, pdf_text
from paperfeed.rank.related import SIMILAR_SORTS, TEXT_CHARS, bound_text, papers_like_text
from paperfeed.web.deps import CsrfProtected, CurrentUser, OptionalSearcher, OptionalUser, StoreDep
from paperfeed.web.schemas import TEXT_MAX_CHARS
from paperfeed.web.templating import render
from paperfeed.web.views import Card, decorate

MAX_REQUEST_BYTES = MAX_PDF_BYTES + 1024 * 1024  # the PDF, the pasted text and the form's own fields
PER_PAGE = 20
NOTHING_GIVEN = "paste an abstract (or any passage), or choose a PDF to upload"


router = APIRouter(include_in_schema=False)


def _sentence(note: str) -> str:
    """A note of the API (lower case, no full stop) as a sentence on the page."""
    note = note[:1].upper() + note[1:]
    return note if note.endswith((".", "!", "?")) else note + "."


def _context(user: Any, **extra: Any) -> dict[str, Any]:
    return {
        "tab": "similar",
        "signed_in": user is not None,
        "text": "",
        "sort": "relevance",
        "sorts": SIMILAR_SORTS,
        "cards": None,
        "notes": [],
        "errors": {},
        "max_mb": MAX_PDF_BYTES // (1024 * 1024),
        "text_chars": TEXT_CHARS,
        "text_max": TEXT_MAX_CHARS,
        **extra,
    }


@router.get("/similar")
def similar_form(request: Request, user: OptionalUser) -> Response:
    """The form: paste an abstract or upload a PDF (signed-out visitors are asked to sign in)."""
    return render(request, "similar.html", _context(user))


@router.post("/similar", dependencies=[CsrfProtected])
def similar_results(
    request: Request,
    engine: StoreDep,
    user: CurrentUser,
    searcher: OptionalSearcher,
    text: Annotated[str, Form(max_length=TEXT_MAX_CHARS)] = "",
    pdf: Annotated[UploadFile | None, File()] = None,
    sort: Annotated[SimilarSort, Form()] = "relevance",
) -> Response:
    """Papers like the pasted text or the uploaded PDF's text (the PDF wins when both are given)."""
    ctx = _context(user, text=text, sort=sort)
    if pdf is not None and pdf.filename:  # a file input left empty sends no file name
        data = pdf.file.read(MAX_PDF_BYTES + 1)
        try:
            if not data:
                raise PdfTextError("the file is empty")
            text = pdf_text(data)
        except PdfTextError as exc:
            ctx["errors"] = {"pdf": f"{pdf.filename}: {exc}"}
            return render(request, "similar.html", ctx, status_code=413 if len(data) > MAX_PDF_BYTES else 422)
        ctx["notes"].append(f"Read {pdf.filename}: the text of its first pages, from its abstract on.")
        ctx["text"] = bound_text(text)[0]
    if not text.strip():
        ctx["errors"] = {"text": NOTHING_GIVEN}
        return render(request, "similar.html", ctx, status_code=422)
    if searcher is None:
        ctx["errors"] = {"text": "Search is not available on this instance right now."}
        return render(request, "similar.html", ctx, status_code=503)
    try:
        found = papers_like_text(engine=engine, searcher=searcher, text=text, limit=PER_PAGE, sort=sort)
    except ValueError as exc:  # no words in it
        ctx["errors"] = {"text": str(exc)}
        return render(request, "similar.html", ctx, status_code=422)
    with engine.connect() as conn:
        cards = decorate(conn, [Card(h.paper, score=h.score, reason=h.reason) for h in found.hits], user)
    ctx["notes"] += [_sentence(n) for n in found.notes]
    ctx["cards"] = cards
    return render(request, "similar.html", ctx)
