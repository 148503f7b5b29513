"""The verification QR code, placed as a small grey-scale image.

segno is the reference for the symbol: byte mode, error level M, a fixed mask. An image rather than one
rectangle per dark run keeps the page's content stream short, which makes reading the PDF back (the check after
writing) several times faster.

The mask pattern is fixed: choosing the "best" of the eight costs segno about 10 ms of pure Python per code,
more than the rest of a certificate, and every mask gives a valid code that scanners read (the choice only
evens out light and dark areas).

Even with the mask fixed, segno's pure-Python encoding took ~1.2 ms per code, a third of a certificate's
rendering. Every certificate's URL differs but has the same length, so the same small symbol version: what does
not depend on the data (where the data modules go, in which order, what is under the mask, the finder, timing,
alignment and format modules) is worked out once per version and process (``_layout``), and a code is then its
data codewords, their Reed-Solomon error correction and one permutation (``qr_modules``). Only versions 1 to 6
(up to 106 bytes at level M: no version information block, one alignment pattern) and ASCII data take this way;
anything else is segno's. tests/jobs/test_certificate_qr.py checks both give the same modules.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import segno
from fpdf import FPDF
from PIL import Image
from segno import consts as segno_consts

QR_MASK = 4
QR_BORDER = 2  # quiet-zone modules around the symbol (the standard asks for 4; the page margin adds the rest)
PIXELS_PER_MODULE = 4
FAST_VERSIONS = range(1, 7)
_LIGHT = b"\xff"
_GREY = bytes([255] + [0] * 255)  # a module holds 0 when light, non-zero when dark
_PAD_CODEWORDS = (0xEC, 0x11)


def qr_image(data: str) -> Image.Image:
    """The QR code for ``data`` as a black-on-white image, ``PIXELS_PER_MODULE`` pixels per module."""
    side, modules = qr_modules(data)
    full = side + 2 * QR_BORDER
    quiet_row, quiet = _LIGHT * full, _LIGHT * QR_BORDER
    grey = modules.translate(_GREY)  # whole rows in C, not module by module
    rows = (grey[start : start + side] for start in range(0, side * side, side))
    pixels = quiet_row * QR_BORDER + b"".join(quiet + row + quiet for row in rows) + quiet_row * QR_BORDER
    image = Image.frombytes("L", (full, full), pixels)
    return image.resize((full * PIXELS_PER_MODULE, full * PIXELS_PER_MODULE), Image.Resampling.NEAREST)


def draw_qr(pdf: FPDF, data: str, *, x: float, y: float, size: float) -> None:
    """Place the QR code for ``data`` in the ``size`` by ``size`` square at (x, y), in the page's units."""
    pdf.image(qr_image(data), x=x, y=y, w=size, h=size)


def qr_modules(data: str) -> tuple[int, bytes]:
    """The symbol's side and its modules row by row (1 dark, 0 light), as ``segno_modules`` gives them."""
    payload = data.encode("ascii") if data.isascii() else b""
    version = _smallest_version(len(payload)) if payload else None
    if version is None:
        return segno_modules(data)
    layout = _layout(version)
    codewords = _with_error_correction(_data_codewords(payload, layout), layout)
    bits = bin(int.from_bytes(codewords, "big") | 1 << len(codewords) * 8)[3:].encode().translate(_BIT)
    bits = bits.ljust(len(layout.order), b"\0")  # the remainder bits after the last codeword are 0
    masked = (int.from_bytes(bits, "big") ^ layout.mask).to_bytes(len(bits), "big")
    return layout.side, bytes(layout.gather(masked + layout.fixed))


def segno_modules(data: str) -> tuple[int, bytes]:
    """segno's symbol for ``data`` with this module's settings: the reference, and the way for any other data."""
    code = segno.make_qr(data, error="m", mask=QR_MASK, boost_error=False, mode="byte")
    return len(code.matrix), b"".join(bytes(1 if module else 0 for module in row) for row in code.matrix)


_BIT = bytes.maketrans(b"01", b"\0\1")


@dataclass(frozen=True)
class _Layout:
    """What every symbol of one version shares."""

    version: int
    side: int
    data_codewords: int
    blocks: tuple[int, ...]  # data codewords per block, in order
    ecc_per_block: int
    order: tuple[int, ...]  # module index (row * side + column) of each data bit, in placement order
    mask: int  # the mask's bits in placement order, as one integer (XOR with the data bits)
    fixed: bytes  # the function modules' values (finders, timing, alignment, format), in module order
    gather: Callable[[bytes], tuple[int, ...]]  # masked data bits + ``fixed`` → every module, row by row
    generator: tuple[int, ...]  # ``ecc_per_block`` bytes of the Reed-Solomon remainder for each leading byte


def _smallest_version(length: int) -> int | None:
    for version in FAST_VERSIONS:
        if _capacity(version) >= length:
            return version
    return None


@functools.cache
def _capacity(version: int) -> int:
    """Bytes of data a byte-mode symbol of ``version`` holds at level M (mode and count take 12 bits)."""
    return (sum(blocks * data for blocks, _, data in _ecc(version)) * 8 - 12) // 8


def _ecc(version: int) -> tuple[tuple[int, int, int], ...]:
    """(blocks, codewords per block, data codewords per block) of each block group at level M: the standard's
    table, as segno has it."""
    table: Any = segno_consts.ECC
    groups = table[version][segno_consts.ERROR_LEVEL_M]
    return tuple((int(group.num_blocks), int(group.num_total), int(group.num_data)) for group in groups)


