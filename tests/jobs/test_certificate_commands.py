"""``queue-system db …`` and ``queue-system demo certificates`` as a user runs them (real processes), on a fresh
SQLite database under a fresh data dir, as on a new clone. (The PostgreSQL path of the same code is covered by
the job tests, which run on both backends.)"""

from __future__ import annotations

import re
from pathlib import Path

from jobs.db.migrate import head_revision

from ..support.queue_fixtures import run_cli


def test_db_upgrade_then_the_demo_with_cleanup(redis_url: str, jobs_data_dir: Path, tmp_path: Path) -> None:
    database = tmp_path / "data" / "app.db"
    env = {
        "APP_DATA_DIR": str(jobs_data_dir),  # shares the prepared fonts with the other tests
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "CERTIFICATE_DIR": str(tmp_path / "certificates"),
        "MAIL_SINK_DIR": str(tmp_path / "mail"),
        "SMTP_URL": "",  # the demo starts its own mail sink
    }
    upgraded = run_cli("db", "upgrade", redis_url=redis_url, **env)
    assert upgraded.returncode == 0, upgraded.stderr
    head = head_revision()  # the newest migration, whichever system added it
    assert f"database at revision {head}" in upgraded.stdout and database.is_file()
    current = run_cli("db", "current", redis_url=redis_url, **env)
    assert current.returncode == 0 and f"current: {head}" in current.stdout

    demo = run_cli("demo", "certificates", "--participants", "12", "--cleanup", redis_url=redis_url, **env)
    assert demo.returncode == 0, demo.stderr
    assert re.search(r"^generate\s+12 queued, 12 generated, 0 failed in [\d.]+ s", demo.stdout, re.M), demo.stdout
    assert re.search(r"^send\s+12 queued, 12 accepted, 0 failed in [\d.]+ s", demo.stdout, re.M), demo.stdout
    assert re.search(r"^cleaned up: event \d+", demo.stdout, re.M)
    assert list((tmp_path / "certificates").glob("*/*.pdf")) == []
    assert list((tmp_path / "mail").glob("*/*.eml")) == []
