"""The prepared certificate fonts and fpdf2 reusing one parsed font across documents (``fpdf_font``).

The first test fails on purpose when fpdf2 is upgraded: ``fpdf_font`` relies on fpdf2 internals, so a new version
must be checked (these tests, then the benchmark) before the pin in pyproject.toml moves.
"""

from __future__ import annotations

import io
import re
import shutil
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import fpdf
import pytest
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from fpdf import FPDF
from pypdf import PdfReader
from pypdf.generic import IndirectObject, NameObject

from jobs.certificates import fpdf_font
from jobs.certificates.fonts import DEBIAN_DEJAVU, CertificateFont, find_font, load_font
from jobs.certificates.render import render_certificate
from jobs.certificates.verify import check_certificate

from .helpers import NAMES, certificate_content

SCRIPTS = {"latin": "Ñandú Çelik", "latin-ext": "Nguyễn Thị Hồng", "greek": "Ζωή Παπαδοπούλου", "cyrillic": "Ахмед"}


@pytest.fixture(scope="module")
def font(jobs_data_dir: Path) -> CertificateFont:
    return load_font(find_font(), jobs_data_dir / "cache")


def test_fpdf2_is_the_version_fpdf_font_was_written_for() -> None:
    assert fpdf.FPDF_VERSION == fpdf_font.PINNED_FPDF2, (
        "fpdf2 changed: jobs/certificates/fpdf_font.py uses its TTFFont internals. Run these tests and "
        "bench/certificates.py, then update PINNED_FPDF2 and the pin in pyproject.toml together"
    )
    assert fpdf_font.fast_path_available()


def test_documents_share_one_parse_of_the_font_and_each_gets_its_own_font_object(font: CertificateFont) -> None:
    for path in (font.prepared[0].path, font.full.path):
        first, second = FPDF(), FPDF()
        fpdf_font.add_font(first, "cert", path)
        fpdf_font.add_font(second, "cert", path)
        a, b = first.fonts["cert"], second.fonts["cert"]
        assert a is not b and a.cw is b.cw  # widths parsed once, per process
        assert a.subset is not b.subset and a.desc is not b.desc  # what output() writes to is per document
    assert a.ttfont is not b.ttfont  # the full font is subset per document, on its own fontTools object
    assert a.ttfont.recalcBBoxes is False  # the font's glyph boxes are kept as they are


@pytest.mark.parametrize("tier", list(SCRIPTS))
def test_a_prepared_font_is_embedded_whole_with_the_same_bytes_in_every_document(
    font: CertificateFont, tier: str
) -> None:
    name = SCRIPTS[tier]
    prepared = font.file_for(name)
    documents = [_font_dict(render_certificate(certificate_content(text), font)) for text in (name, name[::-1].title())]
    programs = [doc["/FontDescriptor"]["/FontFile2"].get_data() for doc in documents]
    assert programs[0] == programs[1] == prepared.path.read_bytes()
    with TTFont(io.BytesIO(programs[0])) as opened:  # a valid TrueType file, every glyph outline readable
        assert all(opened["glyf"][glyph].numberOfContours is not None for glyph in opened.getGlyphOrder())
    for document in documents:
        assert document["/CIDToGIDMap"] == "/Identity"
        assert len(_unicode_widths(document)) < 80  # widths of the glyphs the page uses, not of all of them


@pytest.mark.parametrize("name", NAMES)
def test_the_reused_font_gives_the_same_text_and_widths_as_fpdf2_alone(font: CertificateFont, name: str) -> None:
    reused = render_certificate(certificate_content(name), font)
    alone = render_certificate(certificate_content(name), font, reuse_font=False)
    assert _text(reused) == _text(alone)
    assert _unicode_widths(_font_dict(reused)) == _unicode_widths(_font_dict(alone))


