"""The verification QR code, placed as a small grey-scale image.

zxing-cpp (the C++ barcode library, through its Python binding) computes the symbol at error level M and
writes it as an image, scaled up by whole pixels so viewers that smooth images still show sharp modules: 0.3 ms
per code, where segno's pure Python took 1.2 ms with its mask fixed (and ~10 ms choosing it), a third of a
certificate's rendering. An image rather than one rectangle per dark run keeps the page's content stream short,
which makes reading the PDF back (the check after writing) several times faster.
"""

from __future__ import annotations

import zxingcpp
from fpdf import FPDF
from PIL import Image, ImageOps

QR_BORDER = 2  # quiet-zone modules around the symbol (the standard asks for 4; the page margin adds the rest)
PIXELS_PER_MODULE = 4


def qr_image(data: str) -> Image.Image:
    """The QR code for ``data`` as a black-on-white image, ``PIXELS_PER_MODULE`` pixels per module."""
    code = zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    symbol = code.to_image(scale=PIXELS_PER_MODULE, add_quiet_zones=False)
    pixels = bytes(symbol)  # type: ignore[call-overload]  # (a buffer; the binding's stubs do not say so)
    image = Image.frombuffer("L", (symbol.shape[1], symbol.shape[0]), pixels, "raw", "L", 0, 1)
    return ImageOps.expand(image, border=QR_BORDER * PIXELS_PER_MODULE, fill=255)


def draw_qr(pdf: FPDF, data: str, *, x: float, y: float, size: float) -> None:
    """Place the QR code for ``data`` in the ``size`` by ``size`` square at (x, y), in the page's units."""
    pdf.image(qr_image(data), x=x, y=y, w=size, h=size)
