"""The admin page ``/admin/users``: what ``paperfeed users ...`` does, in the browser, for admins only.

Everyone who is not a signed-in admin gets 403. Every form carries the CSRF token (router dependency).
An admin cannot disable their own account nor demote or disable the last enabled admin.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine

from paperfeed.community import users as admin
from paperfeed.store.users import User
from paperfeed.web.deps import CsrfProtected, OptionalUser, SettingsDep, StoreDep
from paperfeed.web.templating import render

router = APIRouter(prefix="/admin", dependencies=[CsrfProtected], include_in_schema=False)
Name = Annotated[str, Path(max_length=64)]
Field = Annotated[str, Form(max_length=2000)]


def _admin(user: User | None) -> User:
    if user is None or user.role != "admin":
        raise HTTPException(403, "Only admins can manage users. Sign in with an admin account.")
    return user


def _page(request: Request, engine: Engine, status: int = 200, **extra: Any) -> Response:
    with engine.connect() as conn:
        members = admin.list_users(conn=conn)
    context = {"members": members, "roles": admin.ROLES, "form": {}, "errors": {}, "tab": "admin", **extra}
    return render(request, "admin_users.html", context, status_code=status)


def _done(message: str) -> Response:
    return RedirectResponse("/admin/users?done=" + quote(message), status_code=303)


@router.get("/users")
def users_page(request: Request, engine: StoreDep, user: OptionalUser) -> Response:
    """Members with their roles; forms to add a member, change roles, disable, enable, make a token."""
    _admin(user)
    return _page(request, engine)


@router.post("/users")
def add_user(
    request: Request,
    engine: StoreDep,
    settings: SettingsDep,
    user: OptionalUser,
    username: Field,
    email: Field,
    password: Field,
    role: Field = "member",
) -> Response:
    _admin(user)
    try:
        with engine.begin() as conn:
            made = admin.add_user(
                conn=conn,
                username=username,
                email=email,
                password=password,
                role=role,  # type: ignore[arg-type]  # checked by add_user
                site_name=settings.site_name,
            )
    except admin.UserAdminError as exc:
        form = {"username": username, "email": email, "role": role}
        return _page(request, engine, 400, form=form, errors={exc.field: str(exc)})
    return _done(f"Added {made.username} as {made.role}.")


_DONE = {
    "role": lambda u: f"{u.username} is now {admin.role_phrase(u)}.",
    "disable": lambda u: f"Disabled {u.username}: signed out, sign-in and API tokens refused.",
    "enable": lambda u: f"Enabled {u.username}.",
}


def _change(
    request: Request, engine: Engine, user: User | None, name: str, change: admin.Change, role: str = ""
) -> Response:
    acting = _admin(user)
    try:
        changed = admin.change_user(engine=engine, username=name, change=change, role=role, acting=acting)
    except admin.UserAdminError as exc:
        return _page(request, engine, 400, error=str(exc))
    return _done(_DONE[change](changed))


@router.post("/users/{name}/role")
def set_role(request: Request, name: Name, engine: StoreDep, user: OptionalUser, role: Field) -> Response:
    return _change(request, engine, user, name, "role", role)


@router.post("/users/{name}/disable")
def disable(request: Request, name: Name, engine: StoreDep, user: OptionalUser) -> Response:
    return _change(request, engine, user, name, "disable")


@router.post("/users/{name}/enable")
def enable(request: Request, name: Name, engine: StoreDep, user: OptionalUser) -> Response:
    return _change(request, engine, user, name, "enable")


@router.post("/users/{name}/token")
def make_token(request: Request, name: Name, engine: StoreDep, user: OptionalUser, label: Field = "") -> Response:
    """A new personal API token for the member, shown on this page once."""
    _admin(user)
    try:
        with engine.begin() as conn:
            owner, token = admin.new_token(conn=conn, username=name, name=label)
    except admin.UserAdminError as exc:
        return _page(request, engine, 400, error=str(exc))
    return _page(request, engine, new_token={"username": owner.username, "token": token})
