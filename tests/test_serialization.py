"""The payload format: JSON only, typed values round-trip, encryption for sensitive jobs."""

from __future__ import annotations

import datetime as dt
import decimal
import pickle
import uuid

import pytest

from queue_system import JobFailed, PayloadTooLarge, SerializationError
from queue_system.crypto import Cipher, generate_key
from queue_system.serialization import PayloadCodec, dumps, loads


def test_typed_values_round_trip() -> None:
    value = {
        "when": dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC),
        "day": dt.date(2026, 11, 22),
        "at": dt.time(9, 30),
        "wait": dt.timedelta(seconds=90),
        "price": decimal.Decimal("19.99"),
        "blob": b"\x00\xff",
        "nested": [{"ok": True, "n": None}],
    }
    assert loads(dumps(value)) == value


def test_plain_json_is_plain() -> None:
    assert dumps({"a": [1, "x"]}) == b'{"a":[1,"x"]}'
    assert loads('{"a":1}') == {"a": 1}


def test_unserializable_values_raise_a_typed_error() -> None:
    with pytest.raises(SerializationError, match="object"):
        dumps({"x": object()})


def test_pickle_is_rejected_by_the_json_parser() -> None:
    with pytest.raises(ValueError):
        loads(pickle.dumps({"f": "echo"}))


def test_exceptions_in_results_come_back_as_job_failed() -> None:
    restored = loads(dumps({"r": ValueError("bad")}))["r"]
    assert isinstance(restored, JobFailed)
    assert restored.exc_type == "ValueError"
    assert restored.message == "bad"


def test_payload_size_limit_applies_to_jobs_only() -> None:
    codec = PayloadCodec(max_payload_bytes=100)
    with pytest.raises(PayloadTooLarge):
        codec.serialize({"f": "x", "a": ["y" * 200], "k": {}})
    codec.serialize({"f": "x", "s": True, "r": "y" * 200})


def test_sensitive_payloads_are_encrypted_and_authenticated() -> None:
    codec = PayloadCodec(max_payload_bytes=10_000, cipher=Cipher([generate_key()]))
    raw = codec.serialize(
        {"f": "pay", "a": ["4111111111111111"], "k": {"cvv": "123"}, "t": None, "et": 1}, sensitive=True
    )
    assert b"4111111111111111" not in raw and b'"cvv"' not in raw
    assert codec.deserialize(raw)["a"] == ["4111111111111111"]
    tampered = raw.replace(b'"enc":"gAAAA', b'"enc":"gAAAB')
    with pytest.raises(ValueError, match="authentication"):
        codec.deserialize(tampered)


def test_key_rotation_keeps_old_payloads_readable() -> None:
    old_key, new_key = generate_key(), generate_key()
    old = PayloadCodec(max_payload_bytes=10_000, cipher=Cipher([old_key]))
    raw = old.serialize({"f": "pay", "a": ["secret"], "k": {}, "t": None, "et": 1}, sensitive=True)
    rotated = PayloadCodec(max_payload_bytes=10_000, cipher=Cipher([new_key, old_key]))
    assert rotated.deserialize(raw)["a"] == ["secret"]
    new_only = PayloadCodec(max_payload_bytes=10_000, cipher=Cipher([new_key]))
    with pytest.raises(ValueError):
        new_only.deserialize(raw)
    token = loads(raw)["enc"]
    assert Cipher([new_key]).decrypt(Cipher([new_key, old_key]).rotate_token(token))


def test_uuid_values_travel_as_strings() -> None:
    value = uuid.uuid4()
    assert loads(dumps([value])) == [str(value)]