def test_a_big_font_is_still_subset_per_document(font: CertificateFont) -> None:
    name = "Գևորգ Արամյան"  # Armenian: in DejaVu Sans, in no prepared tier
    assert font.file_for(name) == font.full
    pdf = render_certificate(certificate_content(name), font)
    check_certificate(pdf, expected_name=name)
    program = _font_dict(pdf)["/FontDescriptor"]["/FontFile2"].get_data()
    assert len(program) < font.full.path.stat().st_size / 10


def test_a_document_may_mix_a_whole_font_and_a_subset_one(font: CertificateFont) -> None:
    pdf = FPDF()
    fpdf_font.add_font(pdf, "small", font.prepared[0].path)
    fpdf_font.add_font(pdf, "big", font.full.path)
    pdf.add_page()
    pdf.set_font("small", size=20)
    pdf.text(20, 30, "Jürgen Groß")
    pdf.set_font("big", size=20)
    pdf.text(20, 60, "Գևորգ")
    text = _text(fpdf_font.output(pdf))
    assert "Jürgen Groß" in text and "Գևորգ" in text
    assert set(pdf.fonts) == {"small", "big"}


def test_certificates_rendered_in_parallel_threads_are_all_valid(font: CertificateFont) -> None:
    names = NAMES * 4
    results: dict[int, bytes] = {}

    def render(index: int) -> None:
        results[index] = render_certificate(certificate_content(names[index]), font)

    threads = [threading.Thread(target=render, args=(i,)) for i in range(len(names))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, name in enumerate(names):
        check_certificate(results[index], expected_name=name)


def test_prepared_fonts_have_no_layout_or_hinting_tables(font: CertificateFont) -> None:
    for prepared in font.prepared:
        with TTFont(prepared.path, lazy=True) as opened:
            tables = set(opened.keys())
        assert not tables & {"GSUB", "GPOS", "GDEF", "kern", "fpgm", "prep", "cvt ", "hdmx", "VDMX", "LTSH"}


@pytest.mark.parametrize("tier", list(SCRIPTS))
def test_each_prepared_font_writes_its_script_as_extractable_text(font: CertificateFont, tier: str) -> None:
    name = SCRIPTS[tier]
    chosen = font.file_for(name)
    assert chosen in font.prepared and tier in chosen.path.name
    pdf = render_certificate(certificate_content(name), font)
    check_certificate(pdf, expected_name=name)
    assert name in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


def test_prepared_files_are_reused_by_the_next_process(tmp_path: Path) -> None:
    source = tmp_path / "fonts" / "Cert.ttf"
    source.parent.mkdir()
    shutil.copyfile(DEBIAN_DEJAVU, source)
    cache = tmp_path / "cache"
    first = load_font.__wrapped__(source, cache)  # uncached: as a new worker process would call it
    stamps = {f.path: f.path.stat().st_mtime_ns for f in first.prepared}
    second = load_font.__wrapped__(source, cache)
    assert [f.path for f in second.prepared] == list(stamps)
    assert {f.path: f.path.stat().st_mtime_ns for f in second.prepared} == stamps  # found, not rewritten


def test_prepared_files_are_rebuilt_when_the_source_font_changes(tmp_path: Path) -> None:
    source = tmp_path / "fonts" / "Cert.ttf"
    source.parent.mkdir()
    shutil.copyfile(DEBIAN_DEJAVU, source)
    cache = tmp_path / "cache"
    before = load_font.__wrapped__(source, cache)
    condensed = DEBIAN_DEJAVU.with_name("DejaVuSansCondensed.ttf")
    if not condensed.is_file():
        pytest.skip("fonts-dejavu-core without DejaVuSansCondensed.ttf")
    shutil.copyfile(condensed, source)  # same path, other content
    after = load_font.__wrapped__(source, cache)
    assert not {f.path for f in before.prepared} & {f.path for f in after.prepared}
    with TTFont(after.prepared[0].path, lazy=True) as opened:
        assert "Condensed" in opened["name"].getBestFullName()
    pdf = render_certificate(certificate_content("Nguyễn Thị Hồng"), after)
    check_certificate(pdf, expected_name="Nguyễn Thị Hồng")


def _text(pdf: bytes) -> str:
    return PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


def _font_dict(pdf: bytes) -> Any:
    """The page's one font: its CID font dictionary (widths, descriptor) with the ToUnicode stream added."""
    fonts = PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/Font"]
    (composite,) = (ref.get_object() for ref in fonts.values())
    cid_font = composite["/DescendantFonts"][0].get_object()
    cid_font[NameObject("/ToUnicode")] = composite["/ToUnicode"]
    return cid_font


def _listed_widths(cid_font: Any) -> dict[int, int]:
    """Code → width, as the /W array lists them."""
    widths: dict[int, int] = {}
    entries = list(cid_font["/W"])
    while entries:
        first, spec = entries[0], entries[1]
        if isinstance(spec, list):
            widths.update({first + offset: width for offset, width in enumerate(spec)})
            del entries[:2]
        else:
            widths.update(dict.fromkeys(range(first, spec + 1), entries[2]))
            del entries[:3]
    return widths


def _unicode_codes(cid_font: Any) -> dict[str, int]:
    """Character → code, from the ToUnicode map."""
    cmap = cid_font["/ToUnicode"].get_object().get_data().decode()
    codes = re.findall(r"<([0-9A-F]{4})> <([0-9A-F]+)>", cmap.split("endcodespacerange", 1)[1])
    return {bytes.fromhex(text).decode("utf-16-be"): int(code, 16) for code, text in codes}


def _unicode_widths(cid_font: Any) -> dict[str, int]:
    """Character → width, from /W (/DW for a code it does not list) and the ToUnicode map (which differ in codes
    from way to way)."""
    widths, default = _listed_widths(cid_font), cid_font.get("/DW", 1000)  # 1000: the PDF's default /DW
    chars = {char: widths.get(code, default) for char, code in _unicode_codes(cid_font).items()}
    return {char: width for char, width in chars.items() if char.isprintable()}  # fpdf2 alone also maps U+0000


@pytest.mark.parametrize("name", NAMES)
def test_a_whole_font_lists_its_widths_and_unicode_map_compactly(font: CertificateFont, name: str) -> None:
    """pypdf reads the widths and the ToUnicode map back for every certificate: the most common width is /DW and
    /W lists only the others (and the space, which pypdf's word spacing looks up there), the ToUnicode pairs
    stand on one line, and the CIDSystemInfo is no object of its own."""
    cid_font = _font_dict(render_certificate(certificate_content(name), font))
    listed, codes = _listed_widths(cid_font), _unicode_codes(cid_font)
    used = {code: _unicode_widths(cid_font)[char] for char, code in codes.items()}
    assert cid_font["/DW"] == Counter(width for code, width in used.items() if code != codes[" "]).most_common(1)[0][0]
    assert listed == {code: width for code, width in used.items() if width != cid_font["/DW"] or code == codes[" "]}
    assert not isinstance(cid_font.raw_get("/CIDSystemInfo"), IndirectObject)
    assert cid_font["/CIDSystemInfo"] == {"/Registry": "Adobe", "/Ordering": "UCS", "/Supplement": 0}
    cmap = cid_font["/ToUnicode"].get_object().get_data().decode()
    pairs = cmap.split("beginbfchar\n", 1)[1].split("\nendbfchar", 1)[0]
    assert "\n" not in pairs and len(re.findall(r"<[0-9A-F]{4}> <[0-9A-F]+>", pairs)) == len(codes)


def test_without_the_fast_path_fpdf2_does_it_all_and_the_certificate_is_the_same_text(
    font: CertificateFont, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = render_certificate(certificate_content("Nguyễn Thị Hồng"), font)
    monkeypatch.setattr(fpdf_font, "_FAST", False)  # as if fpdf2's internals had changed
    slow = render_certificate(certificate_content("Nguyễn Thị Hồng"), font)
    check_certificate(slow, expected_name="Nguyễn Thị Hồng")
    assert _text(slow) == _text(fast)
    assert "/Identity" not in str(_font_dict(slow).get("/CIDToGIDMap"))  # fpdf2's own subset and glyph map
