"""The prepared certificate fonts and fpdf2 reusing one parsed font across documents (``fpdf_font``).

The first test fails on purpose when fpdf2 is upgraded: ``fpdf_font`` relies on fpdf2 internals, so a new version
must be checked (these tests, then the benchmark) before the pin in pyproject.toml moves.
"""

from __future__ import annotations

import io
import shutil
import threading
from datetime import date
from pathlib import Path

import fpdf
import pytest
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from fpdf import FPDF
from pypdf import PdfReader

from jobs.certificates import fpdf_font
from jobs.certificates.fonts import DEBIAN_DEJAVU, CertificateFont, find_font, load_font
from jobs.certificates.render import CertificateContent, render_certificate
from jobs.certificates.verify import check_certificate

from .helpers import NAMES

SCRIPTS = {"latin": "Ñandú Çelik", "latin-ext": "Nguyễn Thị Hồng", "greek": "Ζωή Παπαδοπούλου", "cyrillic": "Ахмед"}


@pytest.fixture(scope="module")
def font(jobs_data_dir: Path) -> CertificateFont:
    return load_font(find_font(), jobs_data_dir / "cache")


def content(name: str) -> CertificateContent:
    return CertificateContent(
        title="Certificate of Participation",
        participant_name=name,
        event_name="Kegiatan Test 3000 Peserta",
        event_date=date(2026, 11, 22),
        number="E7-000042-1",
        verify_url="http://localhost:8000/certificates/verify/0123456789abcdef",
    )


def test_fpdf2_is_the_version_fpdf_font_was_written_for() -> None:
    assert fpdf.FPDF_VERSION == fpdf_font.PINNED_FPDF2, (
        "fpdf2 changed: jobs/certificates/fpdf_font.py uses its TTFFont internals. Run these tests and "
        "bench/certificates.py, then update PINNED_FPDF2 and the pin in pyproject.toml together"
    )
    assert fpdf_font.fast_path_available()


def test_documents_share_one_parse_of_the_font_and_each_gets_its_own_font_object(font: CertificateFont) -> None:
    path = font.prepared[0].path
    first, second = FPDF(), FPDF()
    fpdf_font.add_font(first, "cert", path)
    fpdf_font.add_font(second, "cert", path)
    a, b = first.fonts["cert"], second.fonts["cert"]
    assert a is not b and a.cw is b.cw  # widths parsed once, per process
    assert a.ttfont is not b.ttfont and a.subset is not b.subset and a.desc is not b.desc
    assert a.ttfont.recalcBBoxes is False  # the prepared font's glyph boxes are kept as they are


@pytest.mark.parametrize("name", NAMES)
def test_the_reused_font_gives_the_same_text_and_widths_as_fpdf2_alone(font: CertificateFont, name: str) -> None:
    reused = PdfReader(io.BytesIO(render_certificate(content(name), font))).pages[0]
    alone = PdfReader(io.BytesIO(render_certificate(content(name), font, reuse_font=False))).pages[0]
    assert reused.extract_text() == alone.extract_text()
    assert _widths(reused) == _widths(alone)


def test_certificates_rendered_in_parallel_threads_are_all_valid(font: CertificateFont) -> None:
    names = NAMES * 4
    results: dict[int, bytes] = {}

    def render(index: int) -> None:
        results[index] = render_certificate(content(names[index]), font)

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
    pdf = render_certificate(content(name), font)
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
    pdf = render_certificate(content("Nguyễn Thị Hồng"), after)
    check_certificate(pdf, expected_name="Nguyễn Thị Hồng")


def _widths(page: object) -> object:
    fonts = page["/Resources"]["/Font"]  # type: ignore[index]
    (composite,) = fonts.values()
    return composite.get_object()["/DescendantFonts"][0].get_object()["/W"]
