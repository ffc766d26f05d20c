"""No secret ever reaches a log line, an exception, a repr or a call record.

Like httpx's ``test_auth_hidden_header``: sentinel values stand in for every secret, every logger
is captured at DEBUG (ours, httpx, httpcore, botocore), and the tests drive the success, refresh,
error, throttle, transport-failure and presigned-URL paths, with SigV4 on.
"""

from __future__ import annotations

import json
import logging
import pickle
from typing import Any

import httpx
import pytest

from spapi.auth import clear_process_cache
from spapi.call import Call
from spapi.client import CallRecord, SpApiClient
from spapi.config import SpApiConfig
from spapi.errors import SpApiError
from spapi.ratelimit import MemoryBackend, RateLimiter
from tests.unit.spapi.fakes import (
    BASE_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    TOKEN_URL,
    FakeSpApi,
    api_error,
    throttled,
)

AWS_KEY_ID = "AKIASENTINELKEYID0001"
AWS_SECRET = "SENTINEL/aws/secret/key/5d7a"
AWS_SESSION = "SENTINEL-aws-session-token-77"
PRESIGNED_SIG = "SENTINELpresignedsig0123"
SECRETS = [CLIENT_SECRET, REFRESH_TOKEN, AWS_SECRET, AWS_SESSION, PRESIGNED_SIG, "SENTINEL-access"]


def make_client(api: FakeSpApi, records: list[CallRecord]) -> SpApiClient:
    config = SpApiConfig(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        region="na",
        seller_id="A1SELLER",
        endpoint_url=BASE_URL,
        token_url=TOKEN_URL,
        sigv4_enabled=True,
        aws_access_key_id=AWS_KEY_ID,
        aws_secret_access_key=AWS_SECRET,
        aws_session_token=AWS_SESSION,
        max_attempts=2,
    )
    return SpApiClient(
        config,
        transport=httpx.MockTransport(api),
        limiter=RateLimiter(MemoryBackend(), scale=1000.0),
        sleep=lambda s: None,
        on_call=records.append,
    )


def get_item(sku: str = "SKU-1") -> Call[Any]:
    return Call(
        operation="getListingsItem",
        method="GET",
        path=f"/listings/2021-08-01/items/A1SELLER/{sku}",
        params={"marketplaceIds": ["ATVPDKIKX0DER"]},
        parse=lambda r: r.json(),
        seller_id="A1SELLER",
        sku=sku,
    )


def capture_everything(caplog: pytest.LogCaptureFixture) -> None:
    # Importing Airflow raises some library loggers' levels; set each one we care about explicitly.
    caplog.set_level(logging.DEBUG)
    for name in ("spapi", "httpx", "httpcore", "botocore", "tenacity"):
        caplog.set_level(logging.DEBUG, logger=name)
        logging.getLogger(name).propagate = True


def assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {where}"


def test_no_secret_in_logs_errors_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    capture_everything(caplog)
    api = FakeSpApi()
    records: list[CallRecord] = []
    client = make_client(api, records)
    errors: list[SpApiError] = []

    # 1. success, after a rejected token (refresh path), with SigV4 signing
    api.rejected_tokens.add("Atza|SENTINEL-access-1")
    api.script.append(httpx.Response(200, json={"sku": "SKU-1"}))
    assert client.call(get_item()) == {"sku": "SKU-1"}
    signed = api.calls[-1]
    assert signed.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIASENTINELKEYID0001/")
    assert signed.headers["X-Amz-Security-Token"] == AWS_SESSION

    # 2. an error that echoes the token back in Amazon's details must not carry it into our error
    api.script.append(api_error(400, "InvalidInput", "bad", details="token Atza|SENTINEL-access-2 was bad"))
    # 3. throttled until attempts run out, 4. server error, 5. transport failure
    api.script.extend([throttled("0"), throttled("0")])
    api.script.extend([api_error(503, "ServiceUnavailable", "down")] * 2)
    api.script.extend([httpx.ConnectError("refused")] * 2)
    for _ in range(4):
        with pytest.raises(SpApiError) as info:
            client.call(get_item())
        errors.append(info.value)

    # 6. a presigned upload whose URL carries a signature
    api.script.append(httpx.Response(200))
    client.call(
        Call(
            operation="uploadFeedDocument",
            method="PUT",
            path=f"https://s3.test/doc?X-Amz-Credential={AWS_KEY_ID}&X-Amz-Signature={PRESIGNED_SIG}",
            content=b"{}",
            headers={"Content-Type": "application/json"},
            parse=lambda r: None,
            sp_api=False,
        )
    )
    # 7. the LWA endpoint refusing
    clear_process_cache()
    api.lwa.fail_with.append((400, "invalid_grant"))
    with pytest.raises(SpApiError) as info:
        client.call(get_item())
    errors.append(info.value)

    assert len(errors) == 5
    assert_clean(caplog.text, "the logs")
    for record in caplog.records:
        assert_clean(record.getMessage(), f"log record {record.name}")
        assert_clean(repr(record.__dict__), f"log record attributes of {record.name}")
    for err in errors:
        assert_clean(str(err), "an exception message")
        assert_clean(repr(err), "an exception repr")
        assert_clean(repr(err.__dict__), "exception attributes")
        assert err.__cause__ is None or not isinstance(err.__cause__, httpx.HTTPError)
        assert_clean(str(pickle.loads(pickle.dumps(err))), "a pickled exception")
    for rec in records:
        assert_clean(repr(rec), "a call record")
    assert_clean(repr(client), "repr(client)")
    assert_clean(repr(client.config), "repr(config)")
    assert_clean(str(client.config.model_dump()), "config.model_dump()")
    assert_clean(repr(client.tokens), "repr(token provider)")
    assert_clean(repr(client._signer), "repr(signer)")


