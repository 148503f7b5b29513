"""The verification QR code: read back by a decoder, it gives the URL it was made for; it keeps its quiet zone and
whole-pixel modules."""

from __future__ import annotations

import random
import string

import pytest
import zxingcpp

from jobs.certificates.qr import PIXELS_PER_MODULE, QR_BORDER, qr_image


@pytest.mark.parametrize("number", [0, 1, 0xFFFF_FFFF_FFFF_FFFF, 0x0123_4567_89AB_CDEF])
def test_a_verification_url_reads_back(number: int) -> None:
    url = f"http://localhost:8000/certificates/verify/{number:016x}"
    (found,) = zxingcpp.read_barcodes(qr_image(url))
    assert found.format == zxingcpp.BarcodeFormat.QRCode and found.text == url


def test_any_text_reads_back_whatever_its_length_or_script() -> None:
    rng = random.Random(7)
    texts = ["".join(rng.choice(string.printable[:95]) for _ in range(n)) for n in (1, 17, 60, 140, 400)]
    texts += ["Ñandú Çelik — Nguyễn Thị Hồng — Ахмед"]
    for text in texts:
        (found,) = zxingcpp.read_barcodes(qr_image(text))
        assert found.text == text


def test_the_image_has_a_light_border_and_whole_pixel_modules() -> None:
    image = qr_image("http://localhost:8000/certificates/verify/0000000000000001")
    width, height = image.size
    assert width == height and width % PIXELS_PER_MODULE == 0 and image.mode == "L"
    border = QR_BORDER * PIXELS_PER_MODULE
    pixels = image.load()
    assert all(pixels[x, y] == 255 for x in range(width) for y in range(border))  # the quiet rows on top
    assert pixels[border, border] == 0  # the finder pattern's corner module starts right after the border
    assert set(image.tobytes()) == {0, 255}  # sharp: no grey from scaling
