"""The web commands as a user runs them: creating a user's hash and an API token, and the first run of the
dashboard without users (it says how to create one, and listens on loopback only)."""

from __future__ import annotations

import subprocess
import sys
import time

from click.testing import CliRunner

from queue_system.web.auth import Authenticator
from queue_system.web.cli import web
from tests.support.queue_fixtures import ROOT, subprocess_env


def test_user_and_token_commands_print_working_credentials() -> None:
    runner = CliRunner()
    made = runner.invoke(web, ["user", "ada", "--role", "admin", "--password", "correct-horse"])
    assert made.exit_code == 0, made.output
    line = made.stdout.strip()
    assert line.startswith("ada:admin:$argon2id$")
    auth = Authenticator.from_strings(line, "")
    assert auth.login("ada", "correct-horse") is not None and auth.login("ada", "wrong-horse") is None

    short = runner.invoke(web, ["user", "bob", "--password", "short"])
    assert short.exit_code != 0 and "at least 8" in short.output

    token = runner.invoke(web, ["token", "ci", "--role", "viewer"])
    assert token.exit_code == 0, token.output
    secret = token.stderr.strip().rsplit(" ", 1)[-1]
    principal = Authenticator.from_strings("", token.stdout.strip()).bearer(secret)
    assert principal is not None and (principal.name, principal.role.value) == ("ci", "viewer")


def test_first_run_says_how_to_create_a_user_and_binds_loopback(redis_url: str) -> None:
    command = [sys.executable, "-m", "queue_system.cli", "dashboard", "--port", "0"]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=subprocess_env(redis_url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        seen = ""
        deadline = time.monotonic() + 30
        while "Uvicorn running on" not in seen and time.monotonic() < deadline:
            seen += proc.stderr.readline()
        assert "queue-system web user NAME --role admin" in seen
        assert "Uvicorn running on http://127.0.0.1:" in seen
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()
