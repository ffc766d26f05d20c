"""The client through an LWA outage injected at the sandbox's token endpoint (operation ``lwaToken``):
token requests are retried, a short outage is ridden out, a long one ends in one clear error that
says the token request failed and quotes no secret."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from spapi import listings
from spapi.errors import LwaError, NotFoundError, SpApiError, TransportError
from tests.fixtures.sandbox import APP_SECRET, SELLER, SELLER_TOKEN, US, Sandbox, new_client

pytestmark = pytest.mark.integration

TOKEN_ATTEMPTS = 4  # LwaTokenProvider's max_attempts per token


def lwa_rule(sandbox: Sandbox) -> dict[str, Any]:
    [rule] = sandbox.admin("GET", "/faults")["rules"]
    return dict(rule)


def fail_through_outage(sandbox: Sandbox, caplog: pytest.LogCaptureFixture, **overrides: Any) -> SpApiError:
    caplog.set_level(logging.DEBUG)
    with new_client(sandbox, max_attempts=1, **overrides) as client, pytest.raises(SpApiError) as info:
        client.call(listings.get_listings_item(SELLER, "OUTAGE-1", [US]))
    assert client.tokens is not None
    assert client.tokens.requests_made == TOKEN_ATTEMPTS == lwa_rule(sandbox)["fired"]
    err = info.value
    assert err.operation == "lwaToken" and str(err).startswith("lwaToken")
    for secret in (APP_SECRET, SELLER_TOKEN):
        assert secret not in str(err) and secret not in repr(err.__dict__) and secret not in caplog.text
    return err


def test_a_short_outage_is_ridden_out(sandbox: Sandbox) -> None:
    sandbox.faults({"kind": "error", "status": 503, "operation": "lwaToken", "count": TOKEN_ATTEMPTS - 1})
    with new_client(sandbox, max_attempts=1) as client, pytest.raises(NotFoundError):
        client.call(listings.get_listings_item(SELLER, "OUTAGE-1", [US]))
    assert client.tokens is not None and client.tokens.requests_made == TOKEN_ATTEMPTS
    assert lwa_rule(sandbox)["remaining"] == 0


@pytest.mark.parametrize(("status", "code"), [(503, "temporarily_unavailable"), (500, "server_error")])
def test_a_long_5xx_outage_ends_in_one_lwa_error(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture, status: int, code: str
) -> None:
    sandbox.faults({"kind": "error", "status": status, "operation": "lwaToken", "duration": 600})
    err = fail_through_outage(sandbox, caplog)
    assert isinstance(err, LwaError) and err.error == code and err.status == status
    assert f"lwaToken HTTP {status} {code}: LWA refused the token request" in str(err)
    assert err.retryable  # a later run may succeed: the task fails, it does not dead-letter


def test_token_requests_that_time_out(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    sandbox.faults({"kind": "latency", "seconds": 1.0, "operation": "lwaToken"})
    err = fail_through_outage(sandbox, caplog, read_timeout=0.2)
    assert isinstance(err, TransportError)
    assert str(err) == "lwaToken: LWA token request failed: ReadTimeout"


def test_token_requests_whose_line_is_cut(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    sandbox.faults({"kind": "drop", "operation": "lwaToken"})
    err = fail_through_outage(sandbox, caplog)
    assert isinstance(err, TransportError)
    assert str(err).startswith("lwaToken: LWA token request failed:")


def test_sp_api_faults_do_not_reach_the_token_endpoint(sandbox: Sandbox) -> None:
    sandbox.faults({"kind": "error", "status": 503, "operation": "*", "count": 1})
    with new_client(sandbox, max_attempts=2) as client, pytest.raises(NotFoundError):
        client.call(listings.get_listings_item(SELLER, "OUTAGE-1", [US]))
    assert client.tokens is not None and client.tokens.requests_made == 1
