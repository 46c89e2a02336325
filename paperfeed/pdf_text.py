"""The text of an uploaded PDF, for "papers like this text" (the ``/similar`` page, ``paperfeed similar --text``).

Read with pypdf (maintained, pure Python). Bounded: at most :data:`MAX_PDF_BYTES` are accepted and the text
of the first :data:`MAX_PAGES` pages is read (a paper's title, abstract and introduction). When the text holds
an "Abstract" heading near its start, what follows it is kept, so the ranking reads the abstract rather than
the title block. Refused, with a message for the member, when the file is not a PDF, cannot be read, or has
no text layer (a scan).
"""

from __future__ import annotations

import io
import logging
import re

MAX_PDF_BYTES = 10 * 1024 * 1024  # uploads above this are refused (HTTP 413)
MAX_PAGES = 3
ABSTRACT_WITHIN = 4_000  # an "Abstract" heading further into the text is not the paper's abstract
NOT_PDF = "this file is not a PDF: upload a .pdf file, or paste the abstract instead"
NO_TEXT = "this PDF has no text layer: paste the abstract instead"
TOO_BIG = f"this PDF is larger than {MAX_PDF_BYTES // (1024 * 1024)} MB: upload a smaller one, or paste the abstract"
_ABSTRACT = re.compile(r"\babstract\b[\s.:\u2014\u2013-]*", re.IGNORECASE)


class PdfTextError(ValueError):
    """Why a PDF gave no text, in words for the member who uploaded it."""


def is_pdf(data: bytes) -> bool:
    """True when ``data`` starts like a PDF (``%PDF-`` within its first kilobyte, as readers allow)."""
    return b"%PDF-" in data[:1024]


def pdf_text(data: bytes) -> str:
    """The text of a PDF's first pages (from its abstract when one is found), whitespace collapsed.
    :class:`PdfTextError` when it is too large, not a PDF, unreadable or without a text layer."""
    if len(data) > MAX_PDF_BYTES:
        raise PdfTextError(TOO_BIG)
    if not is_pdf(data):
        raise PdfTextError(NOT_PDF)
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged-but-readable files warn on every object
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise PdfTextError("this PDF is password-protected: paste the abstract instead")
        pages = [page.extract_text() or "" for page in reader.pages[:MAX_PAGES]]
    except PdfTextError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise PdfTextError(f"this PDF cannot be read ({type(exc).__name__}): paste the abstract instead") from exc
    text = " ".join(" ".join(pages).split())
    if not any(ch.isalnum() for ch in text):
        raise PdfTextError(NO_TEXT)
    return from_abstract(text)


def from_abstract(text: str) -> str:
    """``text`` from just after an "Abstract" heading near its start, or all of it when there is none."""
    found = _ABSTRACT.search(text, 0, ABSTRACT_WITHIN)
    rest = text[found.end() :] if found else ""
    return rest if any(ch.isalnum() for ch in rest) else text
