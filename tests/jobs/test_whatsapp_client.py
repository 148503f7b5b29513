"""The Cloud API client against a real HTTP server on loopback: requests, answers and typed errors."""

from __future__ import annotations

import json
import socket

import pytest

from jobs.whatsapp.client import CloudApiClient, retry_after_s
from jobs.whatsapp.errors import (
    CloudRequestError,
    CloudServerError,
    CloudUnreachable,
    Throttled,
    WhatsAppNotConfigured,
)
from jobs.whatsapp.phones import to_e164, validate_numbers

from .cloud_api import PHONE_NUMBER_ID, TOKEN, VERSION, WABA_ID, CloudApi
from .whatsapp_fixtures import api_client, cloud_api, cloud_settings

__all__ = ["api_client", "cloud_api"]

TO = "+6281200000001"


async def test_a_template_message_is_posted_with_the_bearer_token(
    cloud_api: tuple[CloudApi, str], api_client: CloudApiClient
) -> None:
    api, _ = cloud_api
    message_id = await api_client.send_template(TO, "promo_nov", "id", ["Siti", "50%"], callback_data="b1:7")
    assert message_id.startswith("wamid.")
    (request,) = api.requests
    assert request.method == "POST" and request.path == f"/{VERSION}/{PHONE_NUMBER_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    body = json.loads(request.body)
    assert body["to"] == "6281200000001" and body["type"] == "template"
    assert body["template"]["name"] == "promo_nov" and body["template"]["language"] == {"code": "id"}
    assert [p["text"] for p in body["template"]["components"][0]["parameters"]] == ["Siti", "50%"]
    assert body["biz_opaque_callback_data"] == "b1:7"


async def test_429_is_throttled_with_the_servers_retry_after(
    cloud_api: tuple[CloudApi, str], api_client: CloudApiClient
) -> None:
    api, _ = cloud_api
    api.retry_after = "7"
    api.throttle["6281200000001"] = 1
    with pytest.raises(Throttled) as caught:
        await api_client.send_template(TO, "t", "id")
    assert caught.value.status == 429 and caught.value.retry_after_s == 7.0


async def test_graph_code_130429_on_a_400_is_throttled_too(
    cloud_api: tuple[CloudApi, str], api_client: CloudApiClient
) -> None:
    cloud_api[0].throttle_code["6281200000001"] = 1
    with pytest.raises(Throttled) as caught:
        await api_client.send_template(TO, "t", "id")
    assert caught.value.status == 400 and caught.value.code == 130429


async def test_5xx_is_a_retryable_server_error(cloud_api: tuple[CloudApi, str], api_client: CloudApiClient) -> None:
    cloud_api[0].server_error["6281200000001"] = 1
    with pytest.raises(CloudServerError) as caught:
        await api_client.send_template(TO, "t", "id")
    assert caught.value.status == 500
    assert (await api_client.send_template(TO, "t", "id")).startswith("wamid.")  # the next one goes through


async def test_a_recipient_error_carries_the_apis_code_and_message(
    cloud_api: tuple[CloudApi, str], api_client: CloudApiClient
) -> None:
    cloud_api[0].refuse["6281200000001"] = (131026, "Message undeliverable")
    with pytest.raises(CloudRequestError) as caught:
        await api_client.send_template(TO, "t", "id")
    assert caught.value.code == 131026 and "Message undeliverable" in str(caught.value)
    assert not caught.value.blast_fatal


async def test_a_bad_token_concerns_the_whole_blast(cloud_api: tuple[CloudApi, str]) -> None:
    client = CloudApiClient(cloud_settings(cloud_api[1], token="expired"))
    try:
        with pytest.raises(CloudRequestError) as caught:
            await client.send_template(TO, "t", "id")
    finally:
        await client.close()
    assert caught.value.status == 401 and caught.value.code == 190 and caught.value.blast_fatal


async def test_no_server_is_unreachable_not_unknown() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = CloudApiClient(cloud_settings(f"http://127.0.0.1:{port}"))
    try:
        with pytest.raises(CloudUnreachable):
            await client.send_template(TO, "t", "id")
    finally:
        await client.close()


async def test_templates_are_listed_across_pages(cloud_api: tuple[CloudApi, str], api_client: CloudApiClient) -> None:
    api, _ = cloud_api
    api.templates = [
        {"id": str(i), "name": f"t{i}", "language": "id", "status": "APPROVED", "category": "MARKETING"}
        for i in range(5)
    ]
    templates = await api_client.list_templates(page_size=2)
    assert [t.name for t in templates] == [f"t{i}" for i in range(5)]
    assert len(api.requests) == 3
    assert all(r.path == f"/{VERSION}/{WABA_ID}/message_templates" for r in api.requests)


async def test_missing_settings_are_refused_before_any_request(cloud_api: tuple[CloudApi, str]) -> None:
    settings = cloud_settings(cloud_api[1])
    client = CloudApiClient(type(settings)(settings.base_url, "", settings.phone_number_id, ""))
    try:
        with pytest.raises(WhatsAppNotConfigured, match="WHATSAPP_TOKEN"):
            await client.send_template(TO, "t", "id")
        with pytest.raises(WhatsAppNotConfigured, match="WHATSAPP_WABA_ID"):
            await client.list_templates()
    finally:
        await client.close()
    assert cloud_api[0].requests == []


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after_s("3") == 3.0
    assert retry_after_s(None) == 1.0 and retry_after_s("soon") == 1.0
    assert retry_after_s("Thu, 01 Jan 2099 00:00:10 GMT", now=4070908800.0) == 10.0


def test_numbers_are_normalised_to_e164_and_invalid_ones_get_a_reason() -> None:
    assert to_e164("0812-0000-0001", "ID") == TO
    result = validate_numbers(["+62 812 0000 0001", "081200000001", "12", "hello", "+6281200000002"], "ID")
    assert result.valid == [TO, "+6281200000002"]
    assert result.duplicates == 1
    assert [(r.input, r.reason) for r in result.rejected] == [
        ("12", "not a possible number (wrong length for its country)"),
        ("hello", "not a phone number"),
    ]
    (rejected,) = validate_numbers(["081200000001"]).rejected
    assert "country code" in rejected.reason
