"""The verification QR code: the per-version layout (``qr.qr_modules``) must give exactly segno's symbol."""

from __future__ import annotations

import random
import string

import pytest
from PIL import Image

from jobs.certificates.qr import (
    FAST_VERSIONS,
    PIXELS_PER_MODULE,
    QR_BORDER,
    _capacity,
    _smallest_version,
    qr_image,
    qr_modules,
    segno_modules,
)

LONGEST_FAST = _capacity(FAST_VERSIONS[-1])


def random_text(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(string.printable[:95]) for _ in range(length))


@pytest.mark.parametrize("length", range(1, LONGEST_FAST + 1))
def test_every_length_of_every_fast_version_gives_segnos_symbol(length: int) -> None:
    rng = random.Random(length)
    for _ in range(3):
        text = random_text(rng, length)
        assert qr_modules(text) == segno_modules(text), text


def test_verification_urls_give_segnos_symbol() -> None:
    for number in (0, 1, 0xFFFF_FFFF_FFFF_FFFF, 0x0123_4567_89AB_CDEF):
        url = f"http://localhost:8000/certificates/verify/{number:016x}"
        side, modules = qr_modules(url)
        assert (side, modules) == segno_modules(url)
        assert side == 33  # version 4: the demo's URLs take the fast way


def test_longer_and_non_ascii_data_is_segnos() -> None:
    assert _smallest_version(LONGEST_FAST + 1) is None
    for text in ("x" * (LONGEST_FAST + 1), "https://example.test/zertifikat/prüfen/1"):
        assert qr_modules(text) == segno_modules(text)


def test_the_image_has_the_quiet_zone_and_sharp_modules() -> None:
    side, modules = qr_modules("http://localhost:8000/certificates/verify/0123456789abcdef")
    image = qr_image("http://localhost:8000/certificates/verify/0123456789abcdef")
    assert isinstance(image, Image.Image) and image.mode == "L"
    assert image.size == ((side + 2 * QR_BORDER) * PIXELS_PER_MODULE,) * 2
    pixel = image.load()
    assert pixel is not None

    def module(row: int, column: int) -> int:  # the pixel at the centre of a module, 0 (dark) or 255 (light)
        y, x = ((QR_BORDER + n) * PIXELS_PER_MODULE + PIXELS_PER_MODULE // 2 for n in (row, column))
        value = pixel[x, y]
        assert isinstance(value, int)
        return value

    assert all(
        module(row, column) == (0 if modules[row * side + column] else 255)
        for row in range(side)
        for column in range(side)
    )
    assert pixel[0, 0] == 255 and module(0, 0) == 0  # quiet zone light, finder corner dark
