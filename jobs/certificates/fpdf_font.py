"""Giving fpdf2 a font prepared once per worker instead of once per document. The one place that uses fpdf2
internals.

``FPDF.add_font`` parses the TrueType file for every document, and ``FPDF.output`` subsets the font with
fontTools and saves the subset, for every document. For a certificate that was most of its cost (~12 of 20 ms).
fpdf2 offers no supported way to share that work between documents, so this module does it in two ways:

- **Small fonts are embedded whole** (the prepared fonts of ``fonts``, a few hundred glyphs each). Per-document
  subsetting buys a few KiB there and costs ~10 ms. Once per file and process, fpdf2's own ``add_font`` parses
  it on a scratch document (the *template*) and the file is compressed (``_WholeFont``): every document
  carries the same font program bytes. Text is written with the font's own glyph ids as character codes
  (``_GlyphIdMap``), so the CID-to-glyph map is ``/Identity``; each document still lists the widths and the
  ToUnicode map of only the glyphs it uses, because pypdf reads those back for every certificate. Both are
  written compactly, since that reading is most of the check's cost: the most common width becomes the
  default (``/DW``) and only the other glyphs are listed in ``/W``, the ToUnicode pairs stand on one line, and
  the CIDSystemInfo is inline rather than an object of its own. ``output`` hands fpdf2 an ``OutputProducer``
  (its public ``output_producer_class`` parameter) whose ``_add_fonts`` writes these objects in the place and
  order of fpdf2's own.
- **Big fonts are subset per document**, as fpdf2 does (the full font, the fallback for rare characters). Each
  document gets a shallow copy of the template with its own glyph map and a fontTools object opened from the
  bytes in memory, which fpdf2's ``output`` subsets and closes. It is opened with ``recalcBBoxes=False``:
  otherwise saving the subset decodes and re-encodes every glyph to recompute boxes the font already has.

This relies on fpdf2's internals (``TTFFont``'s attributes, ``SubsetMap``'s methods and ``OutputProducer``'s
``_add_fonts``). fpdf2 is pinned in pyproject.toml. ``fast_path_available``
checks them when the module is imported: if they changed, documents fall back to fpdf2's own ``add_font`` and
``output``. This is slower but still correct. tests/jobs/test_certificate_fpdf_font.py fails on any other
fpdf2 version. Numbers: bench/certificates.py, recorded in bench/RESULTS.md.
"""

from __future__ import annotations

import copy
import functools
import io
import threading
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from fpdf import FPDF
from fpdf.fonts import Glyph, SubsetMap, TTFFont
from fpdf.output import OutputProducer, PDFFont
from fpdf.syntax import Name, PDFArray, PDFContentStream

PINNED_FPDF2 = "2.8.9"  # the version this module was written against; keep in step with pyproject.toml
# The TTFFont attributes this module reads or replaces per document.
_RELIED_ON = frozenset({"i", "ttfont", "subset", "desc", "missing_glyphs", "biggest_size_pt", "fontkey", "color_font"})
# A font with at most this many glyphs is embedded whole; the prepared fonts have 370 to 960.
WHOLE_FONT_MAX_GLYPHS = 1200
# What fpdf2 writes as a CID font's CIDSystemInfo object, written inline instead (one object less to resolve).
SYSTEM_INFO = "<</Registry (Adobe) /Ordering (UCS) /Supplement 0>>"
CMAP_BLOCK = 100  # bfchar pairs per block at most (the CMap specification's limit)
SPACE = 0x20


def fast_path_available() -> bool:
    """Whether the installed fpdf2 has the internals this module was written for."""
    return (
        set(getattr(TTFFont, "__slots__", ())) >= _RELIED_ON
        and all(hasattr(SubsetMap, name) for name in ("pick", "pick_glyph", "items", "get_all_glyph_names"))
        and callable(getattr(OutputProducer, "_add_fonts", None))
    )


_FAST = fast_path_available()


class _CompressedStream(PDFContentStream):
    """A PDF stream whose contents were compressed once per process (fpdf2 would compress them per document)."""

    def __init__(self, compressed: bytes, *, uncompressed_length: int | None = None) -> None:
        super().__init__(contents=compressed, compress=False)
        self.filter = Name("FlateDecode")
        self.length1 = uncompressed_length  # /Length1 of a TrueType font program; None is left out


