"""Passwords: which new ones are accepted, following NIST SP 800-63B (section 5.1.1.2), and how they are
stored (argon2id, argon2-cffi defaults, re-hashed on sign-in when the parameters change).

- at least 8 characters (and at most 1024), any characters but NUL; no composition rules;
- refused when easy to guess: common passwords, repeats and sequences, dictionary words, and words taken
  from the context (the username, the email address and its parts, the site's name). The estimate comes
  from ``zxcvbn`` (Dropbox's strength estimator: 30k common passwords, English words and names, patterns,
  and the context words passed as ``user_inputs``); a password needs an estimated 10^6 guesses (score 2).

Each refusal is one sentence for the form, saying why.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MIN_SCORE = 2  # zxcvbn: 0 < 10^3 guesses, 1 < 10^6, 2 < 10^8, 3 < 10^10, 4 more
ESTIMATED_PREFIX = 72  # zxcvbn's own limit; a long password is judged by its first 72 characters


def context_words(*, username: str = "", email: str = "", site_name: str = "") -> list[str]:
    """Words an attacker would try first for this member: username, email, its parts, the site's name."""
    words = [username, email, site_name]
    local, _, domain = email.partition("@")
    words += [local, domain, *re.split(r"[^0-9A-Za-z]+", f"{username} {local} {domain} {site_name}")]
    return sorted({w.strip().lower() for w in words if len(w.strip()) >= 3})


def password_problem(password: str, *, username: str = "", email: str = "", site_name: str = "") -> str | None:
    """Why ``password`` is refused as a new password, or None when it is accepted."""
    if "\x00" in password:
        return "a password cannot contain NUL characters"
    if len(password) < MIN_PASSWORD:
        return f"use at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"use at most {MAX_PASSWORD} characters"
    context = context_words(username=username, email=email, site_name=site_name)
    lowered = password.lower()
    if any(lowered == w or (len(w) >= 4 and w in lowered and len(w) * 2 >= len(lowered)) for w in context):
        return "this password is built from your username, email address or the site's name; choose another"
    result = zxcvbn(password[:ESTIMATED_PREFIX], user_inputs=context)
    if result["score"] >= MIN_SCORE:
        return None
    if any(m.get("dictionary_name") == "user_inputs" for m in result["sequence"]):
        return "this password is built from your username, email address or the site's name; choose another"
    warning = str(result["feedback"].get("warning") or "").rstrip(".")
    reason = f"{warning[:1].lower()}{warning[1:]}" if warning else "it would be guessed quickly"
    return f"this password is too easy to guess ({reason}); a few uncommon words together make a strong one"


_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; a malformed stored hash counts as a mismatch."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
