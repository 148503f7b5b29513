"""What can go wrong in the scraper system, split by what the queue should do about it.

    PermanentFailure (queue_system)       fail at once, into the failed store: retrying cannot help
    ├── ScrapeParseError                   the page changed shape: a person must update the parser
    ├── BlockedByRobots                    robots.txt disallows the URL (and the job did not opt out)
    ├── PageRefused                        401, 403 and other final 4xx answers except 404/410
    ├── NotConfigured                      a proxy or a webhook secret is needed and none is configured
    ├── UnknownRuleSet                     validate-data named rules that do not exist
    ├── UnknownTable                       cleanup-old-data named a table it does not clean
    ├── PathOutsideRoots                   cleanup-temp-files was pointed outside its configured roots
    ├── TemplateError                      send-email's template is missing or its data incomplete
    └── DeliveryRejected                   a webhook endpoint or mail server refused for good (4xx / 5xx SMTP)

    TransientFetchError (jobs.errors.AppError)  retried by the job's backoff policy
    ├── ServerError                        5xx
    ├── FetchTimeout                       no answer in time
    └── ConnectionFailed                   could not connect

``RateLimited`` (429) is transient too, but carries the server's Retry-After, which the jobs turn into
``queue_system.SlowDown(retry_after=…)``: the job comes back as late as the server asked, without using a try.
Its subclass ``Throttled`` says our own shared limiter would have the request wait longer than is worth waiting
in-line (the host is paused after a 429 another process saw): the same answer, for the same reason.
"""

from __future__ import annotations

from queue_system import PermanentFailure

from ..errors import AppError


class ScrapeParseError(PermanentFailure):
    """The page does not have the shape the parser expects (the site changed); names the URL and what is missing."""

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(f"cannot parse {url}: {problem}")
        self.url = url
        self.problem = problem


class BlockedByRobots(PermanentFailure):
    """robots.txt disallows this URL for our user agent."""


class NotConfigured(PermanentFailure):
    """A job needs a setting (a proxy, a webhook secret) that is not configured."""


class UnknownRuleSet(PermanentFailure):
    """validate-data was given rules by a name that is not declared."""


class UnknownTable(PermanentFailure):
    """cleanup-old-data was asked to clean a table it does not know."""


class PathOutsideRoots(PermanentFailure):
    """cleanup-temp-files was given a directory outside its configured roots (e.g. ``../../etc``)."""


class TemplateError(PermanentFailure):
    """An email template is missing, broken, or its data lacks a variable it uses."""


class DeliveryRejected(PermanentFailure):
    """The receiving side refused the notification with a final answer."""


class TransientFetchError(AppError):
    """A request failed in a way that may well succeed later."""

    http_status = 502  # (an upstream's failure)


class ServerError(TransientFetchError):
    def __init__(self, url: str, status: int) -> None:
        super().__init__(f"{url} answered {status}")
        self.status = status


class FetchTimeout(TransientFetchError):
    """No complete answer within the timeout."""


class ConnectionFailed(TransientFetchError):
    """The connection could not be made or broke."""


class RateLimited(TransientFetchError):
    """429 Too Many Requests; ``retry_after_s`` is the server's Retry-After (or a default when it sent none)."""

    def __init__(self, url: str, retry_after_s: float, message: str = "") -> None:
        super().__init__(message or f"{url} answered 429, retry after {retry_after_s:g}s")
        self.retry_after_s = retry_after_s


class Throttled(RateLimited):
    """The host's (or endpoint's) shared rate limit or pause would hold the request longer than we wait in-line."""

    def __init__(self, key: str, wait_s: float) -> None:
        super().__init__(key, wait_s, f"{key} is paused or at its rate limit for {wait_s:.3g}s more")


class PageRefused(PermanentFailure):
    """The site answered with a final refusal other than "not found" (401, 403, 451 …)."""
