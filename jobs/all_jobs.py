"""Every job of the seed systems, in one list: what ``settings.py`` wires into the worker.

Kept out of ``jobs/__init__.py`` so that importing a light module of the package (``jobs.cli``, which the
``queue-system`` command loads on every run) does not import every job's libraries (PDF, SMTP, SQL).
"""

from __future__ import annotations

from typing import Any

from queue_system import JobFunction

from .certificates import CERTIFICATE_JOBS
from .maintenance import prune_failed_jobs
from .products.jobs import PRODUCT_JOBS
from .scraping import SCRAPER_JOBS
from .whatsapp.jobs import WHATSAPP_JOBS

ALL_JOBS: list[JobFunction[Any, Any]] = [
    prune_failed_jobs,
    *CERTIFICATE_JOBS,
    *SCRAPER_JOBS,
    *WHATSAPP_JOBS,
    *PRODUCT_JOBS,
]
