"""Internal job functions the worker's decoder routes broken jobs to, so they fail through the normal middleware
(and land in the failed store with a clear reason) instead of vanishing inside arq, and no job code runs."""

from __future__ import annotations

import base64
from typing import Any

from .errors import FunctionNotFound, PermanentFailure, UndecodablePayload
from .spec import UNDECODABLE_FUNCTION, UNENCRYPTED_FUNCTION, UNKNOWN_FUNCTION, JobSpec
from .types import JobContext

RAW_PREVIEW_BYTES = 64 * 1024


async def undecodable_payload(ctx: JobContext, *, reason: str, raw_base64: str) -> None:
    raise UndecodablePayload(f"undecodable payload: {reason}")


async def function_not_found(ctx: JobContext, *, function: str, args: Any, kwargs: Any) -> None:
    raise FunctionNotFound(f"function {function!r} not found")


async def unencrypted_sensitive_payload(ctx: JobContext, *, function: str, args: Any, kwargs: Any) -> None:
    raise PermanentFailure(
        f"sensitive function {function!r} received an unencrypted payload; it was not run. Enqueue it with "
        "encryption keys configured (retrying it from the failed store stores it encrypted)"
    )


INTERNAL_SPECS = (
    JobSpec(name=UNDECODABLE_FUNCTION, function=undecodable_payload, max_tries=1),
    JobSpec(name=UNKNOWN_FUNCTION, function=function_not_found, max_tries=1),
    JobSpec(name=UNENCRYPTED_FUNCTION, function=unencrypted_sensitive_payload, max_tries=1),
)


def undecodable_job(raw: bytes, reason: str) -> dict[str, Any]:
    """The job dict handed to arq in place of a payload that could not be decoded."""
    preview = base64.b64encode(raw[:RAW_PREVIEW_BYTES]).decode()
    return {"f": UNDECODABLE_FUNCTION, "a": [], "k": {"reason": reason, "raw_base64": preview}, "t": None, "et": 0}


def rerouted_job(route: str, data: dict[str, Any]) -> dict[str, Any]:
    """The job dict handed to arq in place of a decodable job that must not run as is (``route`` explains why);
    it keeps the producer's function and arguments so the failed store can record and replay them."""
    kwargs = {"function": data["f"], "args": data.get("a", []), "kwargs": data.get("k", {})}
    return {"f": route, "a": [], "k": kwargs, "t": data.get("t"), "et": data.get("et", 0)}
