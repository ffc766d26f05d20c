"""SpApiHook and the provider metadata, against a real Airflow install (no database needed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.airflow

from spapi.auth import clear_process_cache  # noqa: E402
from tests.unit.spapi.fakes import (  # noqa: E402
    BASE_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    TOKEN_URL,
    FakeLwa,
)


@pytest.fixture(autouse=True)
def _fresh_tokens() -> Iterator[None]:
    clear_process_cache()
    yield
    clear_process_cache()


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **extra: Any) -> None:
    payload = {
        "conn_type": "spapi",
        "login": CLIENT_ID,
        "password": CLIENT_SECRET,
        "extra": {
            "refresh_token": REFRESH_TOKEN,
            "region": "na",
            "seller_id": "A1SELLER",
            "endpoint_url": BASE_URL,
            "token_url": TOKEN_URL,
            **extra,
        },
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(payload))


def test_providers_manager_lists_the_hook_and_its_fields() -> None:
    from airflow.providers_manager import ProvidersManager

    pm = ProvidersManager()
    assert "spapi-listings" in pm.providers
    assert (
        pm.providers["spapi-listings"].data["connection-types"][0]["hook-class-name"]
        == "spapi.hooks.SpApiHook"
    )
    widgets = {k: v for k, v in pm.connection_form_widgets.items() if k.startswith("extra__spapi__")}
    expected = {
        "refresh_token",
        "region",
        "seller_id",
        "marketplace_ids",
        "endpoint_url",
        "token_url",
        "sigv4_enabled",
        "aws_access_key_id",
        "aws_secret_access_key",
        "role_arn",
        "rate_limit_url",
        "token_cache_url",
    }
    assert {w.field_name for w in widgets.values()} == expected
    sensitive = {w.field_name for w in widgets.values() if w.is_sensitive}
    assert sensitive == {"refresh_token", "aws_access_key_id", "aws_secret_access_key"}
    assert widgets["extra__spapi__region"].field["schema"]["enum"] == ["na", "eu", "fe"]
    behaviour = pm.field_behaviours["spapi"]
    assert behaviour["relabeling"] == {"login": "LWA client id", "password": "LWA client secret"}
    assert set(behaviour["hidden_fields"]) == {"host", "schema", "port"}


def test_task_runtime_resolves_the_hook_class_for_the_conn_type() -> None:
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    hook = ProvidersManagerTaskRuntime().hooks["spapi"]
    assert hook is not None
    assert hook.hook_class_name == "spapi.hooks.SpApiHook"
    assert hook.connection_id_attribute_name == "spapi_conn_id"


def test_conn_config_reads_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    from spapi.hooks import SpApiHook

    set_connection(
        monkeypatch, "spapi_t", marketplace_ids="ATVPDKIKX0DER, A2EUQ1WTGCTBG2", sigv4_enabled=False
    )
    cfg = SpApiHook("spapi_t").conn_config
    assert cfg.client_id == CLIENT_ID
    assert cfg.client_secret.get_secret_value() == CLIENT_SECRET
    assert cfg.refresh_token is not None and cfg.refresh_token.get_secret_value() == REFRESH_TOKEN
    assert cfg.marketplace_ids == ("ATVPDKIKX0DER", "A2EUQ1WTGCTBG2")
    assert cfg.base_url == BASE_URL
    assert CLIENT_SECRET not in repr(cfg) and REFRESH_TOKEN not in repr(cfg)


def test_prefixed_extras_from_older_forms_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from spapi.hooks import SpApiHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_SPAPI_OLD",
        json.dumps(
            {
                "conn_type": "spapi",
                "login": CLIENT_ID,
                "password": CLIENT_SECRET,
                "extra": {"extra__spapi__refresh_token": REFRESH_TOKEN, "extra__spapi__region": "eu"},
            }
        ),
    )
    cfg = SpApiHook("spapi_old").conn_config
    assert cfg.region == "eu"
    assert cfg.base_url == "https://sellingpartnerapi-eu.amazon.com"


def test_overrides_win_over_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    from spapi.hooks import SpApiHook

    set_connection(monkeypatch, "spapi_t")
    hook = SpApiHook("spapi_t", config_overrides={"rate_limit_url": "file:///tmp/spapi-rl"})
    assert hook.conn_config.rate_limit_url == "file:///tmp/spapi-rl"


def test_bad_connection_settings_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from spapi.hooks import SpApiHook

    set_connection(monkeypatch, "spapi_bad", region="eu", marketplace_ids="ATVPDKIKX0DER")
    with pytest.raises(ValueError, match="not in region eu"):
        _ = SpApiHook("spapi_bad").conn_config


def test_client_masks_every_minted_token(monkeypatch: pytest.MonkeyPatch) -> None:
    import spapi.hooks as hooks_module

    masked: list[str] = []
    monkeypatch.setattr(hooks_module, "mask_secret", masked.append)
    set_connection(monkeypatch, "spapi_t")
    hook = hooks_module.SpApiHook("spapi_t")
    lwa = FakeLwa()
    client = hook.get_client(transport=httpx.MockTransport(lwa))
    token = client.tokens.get_token() if client.tokens else ""
    assert token.startswith("Atza|")
    assert token in masked
    assert CLIENT_SECRET in masked and REFRESH_TOKEN in masked


def test_test_connection_makes_one_lwa_call(monkeypatch: pytest.MonkeyPatch) -> None:
    from spapi.hooks import SpApiHook

    set_connection(monkeypatch, "spapi_t")
    lwa = FakeLwa()
    hook = SpApiHook("spapi_t")
    hook.client = hook.get_client(transport=httpx.MockTransport(lwa))
    ok, message = hook.test_connection()
    assert ok, message
    assert lwa.issued() == 1


def test_test_connection_reports_a_refused_grant(monkeypatch: pytest.MonkeyPatch) -> None:
    from spapi.hooks import SpApiHook

    set_connection(monkeypatch, "spapi_t", refresh_token="Atzr|revoked")
    hook = SpApiHook("spapi_t")
    hook.client = hook.get_client(transport=httpx.MockTransport(FakeLwa()))
    ok, message = hook.test_connection()
    assert not ok
    assert "invalid_grant" in message
    assert "Atzr|revoked" not in message
