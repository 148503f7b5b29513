"""Drawing one certificate: a landscape A4 page with the title, the name, the event, its date, the certificate
number, an optional logo and a verification QR code.

Pure and synchronous (content in, PDF bytes out), so it can run in a thread and be tested without a database.
Every text goes through one Unicode font (see ``fonts``); long names and event titles shrink to fit one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from fpdf import FPDF

from . import fpdf_font
from .fonts import FONT_FAMILY, CertificateFont, normalize
from .qr import draw_qr

PAGE_W, PAGE_H = 297.0, 210.0  # A4 landscape, mm
TEXT_W = 237.0  # the width text may use, centred
NAVY = (22, 45, 94)
GOLD = (176, 141, 62)
GREY = (90, 90, 90)
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class CertificateContent:
    """Everything printed on a certificate."""

    title: str
    participant_name: str
    event_name: str
    event_date: date
    number: str
    verify_url: str
    logo: Path | None = None

    def texts(self) -> str:
        """All variable text, for checking the font covers it before drawing anything."""
        return " ".join((self.title, self.participant_name, self.event_name, self.number, self.verify_url))


def format_date(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def render_certificate(content: CertificateContent, font: CertificateFont, *, reuse_font: bool = True) -> bytes:
    """The certificate as PDF bytes. Raises ``fonts.UnsupportedText`` if the font cannot write the name.

    ``reuse_font=False`` lets fpdf2 parse the font file for this document itself (``FPDF.add_font``); the
    benchmark and the tests compare it with the default, the font parsed once per process (``fpdf_font``).
    """
    name = normalize(content.participant_name)
    font_file = font.file_for(normalize(content.texts()))
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(0, 0, 0)
    pdf.set_title(f"Certificate {content.number}")
    pdf.set_creator("queue-system certificates")
    if reuse_font:
        fpdf_font.add_font(pdf, FONT_FAMILY, font_file.path)
    else:
        pdf.add_font(FONT_FAMILY, "", str(font_file.path))
    pdf.add_page()
    _frame(pdf)
    top = 32.0  # without a logo the text block sits a little lower, nearer the page's optical centre
    if content.logo is not None:
        pdf.image(str(content.logo), x=(PAGE_W - 24) / 2, y=16, h=22, keep_aspect_ratio=True)
        top = 42.0
    _line(pdf, normalize(content.title).upper(), y=top + 10, size=30, color=NAVY)
    _line(pdf, "This certificate is presented to", y=top + 32, size=14, color=GREY)
    _line(pdf, name, y=top + 52, size=32, color=NAVY)
    pdf.set_draw_color(*GOLD)
    pdf.set_line_width(0.6)
    pdf.line(PAGE_W / 2 - 70, top + 60, PAGE_W / 2 + 70, top + 60)
    _line(pdf, "for taking part in", y=top + 74, size=14, color=GREY)
    _line(pdf, normalize(content.event_name), y=top + 88, size=20, color=NAVY)
    _line(pdf, f"held on {format_date(content.event_date)}", y=top + 100, size=13, color=GREY)
    _footer(pdf, content)
    return fpdf_font.output(pdf) if reuse_font else bytes(pdf.output())


def _frame(pdf: FPDF) -> None:
    pdf.set_draw_color(*NAVY)
    pdf.set_line_width(2.2)
    pdf.rect(8, 8, PAGE_W - 16, PAGE_H - 16)
    pdf.set_draw_color(*GOLD)
    pdf.set_line_width(0.5)
    pdf.rect(12, 12, PAGE_W - 24, PAGE_H - 24)


def _line(pdf: FPDF, text: str, *, y: float, size: float, color: tuple[int, int, int]) -> None:
    """One centred line at baseline ``y``, shrunk until it fits the text width."""
    pdf.set_font(FONT_FAMILY, size=size)
    while size > 8 and pdf.get_string_width(text) > TEXT_W:
        size -= 1
        pdf.set_font(FONT_FAMILY, size=size)
    _text_color(pdf, color)
    pdf.text((PAGE_W - pdf.get_string_width(text)) / 2, y, text)


def _text_color(pdf: FPDF, color: tuple[int, int, int]) -> None:
    """Text in ``color``. fpdf2 fills glyphs with the text colour: where that differs from the fill colour, it wraps
    each text in ``q … rg … Q``; with the fill colour set alike (nothing else on the page is filled), it does not."""
    pdf.set_text_color(*color)
    pdf.set_fill_color(*color)


def _footer(pdf: FPDF, content: CertificateContent) -> None:
    qr_size = 30.0
    qr_x, qr_y = PAGE_W - 22 - qr_size, PAGE_H - 22 - qr_size
    draw_qr(pdf, content.verify_url, x=qr_x, y=qr_y, size=qr_size)
    _text_color(pdf, GREY)
    pdf.set_font(FONT_FAMILY, size=10)
    pdf.text(24, PAGE_H - 30, f"Certificate No. {content.number}")
    pdf.set_font(FONT_FAMILY, size=7)
    pdf.text(24, PAGE_H - 25, f"Verify at {content.verify_url}")
