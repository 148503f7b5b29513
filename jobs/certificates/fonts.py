"""The Unicode font certificates are written in: where it comes from, and its prepared, cached forms.

fpdf2 parses the font file for every document and subsets it on output, so the cost of one certificate grows
with the number of glyphs in the file: DejaVu Sans has about 6000, which costs ~120 ms per PDF. So, once per
process (``load_font`` is cached), the font is cut into small prepared fonts, one per group of scripts a name is
usually written in (Latin; extended Latin with Vietnamese; Greek; Cyrillic), without layout tables (fpdf2 does
no shaping here) and without hinting, and written to the cache directory under a name keyed by the source
font's content, where the next process finds them (a changed source font gets new files). Each document uses
the smallest one that has every glyph of its text; text that needs more uses the full font (slower, still
correct); text that even the full font cannot show is refused up front, because a certificate with empty boxes
for a name is worse than none. ``fpdf_font`` then parses each prepared file for fpdf2 once per process.

The font is not part of the repository: by default it is DejaVu Sans from the Debian package
``fonts-dejavu-core``; ``CERTIFICATE_FONT`` points at any other TrueType file.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fontTools import subset  # type: ignore[import-untyped]
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

from ..files import atomic_write

# fontTools logs every table it drops while subsetting at INFO; that is noise in a worker's log.
logging.getLogger("fontTools").setLevel(logging.WARNING)

DEBIAN_DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
FONT_FAMILY = "certificate-sans"

Ranges = tuple[tuple[int, int], ...]
_LATIN: Ranges = ((0x0020, 0x007E), (0x00A0, 0x017F), (0x2010, 0x2027), (0x20AC, 0x20AC))
# The prepared fonts, smallest first (inclusive code point ranges).
TIERS: tuple[tuple[str, Ranges], ...] = (
    ("latin", _LATIN),  # Basic Latin, Latin-1, Latin Extended-A, dashes and quotes
    ("latin-ext", (*_LATIN, (0x0180, 0x024F), (0x0300, 0x036F), (0x1E00, 0x1EFF))),  # with Vietnamese
    ("greek", (*_LATIN, (0x0370, 0x03FF))),
    ("cyrillic", (*_LATIN, (0x0400, 0x04FF))),
)
_PREPARED_VERSION = "4"  # bump when the preparation below changes, so cached files are rebuilt


class FontNotFound(FileNotFoundError):
    """No usable certificate font is installed or configured."""


class UnsupportedText(ValueError):
    """The text contains characters the certificate font has no glyphs for."""


@dataclass(frozen=True)
class FontFile:
    """One TrueType file and the code points it has glyphs for."""

    path: Path
    coverage: frozenset[int]

    def missing(self, text: str) -> list[str]:
        """The characters of ``text`` without a glyph here, each once, in order of appearance."""
        return list(dict.fromkeys(ch for ch in text if ord(ch) not in self.coverage and not ch.isspace()))


@dataclass(frozen=True)
class CertificateFont:
    """The prepared fonts (fast, smallest first) and the full font they were cut from (complete)."""

    prepared: tuple[FontFile, ...]
    full: FontFile

    def file_for(self, text: str) -> FontFile:
        """The font to write ``text`` with; raises :class:`UnsupportedText` if none has every glyph."""
        for candidate in self.prepared:
            if not candidate.missing(text):
                return candidate
        missing = self.full.missing(text)
        if missing:
            raise UnsupportedText(
                f"the certificate font {self.full.path.name} has no glyphs for {''.join(missing[:20])!r}; "
                "set CERTIFICATE_FONT to a TrueType font that covers this script"
            )
        return self.full


def find_font(configured: Path | None = None) -> Path:
    """The certificate font's file: ``CERTIFICATE_FONT`` if set, else DejaVu Sans from fonts-dejavu-core."""
    if configured is not None:
        path = configured.expanduser()
        if not path.is_file():
            raise FontNotFound(f"CERTIFICATE_FONT={configured} does not exist or is not a file")
        return path
    if DEBIAN_DEJAVU.is_file():
        return DEBIAN_DEJAVU
    raise FontNotFound(
        f"no certificate font: {DEBIAN_DEJAVU} is missing. Install it with "
        "`apt-get install fonts-dejavu-core`, or set CERTIFICATE_FONT to a TrueType (.ttf) font file"
    )


@functools.cache
def load_font(source: Path, cache_dir: Path) -> CertificateFont:
    """Prepare ``source`` once per process, reusing prepared files an earlier process left in ``cache_dir``."""
    prepared = []
    for name, ranges in TIERS:
        target = cache_dir / f"{source.stem}-{name}-{_fingerprint(source, ranges)}.ttf"
        if not target.is_file():
            atomic_write(target, _prepared_font(source, ranges))
        prepared.append(FontFile(target, _coverage(target)))
    return CertificateFont(prepared=tuple(prepared), full=FontFile(source, _coverage(source)))


def normalize(text: str) -> str:
    """NFC, so a name typed with combining accents uses the font's precomposed glyphs (and reads back equal)."""
    return unicodedata.normalize("NFC", text).strip()


def _coverage(path: Path) -> frozenset[int]:
    font = TTFont(path, lazy=True)
    try:
        return frozenset(font.getBestCmap() or {})
    finally:
        font.close()


def _fingerprint(source: Path, ranges: Sequence[tuple[int, int]]) -> str:
    """The prepared file's key: the source font's content (not its path or time stamp), the ranges, the recipe."""
    digest = hashlib.sha256(f"{_PREPARED_VERSION}|{tuple(ranges)}|".encode())
    digest.update(source.read_bytes())  # ~1 ms for DejaVu Sans, once per tier and process
    return digest.hexdigest()[:16]


def _prepared_font(source: Path, ranges: Sequence[tuple[int, int]]) -> bytes:
    options = subset.Options()
    options.layout_features = []  # fpdf2 drops GSUB/GPOS on output anyway (it does no shaping by default)
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "hdmx", "FFTM", "MATH", "gasp"]
    options.hinting = False  # hints serve screens at small sizes; they are most of the glyph data
    options.notdef_outline = True
    options.recommended_glyphs = True
    # No glyph names (``post`` format 3): the prepared fonts are embedded whole (``fpdf_font``), where the names
    # would be 2 to 8 KiB of every PDF and email; fontTools derives them from ``cmap`` once per process instead.
    options.glyph_names = False
    font = TTFont(source)
    try:
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=[cp for low, high in ranges for cp in range(low, high + 1)])
        subsetter.subset(font)
        buffer = io.BytesIO()
        font.save(buffer)
        return buffer.getvalue()
    finally:
        font.close()
