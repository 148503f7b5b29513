"""Reading a freshly written certificate back, so a broken file is never recorded as done.

The check is what a person relies on: one page, text that can be extracted (the font is embedded with its
Unicode map, so copy-paste and search work), and the participant's name in that text exactly as written.
"""

from __future__ import annotations

import io

from pypdf import PdfReader

from .fonts import normalize


class CertificateInvalid(ValueError):
    """The PDF does not read back as the certificate it should be."""


def check_certificate(pdf: bytes, *, expected_name: str) -> None:
    """Raise :class:`CertificateInvalid` unless ``pdf`` is one page whose text contains ``expected_name``."""
    try:
        reader = PdfReader(io.BytesIO(pdf), strict=True)
        pages = len(reader.pages)
        text = reader.pages[0].extract_text() if pages else ""
    except Exception as exc:  # pypdf raises many types for a damaged file
        raise CertificateInvalid(f"the PDF cannot be read back: {type(exc).__name__}: {exc}") from exc
    if pages != 1:
        raise CertificateInvalid(f"expected one page, found {pages}")
    if not text.strip():
        raise CertificateInvalid("no text can be extracted from the PDF")
    if _squash(expected_name) not in _squash(text):
        raise CertificateInvalid(f"the name {expected_name!r} is not in the PDF's text")


def _squash(text: str) -> str:
    return " ".join(normalize(text).split())
