"""The instance secret that signs CSRF tokens and the links in mails (confirm, manage, unsubscribe, verify).

``PAPERFEED_SECRET_KEY`` wins when set (at least 32 characters, checked by :class:`~paperfeed.config.Settings`).
Without it, each instance generates a random key on first start and keeps it in ``<data_dir>/secret_key``,
readable only by its owner (mode 0600), so two instances never share a key and no key is public.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import sys
import tempfile
from pathlib import Path

from paperfeed.config import MIN_SECRET_LENGTH, Settings

KEY_FILE = "secret_key"


class SecretKeyError(RuntimeError):
    """The generated key cannot be created or read; the message names the file and what to do."""


def key_path(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def ensure_secret_key(settings: Settings) -> Settings:
    """``settings`` with ``secret_key`` filled in: the configured one, else the data dir's (made if missing)."""
    if settings.secret_key:
        return settings
    return settings.model_copy(update={"secret_key": load_or_create_key(key_path(settings))})


def load_or_create_key(path: Path) -> str:
    """The key stored at ``path``; a new random one (48 bytes, 64 characters) when there is none yet."""
    try:
        if not path.exists():
            _create(path)
        return _read(path)
    except OSError as exc:
        raise SecretKeyError(
            f"PAPERFEED_SECRET_KEY: not set, and the generated key file {path} cannot be used "
            f"({exc.strerror or exc}); set PAPERFEED_SECRET_KEY or make PAPERFEED_DATA_DIR writable"
        ) from exc


def _create(path: Path) -> None:
    """Write the key to a private temporary file, then link it into place: concurrent first starts agree
    on one key, and nobody ever reads a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")  # mkstemp creates mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _read(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)
        print(f"warning: {path} was readable by other users; it is now readable only by its owner", file=sys.stderr)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < MIN_SECRET_LENGTH:
        raise SecretKeyError(
            f"PAPERFEED_SECRET_KEY: the key file {path} holds fewer than {MIN_SECRET_LENGTH} characters; "
            "delete it to generate a new one (links already mailed stop working) or set PAPERFEED_SECRET_KEY"
        )
    return key
