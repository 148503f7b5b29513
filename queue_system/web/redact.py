"""Payload redaction for display: configured field names (any depth, any case) show as ``"<redacted>"``."""

from __future__ import annotations

from typing import Any

from ..views import REDACTED


class Redactor:
    def __init__(self, fields: tuple[str, ...] | list[str]) -> None:
        self.fields = frozenset(f.strip().lower() for f in fields if f.strip())

    def __call__(self, value: Any) -> Any:
        if not self.fields:
            return value
        return self._walk(value)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: REDACTED if str(k).lower() in self.fields else self._walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._walk(v) for v in value]
        return value

    def job(self, data: dict[str, Any]) -> dict[str, Any]:
        """A job's dict (JobInfo.to_dict or a failed entry) with its arguments, result and tags redacted."""
        data = dict(data)
        for key in ("args", "kwargs", "result", "tags"):
            if key in data:
                data[key] = self(data[key])
        data.pop("payload", None)  # the encoded payload repeats the arguments, unredacted
        return data
