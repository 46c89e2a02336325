"""Email verification pages: the link mailed to a new member, and "send the link again".

The account page (``/account``) says whether the address is verified, when a link was sent, or that this
instance cannot send mail; see :mod:`paperfeed.email_verification`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from paperfeed.digest.render import TokenError
from paperfeed.email_verification import send_verification, verify
from paperfeed.store import rate_limits
from paperfeed.store.users import User
from paperfeed.web.deps import CsrfProtected, CurrentUser, SettingsDep, StoreDep
from paperfeed.web.templating import render

router = APIRouter(include_in_schema=False)
RESENDS_PER_DAY = 5  # verification mails a member may ask for in 24 hours (no mail-bombing an address)
RESEND_LIMITS = (rate_limits.Limit(RESENDS_PER_DAY, 24 * 3600, "verification mails a day"),)


@router.get("/account/verify/{token}")
def verify_link(request: Request, token: str, engine: StoreDep, settings: SettingsDep) -> Response:
    """Following the mailed link proves the member reads the address (as a subscription confirmation)."""
    try:
        user = verify(engine=engine, settings=settings, token=token)
    except TokenError as exc:
        return render(
            request,
            "account_verify.html",
            {"ok": False, "reason": str(exc), "expired": exc.expired},
            status_code=400,
        )
    return render(request, "account_verify.html", {"ok": True, "email": user.email})


@router.post("/account/verify/resend", dependencies=[CsrfProtected])
def resend(request: Request, engine: StoreDep, settings: SettingsDep, user: CurrentUser) -> Response:
    """Mail a fresh verification link now; the account page then says what happened."""
    if user.email_verified:
        return RedirectResponse("/account", status_code=303)
    try:  # counted before the mail goes: parallel requests cannot all pass the check
        with engine.begin() as conn:
            reserved = rate_limits.take(conn, key=f"verify-resend:user:{user.id}", limits=RESEND_LIMITS)
    except rate_limits.RateLimited:
        return RedirectResponse("/account?verification=limit", status_code=303)
    outcome = send_verification(engine=engine, settings=settings, user=user)
    if outcome.status != "sent":  # only mails handed to the server count
        with engine.begin() as conn:
            rate_limits.give_back(conn, event_ids=[reserved])
    return RedirectResponse(f"/account?verification={outcome.status}", status_code=303)


def verify_first(request: Request, user: User) -> Response:
    """403 page for what needs a verified address (the digest subscription of the account's email)."""
    return render(request, "account_verify.html", {"required": True, "email": user.email}, status_code=403)
