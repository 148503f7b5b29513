"""The seed systems' own errors, rooted in the framework's hierarchy (queue_system.errors) like everything else.

    QueueSystemError (queue_system)
    ├── ConfigError
    │   └── SettingsError                  an application setting is missing or invalid (jobs/config.py)
    ├── PermanentFailure                   fail at once into the failed store: each system's errors.py
    └── AppError                           anything else the jobs raise on purpose
        ├── DatabaseNotMigrated            the schema is behind the code: run `queue-system db upgrade`
        ├── TransientFetchError            scraping: a request that may well succeed later (jobs/scraping/errors.py)
        ├── CloudApiError                  an answer of the WhatsApp Cloud API (jobs/whatsapp/errors.py)
        └── BlastIncomplete                a WhatsApp blast run left recipients for a later run

Each class keeps the builtin base its callers catch (``ValueError``, ``LookupError`` …) where it has one, and says
how an HTTP route that lets it through answers (``http_status``): an ``AppError`` is the server's problem (500)
unless its class says otherwise.
"""

from __future__ import annotations

from queue_system import QueueSystemError


class AppError(QueueSystemError):
    """Base of the jobs' own errors that are not a job's request to fail for good (``PermanentFailure``)."""

    http_status = 500


class DatabaseNotMigrated(AppError, RuntimeError):
    """The database schema is behind the code; the jobs refuse to start on it."""

    http_status = 503
