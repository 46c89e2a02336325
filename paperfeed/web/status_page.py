"""``/status``: how this instance is doing, in one page: the papers and search indexes, and the arXiv follower.

The same figures as ``paperfeed status`` (search: :func:`paperfeed.search.status.index_status`; follower:
:func:`paperfeed.ingest.follow_status.harvest_status`), read from the store and the index files only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from paperfeed.ids import parse_follow
from paperfeed.ingest.follow_status import harvest_status
from paperfeed.search.status import index_status
from paperfeed.web.deps import SettingsDep, StoreDep
from paperfeed.web.templating import render

router = APIRouter(include_in_schema=False)


def status_data(*, settings: Any, engine: Any) -> dict[str, Any]:
    """Search figures at the top level and the follower's under ``harvest``, as ``paperfeed status --json``."""
    data = dict(index_status(settings, engine))
    data["harvest"] = harvest_status(engine=engine, following=parse_follow(settings.follow))
    return data


@router.get("/status")
def status_page(request: Request, engine: StoreDep, settings: SettingsDep) -> Response:
    """This instance's state: papers, search readiness, and whether following arXiv works."""
    data = status_data(settings=settings, engine=engine)
    return render(request, "status.html", {"status": data, "harvest": data["harvest"]})
