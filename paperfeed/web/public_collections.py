"""Public collections: ``/c/{slug}`` (the papers in the owner's order, with notes), ``/c/{slug}.atom``, and
the owner's page ``/library/collections/{id}/share`` to make a collection public or private, describe it,
note and order its papers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response

from paperfeed.store import public_collections as store
from paperfeed.store.papers import get_papers
from paperfeed.web.collection_feed import collection_atom
from paperfeed.web.deps import CsrfProtected, CurrentUser, OptionalUser, StoreDep
from paperfeed.web.templating import render
from paperfeed.web.urls import SiteSettingsDep
from paperfeed.web.views import Card, decorate

router = APIRouter(include_in_schema=False)
Slug = Annotated[str, Path(max_length=200)]
CollectionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
NoteText = Annotated[str, Form(max_length=store.MAX_NOTE)]  # a collection's description, a paper's note
Step = Annotated[int, Form(ge=-1, le=1)]  # move a paper one place up (-1) or down (1)


def _public(engine: StoreDep, slug: str) -> tuple[store.PublicCollection, list[store.Item], dict[str, Card]]:
    with engine.connect() as conn:
        found = store.get_public(conn=conn, slug=slug)
        if found is None:
            raise HTTPException(404, "There is no public collection here (it may have been made private).")
        items = store.items(conn=conn, collection_id=found.id)
        papers = get_papers(conn=conn, ids=[i.paper_id for i in items])
    return found, items, {pid: Card(p) for pid, p in papers.items()}


@router.get("/c/{slug}.atom")
def public_feed(slug: Slug, engine: StoreDep, settings: SiteSettingsDep) -> Response:
    found, items, cards = _public(engine, slug)
    body = collection_atom(
        collection=found, items=items, papers={k: c.paper for k, c in cards.items()}, settings=settings
    )
    return Response(body, media_type="application/atom+xml; charset=utf-8")


@router.get("/c/{slug}")
def public_page(request: Request, slug: Slug, engine: StoreDep, user: OptionalUser) -> Response:
    found, items, cards = _public(engine, slug)
    with engine.connect() as conn:
        decorate(conn, list(cards.values()), user)
    entries = [(cards[i.paper_id], i.note) for i in items if i.paper_id in cards]
    return render(request, "public_collection.html", {"collection": found, "entries": entries})


def _owned(engine: StoreDep, user_id: int, collection_id: int) -> store.PublicCollection:
    with engine.connect() as conn:
        found = store.get_collection(conn=conn, collection_id=collection_id)
    if found is None or found.owner_id != user_id:
        raise HTTPException(404, "That collection does not exist.")
    return found


@router.get("/library/collections/{collection_id}/share")
def share_page(request: Request, collection_id: CollectionId, engine: StoreDep, user: CurrentUser) -> Response:
    found = _owned(engine, user.id, collection_id)
    with engine.connect() as conn:
        items = store.items(conn=conn, collection_id=found.id)
        papers = get_papers(conn=conn, ids=[i.paper_id for i in items])
    entries = [(Card(papers[i.paper_id]), i.note) for i in items if i.paper_id in papers]
    return render(request, "collection_share.html", {"collection": found, "entries": entries, "tab": "library"})


def _back(collection_id: int) -> Response:
    return RedirectResponse(f"/library/collections/{collection_id}/share", status_code=303)


def _item_changed(changed: bool, collection_id: int) -> Response:
    """Back to the share page, or 404 when the paper is not in the member's collection."""
    if not changed:
        raise HTTPException(404, "That paper is not in this collection.")
    return _back(collection_id)


@router.post("/library/collections/{collection_id}/public", dependencies=[CsrfProtected])
def set_public(
    collection_id: CollectionId,
    engine: StoreDep,
    user: CurrentUser,
    public: Annotated[bool, Form()] = False,
    description: NoteText = "",
) -> Response:
    with engine.begin() as conn:
        done = store.set_public(
            conn=conn, user_id=user.id, collection_id=collection_id, public=public, description=description.strip()
        )
    if done is None:
        raise HTTPException(404, "That collection does not exist.")
    return _back(collection_id)


@router.post("/library/collections/{collection_id}/items/{paper_id:path}/note", dependencies=[CsrfProtected])
def set_note(
    collection_id: CollectionId, paper_id: str, engine: StoreDep, user: CurrentUser, note: NoteText = ""
) -> Response:
    with engine.begin() as conn:
        changed = store.set_note(conn=conn, user_id=user.id, collection_id=collection_id, paper_id=paper_id, note=note)
    return _item_changed(changed, collection_id)


@router.post("/library/collections/{collection_id}/items/{paper_id:path}/move", dependencies=[CsrfProtected])
def move(collection_id: CollectionId, paper_id: str, engine: StoreDep, user: CurrentUser, step: Step = 1) -> Response:
    with engine.begin() as conn:
        changed = store.move(conn=conn, user_id=user.id, collection_id=collection_id, paper_id=paper_id, step=step)
    return _item_changed(changed, collection_id)