def test_the_logs_did_capture_the_calls(caplog: pytest.LogCaptureFixture) -> None:
    """Guard for the test above: it must have seen real log output to prove anything."""
    capture_everything(caplog)
    api = FakeSpApi()
    client = make_client(api, [])
    api.script.append(httpx.Response(200, json={}))
    client.call(get_item())
    names = {r.name for r in caplog.records}
    assert {"spapi.client", "spapi.auth", "httpx"} <= names
    assert any("X-Amz-Signature" not in r.getMessage() for r in caplog.records if r.name == "httpx")


def test_httpx_request_log_redacts_presigned_parameters(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    api = FakeSpApi()
    client = make_client(api, [])
    api.script.append(httpx.Response(200))
    client.call(
        Call(
            operation="downloadFeedDocument",
            method="GET",
            path=f"https://s3.test/report?X-Amz-Signature={PRESIGNED_SIG}&X-Amz-Expires=300",
            parse=lambda r: None,
            sp_api=False,
        )
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any("X-Amz-Signature=[redacted]&X-Amz-Expires=300" in line for line in lines), lines


@pytest.mark.airflow
def test_no_secret_in_connection_errors(caplog: pytest.LogCaptureFixture) -> None:
    """Every kind of broken ``spapi`` connection, each carrying the sentinels where a careless
    message would quote them: inside malformed JSON, as an unknown key's value, pasted into a
    field whose value an error names (region, environment, marketplaces)."""
    from airflow.sdk import Connection

    from spapi.errors import SpApiConnectionError
    from spapi.hooks import config_from_connection

    capture_everything(caplog)
    caplog.set_level(logging.DEBUG, logger="airflow")
    good = {"environment": "sandbox", "refresh_token": REFRESH_TOKEN, "endpoint_url": BASE_URL}
    extras: list[Any] = [
        '{"refresh_token": "' + REFRESH_TOKEN + '", "aws_secret_access_key": "' + AWS_SECRET + '",',
        "[" + repr(CLIENT_SECRET) + "]",
        {**good, "refersh_token": REFRESH_TOKEN, "aws_secret": AWS_SECRET},
        {**good, CLIENT_SECRET: "a secret used as a key"},
        {**good, "region": CLIENT_SECRET, "environment": AWS_SESSION},
        {**good, "marketplace_ids": f"ATVPDKIKX0DER,{CLIENT_SECRET},{AWS_SECRET}"},
        {**good, "environment": "prod", "endpoint_url": f"http://u:{CLIENT_SECRET}@127.0.0.1:8900"},
        {**good, "environment": None, "aws_access_key_id": AWS_KEY_ID},
        {**good, "aws_secret_access_key": AWS_SECRET, "rate_scale": AWS_SESSION},
        {**good, "client_secret": CLIENT_SECRET, "token_url": f"https://x:{AWS_SECRET}@lwa.test/o2"},
    ]
    errors: list[SpApiConnectionError] = []
    for i, extra in enumerate(extras):
        raw = extra if isinstance(extra, str) else json.dumps({k: v for k, v in extra.items() if v})
        conn = Connection(
            conn_id=f"spapi_leak_{i}", conn_type="spapi", login=CLIENT_ID, password=CLIENT_SECRET, extra=raw
        )
        with pytest.raises(SpApiConnectionError) as info:
            config_from_connection(conn)
        errors.append(info.value)
        assert f"'spapi_leak_{i}'" in str(info.value)
    for err in errors:
        assert_clean(str(err), "a connection error")
        assert_clean(repr(err), "a connection error repr")
        assert_clean(repr(err.__dict__), "connection error attributes")
        assert_clean(str(pickle.loads(pickle.dumps(err))), "a pickled connection error")
    assert_clean(caplog.text, "the logs")
    for record in caplog.records:
        assert_clean(record.getMessage(), f"log record {record.name}")
