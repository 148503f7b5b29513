"""Small facts about the running job that the scraper jobs pass on to the jobs they enqueue."""

from __future__ import annotations

from queue_system import JobContext, Priority


def job_priority(ctx: JobContext, default: Priority) -> Priority:
    """The running job's priority, read from its queue score (the framework puts no priority in the context).

    Follow-up jobs inherit it, so a "critical" scrape is not left waiting behind "background" data processing.
    """
    score = ctx.get("score")
    found = Priority.from_score(float(score)) if isinstance(score, int | float) else None
    return found if found is not None else default


def job_id(ctx: JobContext) -> str:
    return str(ctx.get("job_id") or "direct-call")


def is_last_try(ctx: JobContext, max_tries: int) -> bool:
    return int(ctx.get("job_try") or 1) >= max_tries
