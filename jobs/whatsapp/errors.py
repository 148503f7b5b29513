"""What can go wrong in the WhatsApp system, split by what the blast and the queue should do about it.

CloudApiError (jobs.errors.AppError)   an answer (or the lack of one) from the Cloud API
├── Throttled                           429, or Graph codes 4 / 80007 / 130429 / 131048 / 131056: wait
│                                       ``retry_after_s`` and send again; no recipient attempt is used up
├── CloudServerError                    5xx: not taken, safe to send again later (retryable)
├── CloudUnreachable                    no connection was made: certainly not sent (retryable)
├── CloudNoAnswer                       the request went out but no answer came: maybe sent (never resent)
└── CloudRequestError                   4xx with the API's error code and message: not retryable;
                                        ``blast_fatal`` when it concerns the blast, not one recipient
                                        (token, permissions, template missing or paused, account locked)

PermanentFailure (queue_system)        fail at once, into the failed store with the reason
├── WhatsAppNotConfigured               WHATSAPP_TOKEN / _PHONE_NUMBER_ID / _WABA_ID missing
├── BlastNotFound / TemplateNotFound
├── TemplateNotApproved                 a blast can only be scheduled with an APPROVED template
├── TemplateVariablesMismatch           the variables given do not fill the template body's {{1}} … {{n}}
├── NoValidRecipients                   every number given was invalid (each with its reason)
└── BlastNotEditable                    the blast already started, finished or was cancelled

BlastIncomplete (jobs.errors.AppError)  a run left recipients to retry (5xx, unreachable): the job retries
BlastThrottled (BlastIncomplete)        the API asked for a longer pause than a run waits in place
"""

from __future__ import annotations

from queue_system import PermanentFailure

from ..errors import AppError

# Graph API error codes that mean "slow down" rather than "no": app/WABA/throughput/spam/pair rate limits.
THROTTLE_CODES = frozenset({4, 80007, 130429, 131048, 131056})
# Codes that concern every message of the blast (sending more would fail the same way).
BLAST_FATAL_CODES = frozenset({0, 3, 10, 190, 200, 368, 131005, 131031, 131042, 132000, 132001, 132015, 132016})
BLAST_FATAL_STATUSES = frozenset({401, 403})


class CloudApiError(AppError):
    """The Cloud API did not accept a request; ``status`` is the HTTP status (0 when there was no answer)."""

    http_status = 502  # (an upstream's answer, whatever its own status was)

    def __init__(self, message: str, *, status: int = 0, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.api_message = message


class Throttled(CloudApiError):
    def __init__(self, message: str, retry_after_s: float, *, status: int, code: int | None) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        return f"throttled ({self.status}, code {self.code}): retry after {self.retry_after_s:g}s: {self.api_message}"


class CloudServerError(CloudApiError):
    """5xx: the API failed before taking the message."""


class CloudUnreachable(CloudApiError):
    """The connection could not be made, so nothing was sent."""


class CloudNoAnswer(CloudApiError):
    """The request may have reached the API; its outcome is unknown."""


class CloudRequestError(CloudApiError):
    """A 4xx answer with the API's error code and message."""

    @property
    def blast_fatal(self) -> bool:
        return self.status in BLAST_FATAL_STATUSES or self.code in BLAST_FATAL_CODES


class WhatsAppNotConfigured(PermanentFailure):
    """The Cloud API settings this needs are empty."""


class BlastNotFound(PermanentFailure, LookupError):
    """No blast with this id."""

    http_status = 404


class TemplateNotFound(PermanentFailure, LookupError):
    """No template with this id, or this name and language."""

    http_status = 404


class TemplateNotApproved(PermanentFailure):
    """The template is not APPROVED (still SUBMITTED, or REJECTED): Meta would refuse every message."""


class TemplateVariablesMismatch(PermanentFailure, ValueError):
    """The blast's variables are not one per body parameter of its template ({{1}}, {{2}} …)."""


class NoValidRecipients(PermanentFailure):
    """None of the numbers given is a valid phone number; the message lists each with its reason."""


class BlastNotEditable(PermanentFailure):
    """The blast is past the point where it can be changed or cancelled (started, finished, cancelled)."""


class BlastIncomplete(AppError):
    """A run ended with recipients still to be sent (a 5xx answer, no connection); a later run sends them."""


class BlastThrottled(BlastIncomplete):
    """The API asked to wait longer than a run waits in place; retry the run after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
