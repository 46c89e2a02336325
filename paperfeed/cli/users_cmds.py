"""``paperfeed users``: add members, list them, give roles, disable or enable accounts, verify an address, make
API tokens."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer

from paperfeed.cli import app
from paperfeed.cli.common import DbOption, JsonOption, fail, get_engine, get_settings, print_json
from paperfeed.community import users as admin
from paperfeed.store.users import User

users_app = typer.Typer(help="Members, roles and API tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")


class RoleChoice(StrEnum):
    member = "member"
    moderator = "moderator"
    admin = "admin"


NameArg = Annotated[str, typer.Argument(metavar="NAME", help="Username (case-insensitive).", show_default=False)]


def _user_json(u: User) -> dict[str, object]:
    return {
        "username": u.username,
        "email": u.email,
        "display_name": u.display_name,
        "role": u.role,
        "disabled": u.disabled,
        "email_verified": u.email_verified,
        "created_at": u.created_at.isoformat(),
    }


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        fail("give --password-stdin to read the password from standard input")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def add(
    name: NameArg,
    email: Annotated[str, typer.Option("--email", help="The member's email address.", show_default=False)],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input.")
    ] = False,
    role: Annotated[RoleChoice, typer.Option("--role", help="Role of the new member.")] = RoleChoice.member,
    db: DbOption = None,
) -> None:
    """Create a member account (the sign-up rules apply to the username, email and password)."""
    password = _read_password(password_stdin)
    settings = get_settings(db)
    engine = get_engine(settings)
    try:
        with engine.begin() as conn:
            user = admin.add_user(
                conn=conn, username=name, email=email, password=password, role=role.value, site_name=settings.site_name
            )
    except admin.UserAdminError as exc:
        fail(f"{exc.field}: {exc}")
    typer.echo(f"added {user.username} <{user.email}> as {user.role}")


@users_app.command("list")
def list_(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List members, oldest account first, with their role and whether they are disabled."""
    engine = get_engine(get_settings(db))
    with engine.connect() as conn:
        found = admin.list_users(conn=conn)
    if as_json:
        print_json([_user_json(u) for u in found])
        return
    if not found:
        typer.echo("no users yet: add one with `paperfeed users add NAME --email E --password-stdin`")
        return
    width = max(len(u.username) for u in found)
    for u in found:
        state = (" (disabled)" if u.disabled else "") + ("" if u.email_verified else " (address not verified)")
        typer.echo(f"{u.username:<{width}}  {u.role:<9}  {u.email}  joined {u.created_at:%Y-%m-%d}{state}")


def _change(db: str | None, name: str, change: admin.Change, role: str = "") -> User:
    try:
        return admin.change_user(engine=get_engine(get_settings(db)), username=name, change=change, role=role)
    except admin.UserAdminError as exc:
        fail(str(exc))


@users_app.command("role")
def role(
    name: NameArg,
    new_role: Annotated[RoleChoice, typer.Argument(metavar="ROLE", help="member, moderator or admin.")],
    db: DbOption = None,
) -> None:
    """Make a member a member, moderator (hides and restores comments) or admin (manages users)."""
    user = _change(db, name, "role", new_role.value)
    typer.echo(f"{user.username} is now {admin.role_phrase(user)}")


@users_app.command("disable")
def disable(name: NameArg, db: DbOption = None) -> None:
    """Disable an account: it can no longer sign in, its sessions end and its API tokens stop working."""
    user = _change(db, name, "disable")
    typer.echo(f"disabled {user.username}: signed out everywhere; sign-in and API tokens refused")


@users_app.command("enable")
def enable(name: NameArg, db: DbOption = None) -> None:
    """Enable a disabled account again (its existing API tokens work again)."""
    user = _change(db, name, "enable")
    typer.echo(f"enabled {user.username}")


@users_app.command("verify")
def verify(name: NameArg, db: DbOption = None) -> None:
    """Mark a member's email address verified without the mailed link (for an instance that cannot send mail:
    you vouch that the address is theirs). They can then vote, comment, submit and manage their digest."""
    engine = get_engine(get_settings(db))
    try:
        with engine.begin() as conn:
            user, already = admin.verify_email(conn=conn, username=name, now=datetime.now(UTC))
    except admin.UserAdminError as exc:
        fail(str(exc))
    if already:
        typer.echo(f"{user.username} <{user.email}> was already verified: nothing changed")
    else:
        typer.echo(f"verified {user.username} <{user.email}>")


@users_app.command("token")
def token(
    name: NameArg,
    label: Annotated[str, typer.Option("--name", help="A label for the token, shown on the account page.")] = "cli",
    db: DbOption = None,
) -> None:
    """Create a personal API token for a member and print it as the last line (it is not shown again)."""
    engine = get_engine(get_settings(db))
    try:
        with engine.begin() as conn:
            user, value = admin.new_token(conn=conn, username=name, name=label)
    except admin.UserAdminError as exc:
        fail(str(exc))
    typer.echo(f"API token for {user.username} (use as: Authorization: Bearer <token>; shown only once):")
    typer.echo(value)