@functools.cache
def _layout(version: int) -> _Layout:
    side = 17 + 4 * version
    function = _function_modules(version, side)
    order = _placement_order(side, function)
    ecc = _ecc(version)
    blocks = tuple(data for count, _, data in ecc for _ in range(count))
    ecc_per_block = ecc[0][1] - ecc[0][2]
    mask_bits = bytes(1 if ((index // side) // 2 + (index % side) // 3) % 2 == 0 else 0 for index in order)
    reference = segno_modules("0" * _capacity(version))[1]  # any symbol of this version: its function modules
    fixed_indices = [index for index in range(side * side) if function[index]]
    source = {index: position for position, index in enumerate(order)}
    source.update({index: len(order) + position for position, index in enumerate(fixed_indices)})
    return _Layout(
        version=version,
        side=side,
        data_codewords=sum(blocks),
        blocks=blocks,
        ecc_per_block=ecc_per_block,
        order=tuple(order),
        mask=int.from_bytes(mask_bits, "big"),
        fixed=bytes(reference[index] for index in fixed_indices),
        gather=itemgetter(*(source[index] for index in range(side * side))),
        generator=_remainder_table(ecc_per_block),
    )


def _function_modules(version: int, side: int) -> bytearray:
    """1 for every module that is not data: finders with separators, timing, alignment, format information."""
    function = bytearray(side * side)

    def mark(rows: range, columns: range) -> None:
        for row in rows:
            for column in columns:
                function[row * side + column] = 1

    near, far = range(0, 9), range(side - 8, side)  # finder, separator and format information
    mark(near, near)
    mark(near, far)
    mark(far, near)
    mark(range(6, 7), range(side))  # timing
    mark(range(side), range(6, 7))
    if version > 1:  # versions 2 to 6 have one alignment pattern, centred 7 modules from the far corner
        centre = side - 7
        mark(range(centre - 2, centre + 3), range(centre - 2, centre + 3))
    return function


def _placement_order(side: int, function: bytearray) -> list[int]:
    """Data bit positions in the standard's order: two-module columns from the right, up and down in turn,
    skipping the vertical timing column and every function module."""
    order = []
    upward = True
    column = side - 1
    while column > 0:
        if column == 6:
            column -= 1
        rows = range(side - 1, -1, -1) if upward else range(side)
        for row in rows:
            for index in (row * side + column, row * side + column - 1):
                if not function[index]:
                    order.append(index)
        upward = not upward
        column -= 2
    return order


def _data_codewords(payload: bytes, layout: _Layout) -> bytes:
    """Byte mode: mode 0100, an 8-bit count, the bytes, up to four 0 bits (the terminator), 0 bits up to the next
    byte, then pad codewords. Like segno, this adds a whole 0 byte when the terminator already ends on a byte
    (readers stop at the terminator), so both give the same symbol."""
    capacity_bits = layout.data_codewords * 8
    bits = 12 + 8 * len(payload)
    value = (0b0100 << 8 | len(payload)) << 8 * len(payload) | int.from_bytes(payload, "big")
    terminator = min(4, capacity_bits - bits)
    bits += terminator
    value <<= terminator
    padding = min(8 - bits % 8, capacity_bits - bits)
    value <<= padding
    stream = value.to_bytes((bits + padding) // 8, "big")
    pads = layout.data_codewords - len(stream)
    return stream + bytes(_PAD_CODEWORDS * (pads // 2 + 1))[:pads]


def _with_error_correction(data: bytes, layout: _Layout) -> bytes:
    """The data and error correction codewords of every block, each interleaved as the standard orders them."""
    blocks, corrections = [], []
    start = 0
    for size in layout.blocks:
        block = data[start : start + size]
        start += size
        blocks.append(block)
        corrections.append(_reed_solomon(block, layout.generator, layout.ecc_per_block))
    longest = max(layout.blocks)
    interleaved = bytearray(block[i] for i in range(longest) for block in blocks if i < len(block))
    interleaved += bytes(correction[i] for i in range(layout.ecc_per_block) for correction in corrections)
    return bytes(interleaved)


def _reed_solomon(block: bytes, table: tuple[int, ...], length: int) -> bytes:
    """The remainder of ``block``·x^length divided by the generator polynomial (``table``: per leading byte)."""
    remainder = 0
    top = 8 * (length - 1)
    keep = (1 << top) - 1
    for byte in block:
        remainder = (remainder & keep) << 8 ^ table[byte ^ remainder >> top]
    return remainder.to_bytes(length, "big")


_EXP = [0] * 512
_LOG = [0] * 256
_value = 1
for _power in range(255):
    _EXP[_power] = _value
    _LOG[_value] = _power
    _value <<= 1
    if _value & 0x100:
        _value ^= 0x11D  # the QR code's field polynomial
for _power in range(255, 512):
    _EXP[_power] = _EXP[_power - 255]


def _multiply(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


@functools.cache
def _remainder_table(length: int) -> tuple[int, ...]:
    """For each leading byte, the generator polynomial (degree ``length``, without its leading 1) times that byte,
    as one integer of ``length`` bytes: one step of the division is a shift and an XOR."""
    generator = [1]
    for power in range(length):  # (x - a^0)(x - a^1)...(x - a^(length-1)), a = 2
        root = _EXP[power]
        generator = [a ^ _multiply(b, root) for a, b in zip([*generator, 0], [0, *generator], strict=True)]
    coefficients = generator[1:]
    return tuple(int.from_bytes(bytes(_multiply(factor, c) for c in coefficients), "big") for factor in range(256))