@dataclass(frozen=True)
class _WholeFont:
    """What every document embedding this font whole shares: its glyphs by code point, its compressed file."""

    glyphs: dict[int, Glyph]  # code point → glyph; code points drawn by one glyph share the lowest one's Glyph
    unicode_pairs: dict[int, str]  # glyph id → its ToUnicode pair, "<glyph id> <UTF-16 of its code point>"
    font_file: bytes  # the TrueType file, compressed
    font_file_length: int


class _GlyphIdMap(SubsetMap):
    """One document's glyph map for a font embedded whole: each character is written as its glyph id.

    It records the glyphs the document uses, for its widths and ToUnicode map (pypdf reads those back for every
    certificate: the whole font's would cost it ~3 ms). A character without a glyph is dropped, as fpdf2 does
    (``fonts.CertificateFont`` refuses such text beforehand).
    """

    def __init__(self, font: TTFFont, whole: _WholeFont) -> None:
        # Not SubsetMap.__init__: it looks glyphs up through a class-wide cache that would keep the map alive.
        self.font = font
        self.whole = whole
        self._next = 0
        self._reserved: list[int] = []
        self._char_id_per_glyph: dict[Glyph | None, int] = {}

    def pick(self, unicode: int) -> int | None:  # type: ignore[override]
        glyph = self.whole.glyphs.get(unicode)
        return None if glyph is None else self.pick_glyph(glyph)

    def pick_glyph(self, glyph: Glyph | None) -> int | None:
        if glyph is None:
            return None
        self._char_id_per_glyph[glyph] = glyph.glyph_id
        return glyph.glyph_id


@dataclass(frozen=True)
class _Template:
    font: TTFFont
    data: bytes  # the file's bytes, to open a fresh fontTools object per document without touching the disk
    whole: _WholeFont | None  # set when the font is embedded whole


_lock = threading.Lock()


def add_font(pdf: FPDF, family: str, path: Path) -> None:
    """Make ``path`` available to ``pdf`` as ``family`` (regular style), like ``pdf.add_font(family, "", path)``.

    Write the document with ``output`` (below), so that a font embedded whole is placed as prepared.
    """
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
    if template.whole is not None:
        font.subset = _GlyphIdMap(font, template.whole)  # the template's closed fontTools object stays unread
    else:
        font.ttfont = TTFont(io.BytesIO(template.data), recalcTimestamp=False, recalcBBoxes=False, lazy=True)
        font.subset = SubsetMap(font)
    pdf.fonts[font.fontkey] = font


def output(pdf: FPDF) -> bytes:
    """The document as PDF bytes, with the fonts embedded whole placed as prepared (``pdf.output()`` otherwise)."""
    if not _FAST:
        return bytes(pdf.output())
    return bytes(pdf.output(output_producer_class=_Producer))


def preload(paths: list[Path]) -> None:
    """Parse these font files now (at worker start-up) rather than in the first documents that use them."""
    for path in paths:
        _template(path)


class _Producer(OutputProducer):
    """fpdf2's PDF writer, except that fonts embedded whole get their prepared parts instead of a subset."""

    def _add_fonts(self, *resources: Any) -> Any:
        fonts = self.fpdf.fonts
        whole = {key: (font, embedded) for key, font in fonts.items() if (embedded := _whole(font)) is not None}
        if not whole:
            return super()._add_fonts(*resources)
        every = dict(fonts)
        for key in whole:
            del fonts[key]
        try:
            objects = super()._add_fonts(*resources)  # every other font, as fpdf2 does it
        finally:
            fonts.clear()
            fonts.update(every)
        for font, embedded in whole.values():
            assert isinstance(font, TTFFont)
            objects[font.i] = self._add_whole_font(font, embedded)
        return objects

    def _add_whole_font(self, font: TTFFont, whole: _WholeFont) -> PDFFont:
        """The objects fpdf2 writes for a TrueType font, in its order (less its CIDSystemInfo object, written inline):
        the used glyphs' widths and ToUnicode map, the font file shared by every document, and glyph ids as
        character codes (``/CIDToGIDMap /Identity``)."""
        name = f"MPDFAA+{font.name}"
        composite = PDFFont(subtype="Type0", base_font=name, encoding="Identity-H")
        self._add_pdf_obj(composite, "fonts")
        glyph_map = font.subset
        assert isinstance(glyph_map, _GlyphIdMap)
        default_width, widths = _widths(glyph_map)
        cid_font = PDFFont(subtype="CIDFontType2", base_font=name, d_w=default_width, w=widths)
        self._add_pdf_obj(cid_font, "fonts")
        composite.descendant_fonts = PDFArray([cid_font])
        to_unicode = PDFContentStream(_to_unicode(glyph_map).encode("latin-1"), compress=True)
        self._add_pdf_obj(to_unicode, "fonts")
        composite.to_unicode = to_unicode
        cid_font.c_i_d_system_info = SYSTEM_INFO  # type: ignore[assignment]  # (a string is written as it is)
        descriptor = font.desc
        descriptor.font_name = Name(name)
        self._add_pdf_obj(descriptor, "fonts")
        cid_font.font_descriptor = descriptor
        cid_font.c_i_d_to_g_i_d_map = Name("Identity")  # type: ignore[assignment]
        font_file = _CompressedStream(whole.font_file, uncompressed_length=whole.font_file_length)
        self._add_pdf_obj(font_file, "fonts")
        descriptor.font_file2 = font_file  # type: ignore[attr-defined]
        return composite


