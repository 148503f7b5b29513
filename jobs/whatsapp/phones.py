"""Recipients' phone numbers: validated and normalised to E.164 with Google's libphonenumber (``phonenumbers``).

A number written without a country code (``0812…``) is read in ``default_region`` (e.g. "ID"); without one it is
refused, because guessing the country would message a stranger. A number must be *valid* (a real range of its
country's numbering plan), not merely the right length; a landline is accepted, as WhatsApp Business numbers
can be landlines.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from ..errors import AppError

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "no country code (write it as +<country code>…)",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}


class InvalidPhoneNumber(AppError, ValueError):
    """Not a phone number WhatsApp can send to; ``reason`` says why (a caller's input, so 400 over HTTP)."""

    http_status = 400

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"{raw!r}: {reason}")
        self.raw = raw
        self.reason = reason


@dataclass(frozen=True)
class RejectedNumber:
    input: str
    reason: str


@dataclass
class RecipientList:
    """The valid numbers (E.164, first occurrence kept), the rejected ones with reasons, and repeats dropped."""

    valid: list[str] = field(default_factory=list)
    rejected: list[RejectedNumber] = field(default_factory=list)
    duplicates: int = 0


def to_e164(raw: str, default_region: str | None = None) -> str:
    """``raw`` as E.164 (``+6281234567890``), or ``InvalidPhoneNumber`` with the reason."""
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber(raw, "empty")
    try:
        number = phonenumbers.parse(text, default_region)
    except NumberParseException as exc:
        raise InvalidPhoneNumber(raw, _PARSE_REASONS.get(exc.error_type, str(exc))) from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhoneNumber(raw, "not a possible number (wrong length for its country)")
    if not phonenumbers.is_valid_number(number):
        region = phonenumbers.region_code_for_number(number) or f"+{number.country_code}"
        raise InvalidPhoneNumber(raw, f"not a valid number in {region}")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def validate_numbers(raw_numbers: Iterable[str], default_region: str | None = None) -> RecipientList:
    result = RecipientList()
    seen: set[str] = set()
    for raw in raw_numbers:
        try:
            e164 = to_e164(raw, default_region)
        except InvalidPhoneNumber as exc:
            result.rejected.append(RejectedNumber(raw, exc.reason))
            continue
        if e164 in seen:
            result.duplicates += 1
            continue
        seen.add(e164)
        result.valid.append(e164)
    return result
