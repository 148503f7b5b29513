"""Rendering certificates with fpdf2 and reading them back with pypdf (no database, no queue)."""

from __future__ import annotations

import io
import re
import time
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from jobs.certificates.fonts import CertificateFont, FontNotFound, UnsupportedText, find_font, load_font
from jobs.certificates.render import CertificateContent, render_certificate
from jobs.certificates.storage import CertificateStorage
from jobs.certificates.verify import CertificateInvalid, check_certificate

from .helpers import NAMES


@pytest.fixture(scope="module")
def font(jobs_data_dir: Path) -> CertificateFont:
    return load_font(find_font(), jobs_data_dir / "cache")


def content(name: str, **overrides: object) -> CertificateContent:
    values: dict[str, object] = {
        "title": "Certificate of Participation",
        "participant_name": name,
        "event_name": "Kegiatan Test 3000 Peserta",
        "event_date": date(2026, 11, 22),
        "number": "E7-000042-1",
        "verify_url": "http://localhost:8000/certificates/verify/0123456789abcdef",
    }
    values.update(overrides)
    return CertificateContent(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", NAMES)
def test_names_in_any_script_render_as_extractable_text(font: CertificateFont, name: str) -> None:
    pdf = render_certificate(content(name), font)

    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    assert (round(width), round(height)) == (842, 595)  # A4 landscape, in points
    text = page.extract_text()
    for expected in (name, "CERTIFICATE OF PARTICIPATION", "Kegiatan Test 3000 Peserta", "22 November 2026"):
        assert expected in text
    assert "E7-000042-1" in text
    fonts = {str(f["/BaseFont"]) for f in page["/Resources"]["/Font"].values()}  # type: ignore[index]
    assert len(fonts) == 1 and "DejaVuSans" in next(iter(fonts))  # one embedded Unicode font
    assert len(page.images) == 1  # the QR code
    check_certificate(pdf, expected_name=name)


def test_text_is_drawn_in_its_colour_without_a_graphics_state_of_its_own(font: CertificateFont) -> None:
    """The fill colour follows the text colour, so fpdf2 writes each text without ``q … rg … Q`` around it: a
    colour is set only where it changes, and pypdf's check has fewer operators to read."""
    page = PdfReader(io.BytesIO(render_certificate(content("Nguyễn Thị Hồng"), font))).pages[0]
    stream = page.get_contents().get_data().decode("latin-1")  # type: ignore[union-attr]
    texts = stream.count(" Tj ET")
    assert texts == 8 and stream.count("q ") == 1  # the QR image's placement is the one saved state
    colours = re.findall(r"^([0-9.]+ [0-9.]+ [0-9.]+) rg$", stream, re.MULTILINE)
    assert colours == ["0.0863 0.1765 0.3686", "0.3529 0.3529 0.3529"] * 3  # navy and grey lines alternate


def test_the_qr_code_is_a_sharp_black_and_white_image(font: CertificateFont) -> None:
    pdf = render_certificate(content("Ахмед"), font)
    image = PdfReader(io.BytesIO(pdf)).pages[0].images[0].image
    assert image is not None
    assert {value for _, value in image.convert("L").getcolors() or []} <= {0, 255}
    assert image.width == image.height >= 25 * 4


def test_names_typed_with_combining_accents_read_back_composed(font: CertificateFont) -> None:
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Hồng")
    pdf = render_certificate(content(decomposed), font)
    assert "Nguyễn Thị Hồng" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    check_certificate(pdf, expected_name=decomposed)


def test_a_logo_is_placed_on_the_page(font: CertificateFont, tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    Image.new("RGB", (120, 60), (20, 60, 140)).save(logo)
    pdf = render_certificate(content("Siti Nurhaliza", logo=logo), font)
    assert len(PdfReader(io.BytesIO(pdf)).pages[0].images) == 2


def test_a_very_long_name_shrinks_to_fit_and_stays_whole(font: CertificateFont) -> None:
    name = "Raden Ajeng Kartini Djojo Adhiningrat binti Raden Mas Adipati Ario Sosroningrat dari Jepara"
    pdf = render_certificate(content(name), font)
    check_certificate(pdf, expected_name=name)


def test_text_the_font_cannot_show_is_refused_before_drawing(font: CertificateFont) -> None:
    with pytest.raises(UnsupportedText, match="王小明"):
        render_certificate(content("王小明"), font)


def test_rare_characters_fall_back_to_the_full_font(font: CertificateFont) -> None:
    name = "Ǆemal Ǧorgić"  # Latin Extended-B: in the latin-ext tier, not in the latin one
    assert font.file_for(name) == font.prepared[1]
    assert font.file_for("Jürgen Groß") == font.prepared[0]
    hebrew = "דוד"  # in DejaVu Sans, in no prepared tier
    assert font.file_for(hebrew) == font.full


def test_rendering_uses_the_prepared_font_once_loaded(font: CertificateFont, jobs_data_dir: Path) -> None:
    assert load_font(find_font(), jobs_data_dir / "cache") is font  # cached per process
    started = time.perf_counter()
    for name in NAMES:
        render_certificate(content(name), font)
    per_pdf = (time.perf_counter() - started) / len(NAMES)
    assert per_pdf < 0.5  # generous: the suite shares two cores; the demo prints the real rate


def test_a_configured_font_that_does_not_exist_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FontNotFound, match="CERTIFICATE_FONT"):
        find_font(tmp_path / "missing.ttf")


def test_the_check_rejects_a_pdf_without_the_name(font: CertificateFont) -> None:
    pdf = render_certificate(content("Siti Nurhaliza"), font)
    with pytest.raises(CertificateInvalid, match="Ahmad"):
        check_certificate(pdf, expected_name="Ahmad")
    with pytest.raises(CertificateInvalid, match="cannot be read"):
        check_certificate(pdf[: len(pdf) // 2], expected_name="Siti Nurhaliza")


def test_a_stored_path_cannot_lead_outside_the_storage_directory(tmp_path: Path) -> None:
    storage = CertificateStorage(tmp_path / "certificates")
    written = storage.write(storage.relative_path(7, "E7-000042-1"), b"%PDF-")
    assert written == (tmp_path / "certificates" / "event-7" / "E7-000042-1.pdf").resolve()
    assert storage.exists("event-7/E7-000042-1.pdf") and storage.read("event-7/E7-000042-1.pdf") == b"%PDF-"
    for outside in ("../secrets.pdf", "event-7/../../secrets.pdf", "/etc/passwd"):
        with pytest.raises(ValueError, match="outside"):
            storage.absolute(outside)
