"""Declared validation rules and the checker behind ``validate-data``.

A rule is the seed's shape, ``{"field": "price", "type": "number", "required": true, "min": 0}``, plus
``pattern``. ``min``/``max`` bound a number's value and a string's or array's length; ``pattern`` must match a
whole string. A field may be a dotted path into nested objects (``"shop.id"``). Every rule is checked on every
record, so the report lists all errors of a record at once, each as ``{record, key, field, error}`` — one fix
round instead of one per error. Named rule sets (``RULE_SETS``) are what the scraping jobs use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from .errors import UnknownRuleSet

FieldType = Literal["string", "number", "integer", "boolean", "array", "object"]
_TYPE_CHECKS: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "number": (int, float),
    "integer": int,
    "boolean": bool,
    "array": list,
    "object": dict,
}
_MISSING = object()


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    type: FieldType
    required: bool = False
    min: float | None = None
    max: float | None = None
    pattern: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Rule:
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"invalid pattern for {self.field!r}: {exc}") from exc
            if self.type != "string":
                raise ValueError(f"pattern applies to strings only ({self.field!r} is {self.type})")
        return self

    @cached_property
    def regex(self) -> re.Pattern[str] | None:
        return re.compile(self.pattern) if self.pattern is not None else None

    def check(self, record: Mapping[str, Any]) -> str | None:
        """The error for this field of ``record``, or None when it passes."""
        value: Any = _lookup(record, self.field)
        if value is _MISSING or value is None:
            return "is required" if self.required else None
        if not _has_type(value, self.type):
            return f"must be of type {self.type}, got {type(value).__name__}"
        numeric = self.type in ("number", "integer")
        measure: float | None = value if numeric else _size(value)
        unit = "" if numeric else " in length"
        if measure is not None and self.min is not None and measure < self.min:
            return f"must be at least {self.min:g}{unit}"
        if measure is not None and self.max is not None and measure > self.max:
            return f"must be at most {self.max:g}{unit}"
        if self.regex is not None and not self.regex.fullmatch(value):
            return f"must match {self.pattern}"
        return None


@dataclass(frozen=True)
class FieldError:
    record: int  # the record's position in the input
    key: str | None  # the record's id, when it has one, to find it again
    field: str
    error: str


@dataclass
class ValidationReport:
    valid: list[dict[str, Any]] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)
    invalid_records: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": len(self.valid),
            "invalid": self.invalid_records,
            "errors": [e.__dict__ for e in self.errors],
        }


def parse_rules(rules: str | Sequence[Mapping[str, Any]]) -> tuple[Rule, ...]:
    """A named rule set, or rules given inline; bad rules fail with every problem listed."""
    if isinstance(rules, str):
        try:
            return RULE_SETS[rules]
        except KeyError:
            raise UnknownRuleSet(f"no rule set named {rules!r}; declared: {', '.join(sorted(RULE_SETS))}") from None
    try:
        return tuple(Rule.model_validate(rule) for rule in rules)
    except ValidationError as exc:
        raise UnknownRuleSet(f"invalid rules: {exc}") from exc


def validate_records(records: Iterable[Mapping[str, Any]], rules: Sequence[Rule], key_field: str) -> ValidationReport:
    report = ValidationReport()
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            report.errors.append(FieldError(index, None, "", f"must be an object, got {type(record).__name__}"))
            report.invalid_records += 1
            continue
        key = record.get(key_field)
        errors = [
            FieldError(index, None if key is None else str(key), r.field, e) for r in rules if (e := r.check(record))
        ]
        if errors:
            report.errors.extend(errors)
            report.invalid_records += 1
        else:
            report.valid.append(dict(record))
    return report


def _lookup(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _has_type(value: Any, type_name: str) -> bool:
    if type_name in ("number", "integer") and isinstance(value, bool):
        return False  # JSON true is not 1
    return isinstance(value, _TYPE_CHECKS[type_name])


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, str | list | dict) else None


def _rules(*rules: dict[str, Any]) -> tuple[Rule, ...]:
    return tuple(Rule.model_validate(rule) for rule in rules)


_ID = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)"  # with an offset: never naive
_CURRENCY = {"field": "currency", "type": "string", "required": True, "pattern": "[A-Z]{3}"}
RULE_SETS: dict[str, tuple[Rule, ...]] = {
    "product": _rules(
        {"field": "product_id", "type": "string", "required": True, "pattern": _ID},
        {"field": "name", "type": "string", "required": True, "min": 1, "max": 500},
        {"field": "price", "type": "number", "required": True, "min": 0},
        _CURRENCY,
        {"field": "stock", "type": "integer", "min": 0},
        {"field": "rating", "type": "number", "min": 0, "max": 5},
        {"field": "images", "type": "array", "max": 50},
        {"field": "url", "type": "string", "required": True, "pattern": r"https?://\S+"},
        {"field": "shop_id", "type": "string", "pattern": _ID},
    ),
    "shop": _rules(
        {"field": "shop_id", "type": "string", "required": True, "pattern": _ID},
        {"field": "name", "type": "string", "required": True, "min": 1, "max": 300},
        {"field": "rating", "type": "number", "min": 0, "max": 5},
        {"field": "follower_count", "type": "integer", "min": 0},
        {"field": "product_count", "type": "integer", "min": 0},
    ),
    "order": _rules(
        {"field": "account_id", "type": "string", "required": True, "pattern": _ID},
        {"field": "order_id", "type": "string", "required": True, "pattern": _ID},
        {"field": "status", "type": "string", "required": True, "min": 1, "max": 32},
        {"field": "total", "type": "number", "required": True, "min": 0},
        _CURRENCY,
        {"field": "ordered_at", "type": "string", "required": True, "pattern": _TIMESTAMP},
        {"field": "items", "type": "array", "required": True},
    ),
}
KEY_FIELDS = {"product": "product_id", "shop": "shop_id", "order": "order_id"}
