"""The Submit page: a member puts a paper on today's daily list, by arXiv id or with pasted metadata (the
work is done by :mod:`paperfeed.community.submit`, shared with the JSON API)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from paperfeed.community.submit import SubmitError, submit_arxiv, submit_metadata
from paperfeed.links import paper_url
from paperfeed.web.deps import CsrfProtected, OptionalSearcher, SettingsDep, StoreDep, VerifiedUser
from paperfeed.web.templating import render

router = APIRouter(dependencies=[CsrfProtected], include_in_schema=False)


@router.get("/submit")
def submit_form(request: Request, user: VerifiedUser) -> Response:
    return render(request, "submit.html", {"tab": "submit", "form": {}, "errors": {}})


@router.post("/submit")
def submit(
    request: Request,
    engine: StoreDep,
    settings: SettingsDep,
    user: VerifiedUser,
    searcher: OptionalSearcher,
    how: Annotated[Literal["arxiv", "paste"], Form()] = "paste",
    arxiv: Annotated[str, Form(max_length=300)] = "",
    title: Annotated[str, Form(max_length=2000)] = "",
    abstract: Annotated[str, Form(max_length=60_000)] = "",
    authors: Annotated[str, Form(max_length=100_000)] = "",
    url: Annotated[str, Form(max_length=2000)] = "",
    code_url: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Submit by arXiv id (fetched from arXiv) or with pasted metadata; then show the paper."""
    try:
        if how == "arxiv":
            result = submit_arxiv(engine=engine, settings=settings, user_id=user.id, arxiv=arxiv, searcher=searcher)
        else:
            result = submit_metadata(
                engine=engine,
                settings=settings,
                user_id=user.id,
                title=title,
                abstract=abstract,
                authors=authors,
                arxiv=arxiv,
                url=url,
                code_url=code_url,
                searcher=searcher,
            )
    except SubmitError as exc:
        form = {
            "how": how,
            "arxiv": arxiv,
            "title": title,
            "abstract": abstract,
            "authors": authors,
            "url": url,
            "code_url": code_url,
        }
        return render(
            request, "submit.html", {"tab": "submit", "form": form, "errors": {exc.field: str(exc)}}, status_code=400
        )
    return RedirectResponse(
        paper_url(result.paper_id) + ("?submitted=1" if result.created else "?already=1"), status_code=303
    )
