"""The payload format: JSON, never pickle.

arq hands its serializer a dict (``f`` function, ``a`` args, ``k`` kwargs, ``t`` try, ``et`` enqueue time and, for
results, ``s``/``r``/``st``/``ft``/``q``/``id``). We encode it with orjson. Types JSON lacks travel as small tagged
objects (``{"__qs__": "datetime", "v": "..."}``), so a producer with only plain arq can write payloads with
``json.dumps`` and read results with ``json.loads`` (the pair the README documents).

Decoding accepts JSON only: a pickle planted in Redis is rejected by the JSON parser before anything can run.
Payloads of functions declared sensitive carry their args, kwargs and result encrypted in one ``enc`` field.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from .crypto import Cipher, InvalidToken
from .errors import JobFailed, PayloadTooLarge, SerializationError

TAG = "__qs__"
_TAG_MARKER = b'"__qs__"'
_SECRET_FIELDS = ("a", "k", "r")
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def _encode_default(value: Any) -> Any:
    """orjson calls this only for types it cannot write itself."""
    if isinstance(value, dt.datetime):
        return {TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, dt.date):
        return {TAG: "date", "v": value.isoformat()}
    if isinstance(value, dt.time):
        return {TAG: "time", "v": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {TAG: "timedelta", "v": value.total_seconds()}
    if isinstance(value, decimal.Decimal):
        return {TAG: "decimal", "v": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {TAG: "bytes", "v": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, BaseException):
        return {TAG: "exception", "type": qualified_type(value), "message": str(value)}
    raise TypeError(f"type {type(value).__name__} is not JSON serializable")


def qualified_type(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


_DECODERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "datetime": lambda o: dt.datetime.fromisoformat(o["v"]),
    "date": lambda o: dt.date.fromisoformat(o["v"]),
    "time": lambda o: dt.time.fromisoformat(o["v"]),
    "timedelta": lambda o: dt.timedelta(seconds=o["v"]),
    "decimal": lambda o: decimal.Decimal(o["v"]),
    "bytes": lambda o: base64.b64decode(o["v"]),
    "uuid": lambda o: uuid.UUID(o["v"]),
    "exception": lambda o: JobFailed(str(o.get("type", "Exception")), str(o.get("message", ""))),
}


def _untag(value: Any) -> Any:
    if isinstance(value, dict):
        tag = value.get(TAG)
        if isinstance(tag, str) and tag in _DECODERS:
            return _DECODERS[tag](value)
        return {k: _untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untag(v) for v in value]
    return value


def dumps(value: Any) -> bytes:
    """Encode any supported value; raises :class:`SerializationError` naming the offending type."""
    try:
        return orjson.dumps(value, default=_encode_default, option=_OPTIONS)
    except TypeError as exc:
        raise SerializationError(f"cannot serialize as JSON: {exc}") from exc


def loads(raw: bytes | str) -> Any:
    """Decode JSON (only JSON) and restore tagged values. Raises ``ValueError`` on anything else."""
    value = orjson.loads(raw)
    needs_untag = _TAG_MARKER in raw if isinstance(raw, bytes) else TAG in raw
    return _untag(value) if needs_untag else value


class PayloadCodec:
    """The ``job_serializer``/``job_deserializer`` pair given to arq, with size limits and encryption."""

    def __init__(
        self,
        *,
        max_payload_bytes: int,
        cipher: Cipher | None = None,
        is_sensitive: Callable[[str], bool] = lambda _name: False,
    ) -> None:
        self.max_payload_bytes = max_payload_bytes
        self.cipher = cipher
        self.is_sensitive = is_sensitive

    def serialize(self, data: dict[str, Any], *, sensitive: bool | None = None) -> bytes:
        """Encode a job or result dict; ``sensitive`` overrides the per-function lookup."""
        if self.is_sensitive(str(data.get("f"))) if sensitive is None else sensitive:
            data = self._encrypt(data)
        raw = dumps(data)
        if "s" not in data and len(raw) > self.max_payload_bytes:  # results ("s") are not limited
            raise PayloadTooLarge(len(raw), self.max_payload_bytes)
        return raw

    def deserialize(self, raw: bytes) -> dict[str, Any]:
        return self.open(self.parse(raw))

    def parse(self, raw: bytes) -> dict[str, Any]:
        """Decode the JSON envelope (still encrypted, if it was)."""
        data = loads(raw)
        if not isinstance(data, dict) or not isinstance(data.get("f"), str):
            raise ValueError("payload is not a job object")
        return data

    def open(self, data: dict[str, Any]) -> dict[str, Any]:
        """Decrypt an encrypted envelope; a plain one is returned as is."""
        return self._decrypt(data) if "enc" in data else data

    def _encrypt(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.cipher is None:
            raise SerializationError(f"function {data.get('f')!r} is sensitive but no encryption keys are set")
        secret = {k: data[k] for k in _SECRET_FIELDS if k in data}
        public = {k: v for k, v in data.items() if k not in _SECRET_FIELDS}
        public["a"], public["k"] = [], {}
        public["enc"] = self.cipher.encrypt(dumps(secret))
        return public

    def _decrypt(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.cipher is None:
            raise ValueError("payload is encrypted but no encryption keys are set")
        try:
            secret = loads(self.cipher.decrypt(str(data["enc"])))
        except InvalidToken as exc:
            raise ValueError("encrypted payload failed authentication (tampered or unknown key)") from exc
        merged = {k: v for k, v in data.items() if k != "enc"}
        merged.update(secret)
        return merged
