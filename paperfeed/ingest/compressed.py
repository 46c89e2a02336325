"""Compressed inputs, read transparently: ``.gz`` files and single-file ``.zip`` archives.

Kaggle ships the arXiv snapshot as a zip holding ``arxiv-metadata-oai-snapshot.json``; harvested pages
are often kept gzipped. Both are decompressed as a stream (constant memory), and the format is detected
from the decompressed content and the inner file name.

What a compressed file unpacks to is bounded (:func:`unpack_limit`: 100 times its compressed size plus
64 MiB; real data compresses 3 to 20 times): a decompression bomb is refused, naming the file and the
limit, once that many bytes have come out, never unpacked whole.
"""

from __future__ import annotations

import errno
import gzip
import io
import os
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
# What a damaged archive raises while it is being read.
DAMAGE_ERRORS: tuple[type[BaseException], ...] = (EOFError, gzip.BadGzipFile, zlib.error, zipfile.BadZipFile)


UNPACK_RATIO = 100  # a compressed input may unpack to this many times its size ...
UNPACK_SLACK = 64 << 20  # ... plus this much (small files of very repetitive text)


class ArchiveError(ValueError):
    """An archive Paperfeed cannot read as one input (several files inside, unreadable, or a bomb)."""


def unpack_limit(compressed_size: int) -> int:
    """How many bytes a compressed file of ``compressed_size`` bytes may unpack to."""
    return UNPACK_RATIO * compressed_size + UNPACK_SLACK


class _Bounded(io.RawIOBase):
    """The decompressed stream of ``path``, refusing (ArchiveError) to give more than ``limit`` bytes."""

    def __init__(self, inner: BinaryIO, path: Path, compressed_size: int) -> None:
        self._inner, self._path, self._size = inner, path, compressed_size
        self._limit = unpack_limit(compressed_size)
        self._given = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._inner.read(min(len(view), self._limit + 1 - self._given))
        if self._given + len(data) > self._limit:
            raise ArchiveError(
                f"{self._path}: unpacks to more than {self._limit >> 20} MB, the limit for a compressed file of "
                f"{_size_text(self._size)} ({UNPACK_RATIO} times its size plus {UNPACK_SLACK >> 20} MB); "
                "refused as a decompression bomb. Unpack it yourself and ingest the result if it is genuine"
            )
        view[: len(data)] = data
        self._given += len(data)
        return len(data)


def _size_text(size: int) -> str:
    return f"{size / (1 << 20):.1f} MB" if size >= 1 << 20 else f"{size / 1024:.0f} KB"


def _bounded(inner: BinaryIO, path: Path, compressed_size: int) -> BinaryIO:
    return io.BufferedReader(_Bounded(inner, path, compressed_size), buffer_size=1 << 16)  # type: ignore[return-value]


class InputFileError(ValueError):
    """A path that is not a readable regular file: missing, a directory, a FIFO or device, a symlink loop."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a directory; pass the files inside it"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a regular file; save the data to a file and ingest that"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    return "is not a regular file"


def _stat_problem(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return f"{path}: symlink loop (too many levels of symbolic links)"
    if exc.errno == errno.ENOENT and path.is_symlink():
        return f"{path}: broken symlink (its target {os.readlink(path)} does not exist)"
    if exc.errno == errno.ENOENT:
        return f"{path}: no such file"
    return f"{path}: {exc.strerror or exc}"


def check_input_file(path: Path) -> None:
    """Raise InputFileError (one line naming ``path``) unless it is a regular file, without opening it.

    A FIFO is refused here rather than opened: opening one blocks until a writer appears.
    """
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise InputFileError(_stat_problem(path, exc)) from exc
    if not stat.S_ISREG(mode):
        raise InputFileError(f"{path}: {_kind(mode)}")


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for binary reading, refusing anything but a regular file without ever blocking.

    The file is opened non-blocking and checked with ``fstat``, so a path swapped for a FIFO after
    :func:`check_input_file` still cannot hang the command.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputFileError(_stat_problem(path, exc)) from exc
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise InputFileError(f"{path}: {_kind(mode)}")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


@contextmanager
def open_input(path: Path, wrap: Callable[[BinaryIO], BinaryIO] | None = None) -> Iterator[tuple[BinaryIO, str]]:
    """The decompressed content of ``path`` as a binary stream, with the name to detect its format by.

    ``wrap`` is applied to the raw file first (the ingest runner counts compressed bytes read with it,
    so a progress bar over the file size stays right).
    """
    with open_regular(path) as f:
        magic = f.read(4)
        f.seek(0)
        size = os.fstat(f.fileno()).st_size
        src: BinaryIO = wrap(f) if wrap else f
        if magic[:2] == GZIP_MAGIC:
            inner = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
            with gzip.GzipFile(fileobj=src, mode="rb") as g:
                yield _bounded(g, path, size), inner  # type: ignore[arg-type]
        elif magic == ZIP_MAGIC:
            with _zip_member(src, path) as (member, inner):
                yield _bounded(member, path, size), inner
        else:
            yield src, path.name


@contextmanager
def _zip_member(src: BinaryIO, path: Path) -> Iterator[tuple[BinaryIO, str]]:
    try:
        archive = zipfile.ZipFile(src)
    except DAMAGE_ERRORS as exc:
        raise ArchiveError(f"{path}: damaged zip archive: {exc}") from exc
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) != 1:
            names = ", ".join(m.filename for m in members[:3])
            raise ArchiveError(
                f"{path}: the zip archive holds {len(members)} files ({names}); unpack it and pass the files"
            )
        with archive.open(members[0]) as member:
            yield member, members[0].filename  # type: ignore[misc]


def read_head(path: Path, size: int = 4096) -> tuple[bytes, str]:
    """The first ``size`` decompressed bytes of ``path`` and the name to detect its format by."""
    with open_input(path) as (stream, inner):
        try:
            return stream.read(size), inner
        except DAMAGE_ERRORS as exc:
            raise ArchiveError(f"{path}: damaged compressed file: {exc}") from exc
