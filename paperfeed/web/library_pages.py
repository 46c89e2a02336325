"""The member's library: saved papers, everything or one named collection; creating and deleting
collections."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from paperfeed.ingest.validate import clean_text
from paperfeed.store import library as store_library
from paperfeed.store.account_errors import AccountError, AlreadyExists
from paperfeed.store.library import collections_for_user, library_list
from paperfeed.store.papers import get_papers
from paperfeed.web.deps import CsrfProtected, CurrentUser, StoreDep
from paperfeed.web.page_params import PER_PAGE, Page
from paperfeed.web.templating import render
from paperfeed.web.views import Card, decorate, page_links

router = APIRouter(dependencies=[CsrfProtected], include_in_schema=False)


@router.get("/library")
def library(request: Request, engine: StoreDep, user: CurrentUser, c: int | None = None, p: Page = 1) -> Response:
    """The member's saved papers: everything, or one named collection."""
    with engine.connect() as conn:
        collections = collections_for_user(conn=conn, user_id=user.id)
        current = next((x for x in collections if x.id == c), None)
        if c is not None and current is None:
            raise HTTPException(404, "That collection does not exist.")
        ids = library_list(conn=conn, user_id=user.id, collection_id=c, offset=(p - 1) * PER_PAGE, limit=PER_PAGE + 1)
        more = len(ids) > PER_PAGE
        cards = decorate(conn, [Card(x) for x in get_papers(conn=conn, ids=ids[:PER_PAGE]).values()], user)
    total = (p - 1) * PER_PAGE + len(cards) + (1 if more else 0)
    return render(
        request,
        "library.html",
        {
            "collections": collections,
            "current": current,
            "cards": cards,
            "tab": "library",
            "pages": page_links("/library", {"c": c}, p, PER_PAGE, total),
        },
    )


@router.post("/library/collections")
def create_collection(
    request: Request, engine: StoreDep, user: CurrentUser, name: Annotated[str, Form(max_length=200)]
) -> Response:
    try:
        with engine.begin() as conn:
            made = store_library.create_collection(conn=conn, user_id=user.id, name=clean_text(name))
    except AlreadyExists as exc:
        raise HTTPException(409, f"{exc.field}: {exc}") from exc
    except AccountError as exc:
        raise HTTPException(400, f"{exc.field}: {exc}") from exc
    return RedirectResponse(f"/library?c={made.id}", status_code=303)


@router.post("/library/collections/{collection_id}/delete")
def delete_collection(collection_id: int, engine: StoreDep, user: CurrentUser) -> Response:
    with engine.begin() as conn:
        if not store_library.delete_collection(conn=conn, user_id=user.id, collection_id=collection_id):
            raise HTTPException(404, "That collection does not exist (the default one cannot be deleted).")
    return RedirectResponse("/library", status_code=303)
