"""The verification QR code, placed as a small grey-scale image.

segno computes the symbol; Pillow turns its module matrix into an image, scaled up by whole pixels so viewers
that smooth images still show sharp modules. An image rather than one rectangle per dark run keeps the page's
content stream short, which makes reading the PDF back (the check after writing) several times faster.

The mask pattern is fixed: choosing the "best" of the eight costs segno about 10 ms of pure Python per code,
more than the rest of a certificate, and every mask gives a valid code that scanners read (the choice only
evens out light and dark areas).
"""

from __future__ import annotations

import segno
from fpdf import FPDF
from PIL import Image

QR_MASK = 4
QR_BORDER = 2  # quiet-zone modules around the symbol (the standard asks for 4; the page margin adds the rest)
PIXELS_PER_MODULE = 4
_LIGHT = b"\xff"
_GREY = bytes([255] + [0] * 255)  # segno's matrix holds 0 for a light module, non-zero for a dark one


def qr_image(data: str) -> Image.Image:
    """The QR code for ``data`` as a black-on-white image, ``PIXELS_PER_MODULE`` pixels per module."""
    code = segno.make_qr(data, error="m", mask=QR_MASK, boost_error=False)
    side = len(code.matrix) + 2 * QR_BORDER
    quiet_row, quiet = _LIGHT * side, _LIGHT * QR_BORDER
    rows = [bytes(row).translate(_GREY) for row in code.matrix]  # whole rows in C, not module by module
    pixels = quiet_row * QR_BORDER + b"".join(quiet + row + quiet for row in rows) + quiet_row * QR_BORDER
    image = Image.frombytes("L", (side, side), pixels)
    return image.resize((side * PIXELS_PER_MODULE, side * PIXELS_PER_MODULE), Image.Resampling.NEAREST)


def draw_qr(pdf: FPDF, data: str, *, x: float, y: float, size: float) -> None:
    """Place the QR code for ``data`` in the ``size`` by ``size`` square at (x, y), in the page's units."""
    pdf.image(qr_image(data), x=x, y=y, w=size, h=size)
