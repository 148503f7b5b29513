"""Internal job functions the worker's decoder routes broken jobs to, so they fail through the normal middleware
(and land in the failed store with a clear reason) instead of vanishing inside arq, and no job code runs."""

from __future__ import annotations

import base64
from typing import Any

from .errors import FunctionNotFound, UndecodablePayload
from .spec import UNDECODABLE_FUNCTION, UNKNOWN_FUNCTION, JobSpec
from .types import JobContext

RAW_PREVIEW_BYTES = 64 * 1024


async def undecodable_payload(ctx: JobContext, *, reason: str, raw_base64: str) -> None:
    raise UndecodablePayload(f"undecodable payload: {reason}")


async def function_not_found(ctx: JobContext, *, function: str, args: Any, kwargs: Any) -> None:
    raise FunctionNotFound(f"function {function!r} not found")


INTERNAL_SPECS = (
    JobSpec(name=UNDECODABLE_FUNCTION, function=undecodable_payload, max_tries=1),
    JobSpec(name=UNKNOWN_FUNCTION, function=function_not_found, max_tries=1),
)


def undecodable_job(raw: bytes, reason: str) -> dict[str, Any]:
    """The job dict handed to arq in place of a payload that could not be decoded."""
    preview = base64.b64encode(raw[:RAW_PREVIEW_BYTES]).decode()
    return {"f": UNDECODABLE_FUNCTION, "a": [], "k": {"reason": reason, "raw_base64": preview}, "t": None, "et": 0}


def unknown_function_job(data: dict[str, Any]) -> dict[str, Any]:
    kwargs = {"function": data["f"], "args": data.get("a", []), "kwargs": data.get("k", {})}
    return {"f": UNKNOWN_FUNCTION, "a": [], "k": kwargs, "t": data.get("t"), "et": data.get("et", 0)}
