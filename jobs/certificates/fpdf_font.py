"""Giving fpdf2 a font parsed once per worker instead of once per document. The one place that uses fpdf2 internals.

``FPDF.add_font`` parses the TrueType file for every document: widths of every character, the glyph ids, the
font descriptor. ``FPDF.output`` then subsets the font's fontTools object in place and closes it, so it cannot
serve a second document. fpdf2 offers no supported way to share a parsed font between documents. So, once per
font file and process, fpdf2's own ``add_font`` builds the font on a scratch document (the *template*). Each
document gets a shallow copy of it, with its own glyph map (``SubsetMap``) and font descriptor (``output``
writes to both), and a fontTools object opened from the font's bytes in memory, for the subsetter to consume.

That fontTools object is opened with ``recalcBBoxes=False``. With the default, saving the subset decodes and
re-encodes the outline of every glyph, only to recompute bounding boxes that the prepared font (``fonts``)
already has right. That step was about a third of ``output``.

Measured on the demo's names (bench/certificates.py, see bench/RESULTS.md): fpdf2 alone takes about 34 ms per
certificate, and about 20 ms with this module. Most of what is left is fontTools subsetting and saving the font
for each document (~11 ms), which fpdf2's ``output`` always does.

This relies on ``TTFFont``'s attributes. fpdf2 is pinned in pyproject.toml. ``fast_path_available`` checks them
when the module is imported: if they changed, documents fall back to fpdf2's own ``add_font``. This is slower
but still correct. tests/jobs/test_certificate_fpdf_font.py fails on any other fpdf2 version.
"""

from __future__ import annotations

import copy
import functools
import io
import threading
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont

PINNED_FPDF2 = "2.8.9"  # the version this module was written against; keep in step with pyproject.toml
# The TTFFont attributes this module reads or replaces per document.
_RELIED_ON = frozenset({"i", "ttfont", "subset", "desc", "missing_glyphs", "biggest_size_pt", "fontkey", "color_font"})


def fast_path_available() -> bool:
    """Whether the installed fpdf2 has the ``TTFFont`` this module was written for."""
    return set(getattr(TTFFont, "__slots__", ())) >= _RELIED_ON


_FAST = fast_path_available()


@dataclass(frozen=True)
class _Template:
    font: TTFFont
    data: bytes  # the file's bytes, to open a fresh fontTools object per document without touching the disk


_lock = threading.Lock()


def add_font(pdf: FPDF, family: str, path: Path) -> None:
    """Make ``path`` available to ``pdf`` as ``family`` (regular style), like ``pdf.add_font(family, "", path)``."""
    template = _template(path) if _FAST else None
    if template is None:
        pdf.add_font(family, "", str(path))
        return
    font = copy.copy(template.font)
    font.i = len(pdf.fonts) + 1
    font.fontkey = family.lower()
    font.biggest_size_pt = 0
    font.missing_glyphs = []
    font.desc = copy.copy(template.font.desc)
    font.ttfont = TTFont(io.BytesIO(template.data), recalcTimestamp=False, recalcBBoxes=False, lazy=True)
    font.subset = SubsetMap(font)
    pdf.fonts[font.fontkey] = font


def preload(paths: list[Path]) -> None:
    """Parse these font files now (at worker start-up) rather than in the first documents that use them."""
    for path in paths:
        _template(path)


def _template(path: Path) -> _Template | None:
    with _lock:  # documents are rendered in threads: parse each file once, not once per thread
        return _parsed(path)


@functools.lru_cache(maxsize=16)
def _parsed(path: Path) -> _Template | None:
    """fpdf2's own parse of ``path``; None for a font this module does not handle (then fpdf2 does it all)."""
    data = path.read_bytes()
    probe = TTFont(io.BytesIO(data), lazy=True)
    try:
        # fpdf2 draws a replacement .notdef into its parsed copy when the file has none; copies would lack it.
        # Colour fonts become Type 3 fonts, with per-document state this module does not copy.
        plain = "glyf" in probe and ".notdef" in probe.getGlyphOrder() and "COLR" not in probe
    finally:
        probe.close()
    if not plain:
        return None
    scratch = FPDF()
    scratch.add_font("template", "", str(path))
    font = scratch.fonts["template"]
    if not isinstance(font, TTFFont) or font.color_font is not None:
        return None
    font.close()  # the template's own fontTools object is never used again; each document opens its own
    return _Template(font, data)
