"""Property-based requests from the published OpenAPI schema (schemathesis strategies driven by hypothesis)
against a real server: whatever the path, query or body -- valid or not -- the API answers without a server
error. Kept small: a few examples per operation and generation mode."""

from __future__ import annotations

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.web.conftest import ADMIN_TOKEN
from tests.web.server import LiveServer

QUIET = list(HealthCheck)
EXAMPLES = {GenerationMode.POSITIVE: 3, GenerationMode.NEGATIVE: 2}  # per operation


def test_no_request_gets_a_server_error(live_dashboard: LiveServer) -> None:
    raw = httpx.get(f"{live_dashboard.url}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(raw)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    session = requests.Session()  # one keep-alive connection for every request
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES[mode], deadline=None, suppress_health_check=list(HealthCheck), database=None
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def no_server_error(case: schemathesis.Case) -> None:
                response = case.call(base_url=live_dashboard.url, session=session, headers=headers, timeout=10)
                assert response.status_code < 500, (
                    f"{case.method} {case.formatted_path} {case.query} {case.body!r}: "
                    f"{response.status_code} {response.text}"
                )

            try:
                no_server_error()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, operation.label  # nothing to break: no inputs
        checked.append(operation.label)
    assert len(checked) >= 34, checked  # batches, schedules, deferred jobs, workers and limits included