def _whole(font: object) -> _WholeFont | None:
    return font.subset.whole if isinstance(font, TTFFont) and isinstance(font.subset, _GlyphIdMap) else None


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
        glyph_count = len(probe.getGlyphOrder())
    finally:
        probe.close()
    if not plain:
        return None
    scratch = FPDF()
    scratch.add_font("template", "", str(path))
    font = scratch.fonts["template"]
    if not isinstance(font, TTFFont) or font.color_font is not None:
        return None
    font.close()  # never read again: a subset document opens its own, a whole one needs none
    whole = _whole_font(font, data) if glyph_count <= WHOLE_FONT_MAX_GLYPHS and not font.is_symbol else None
    return _Template(font, data, whole)


def _whole_font(font: TTFFont, data: bytes) -> _WholeFont:
    glyphs: dict[int, Glyph] = {}
    by_id: dict[int, Glyph] = {}
    for unicode, glyph_id in sorted(font.glyph_ids.items()):
        if glyph_id not in by_id:
            by_id[glyph_id] = Glyph(glyph_id, (unicode,), font.cmap[unicode], int(font.cw[unicode]))
        glyphs[unicode] = by_id[glyph_id]
    pairs = {glyph_id: f"<{glyph_id:04X}> <{_utf16(glyph.unicode)}>" for glyph_id, glyph in by_id.items()}
    return _WholeFont(glyphs, pairs, zlib.compress(data), len(data))


def _widths(glyph_map: _GlyphIdMap) -> tuple[int, str]:
    """``/DW`` and ``/W`` of the glyphs used: the most common width is the default, and ``/W`` lists the others
    (and the space, which pypdf looks up there for its word spacing) as runs of consecutive ids on one line."""
    widths = {glyph_id: glyph.glyph_width for glyph, glyph_id in glyph_map.items() if glyph}
    space = glyph_map.whole.glyphs.get(SPACE)
    space_id = -1 if space is None else space.glyph_id
    counts = Counter(width for glyph_id, width in widths.items() if glyph_id != space_id)
    default = counts.most_common(1)[0][0] if counts else 0
    runs: list[list[int]] = []  # [first id, width, width, ...]
    previous = -2
    for glyph_id in sorted(widths):
        width = widths[glyph_id]
        if width == default and glyph_id != space_id:
            continue
        if glyph_id == previous + 1:
            runs[-1].append(width)
        else:
            runs.append([glyph_id, width])
        previous = glyph_id
    listed = " ".join(f"{run[0]} [{' '.join(map(str, run[1:]))}]" for run in runs)
    return default, f"[{listed}]"


def _to_unicode(glyph_map: _GlyphIdMap) -> str:
    """The ToUnicode CMap of the glyphs used (so text can be copied and searched): fpdf2's, with each block's
    pairs on one line (each pair written once per process)."""
    pairs = [glyph_map.whole.unicode_pairs[glyph_id] for glyph, glyph_id in glyph_map.items() if glyph]
    blocks = (pairs[start : start + CMAP_BLOCK] for start in range(0, len(pairs), CMAP_BLOCK))
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo\n<</Registry (Adobe)\n/Ordering (UCS)\n/Supplement 0\n>> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "".join(f"{len(block)} beginbfchar\n{' '.join(block)}\nendbfchar\n" for block in blocks)
        + "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
    )


def _utf16(code_points: int | tuple[int, ...]) -> str:
    points = (code_points,) if isinstance(code_points, int) else code_points
    return "".join(chr(code_point) for code_point in points).encode("utf-16-be").hex().upper()
