"""SpApiHook and the provider metadata, against a real Airflow install (no database needed)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.airflow

from tests.unit.spapi.fakes import (  # noqa: E402
    BASE_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    TOKEN_URL,
    FakeLwa,
)


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **extra: Any) -> None:
    """A sandbox-environment connection; ``extra`` values of ``None`` drop the key."""
    fields = {
        "environment": "sandbox",
        "refresh_token": REFRESH_TOKEN,
        "region": "na",
        "seller_id": "A1SELLER",
        "endpoint_url": BASE_URL,
        "token_url": TOKEN_URL,
        **extra,
    }
    set_raw_connection(monkeypatch, conn_id, extra={k: v for k, v in fields.items() if v is not None})


def set_raw_connection(
    monkeypatch: pytest.MonkeyPatch,
    conn_id: str,
    *,
    extra: Any,
    login: str | None = CLIENT_ID,
    password: str | None = CLIENT_SECRET,
) -> None:
    """``extra`` as given: a dict, or a string that Airflow keeps verbatim (malformed JSON too)."""
    payload = {"conn_type": "spapi", "login": login, "password": password, "extra": extra}
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
        "environment",
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
    assert widgets["extra__spapi__environment"].field["schema"]["enum"] == ["sandbox", "dev", "stage", "prod"]
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
                "extra": {
                    "extra__spapi__refresh_token": REFRESH_TOKEN,
                    "extra__spapi__region": "eu",
                    "extra__spapi__environment": "prod",
                },
            }
        ),
    )
    cfg = SpApiHook("spapi_old").conn_config
    assert cfg.region == "eu"
    assert cfg.environment == "prod"
    assert cfg.base_url == "https://sellingpartnerapi-eu.amazon.com"


def test_overrides_win_over_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    from spapi.hooks import SpApiHook

    set_connection(monkeypatch, "spapi_t")
    hook = SpApiHook("spapi_t", config_overrides={"rate_limit_url": "file:///tmp/spapi-rl"})
    assert hook.conn_config.rate_limit_url == "file:///tmp/spapi-rl"


def test_bad_connection_settings_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, "spapi_bad", region="eu", marketplace_ids="ATVPDKIKX0DER")
    message = connection_error("spapi_bad", "extra.marketplace_ids")
    assert "not in region eu" in message


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


# --- connections fail loudly ---------------------------------------------------------------------------

AWS_SECRET = "SENTINEL/aws/secret/key/hooks"
SECRETS = (CLIENT_SECRET, REFRESH_TOKEN, AWS_SECRET)


def connection_error(conn_id: str, field: str, **hook_kw: Any) -> str:
    """The hook's error for ``conn_id``: it names the connection and ``field`` and holds no secret."""
    from spapi.errors import SpApiConnectionError
    from spapi.hooks import SpApiHook

    with pytest.raises(SpApiConnectionError) as info:
        _ = SpApiHook(conn_id, **hook_kw).conn_config
    err = info.value
    message = str(err)
    assert f"connection {conn_id!r} field {field}:" in message, message
    assert (conn_id, field) in {(p.conn_id, p.field) for p in err.problems}
    for secret in SECRETS:
        assert secret not in message and secret not in repr(err) and secret not in repr(err.problems)
    return message


def test_malformed_json_extra_is_refused_not_read_as_production(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk import BaseHook

    # One trailing comma: Airflow's extra_dejson logs and returns {}, which used to mean "no
    # endpoint_url, region na": Amazon's production endpoints, with the seller's refresh token.
    broken = json.dumps({"environment": "sandbox", "refresh_token": REFRESH_TOKEN, "endpoint_url": BASE_URL})
    set_raw_connection(monkeypatch, "spapi_broken", extra=broken[:-1] + ", }")
    assert BaseHook.get_connection("spapi_broken").extra_dejson == {}
    message = connection_error("spapi_broken", "extra")
    assert "not valid JSON" in message and "line 1 column" in message


@pytest.mark.parametrize(("extra", "kind"), [("[1, 2]", "list"), ('"just text"', "str"), ("42", "int")])
def test_extra_that_is_not_an_object_is_refused(
    monkeypatch: pytest.MonkeyPatch, extra: str, kind: str
) -> None:
    set_raw_connection(monkeypatch, "spapi_shape", extra=extra)
    assert f"must be a JSON object, got a JSON {kind}" in connection_error("spapi_shape", "extra")


def test_a_connection_of_another_type_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "aws", "login": CLIENT_ID, "password": CLIENT_SECRET, "extra": {}}
    monkeypatch.setenv("AIRFLOW_CONN_SPAPI_AWS", json.dumps(conn))
    assert "is 'aws', not 'spapi'" in connection_error("spapi_aws", "conn_type")


def test_missing_refresh_token_is_refused_unless_grantless(monkeypatch: pytest.MonkeyPatch) -> None:
    from spapi.hooks import SpApiHook

    set_connection(monkeypatch, "spapi_norefresh", refresh_token=None)
    assert "refresh token" in connection_error("spapi_norefresh", "extra.refresh_token")
    cfg = SpApiHook("spapi_norefresh", require_refresh_token=False).conn_config
    assert cfg.refresh_token is None


def test_an_access_token_in_the_refresh_token_field_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, "spapi_atza", refresh_token="Atza|SENTINEL-access-pasted")
    message = connection_error("spapi_atza", "extra.refresh_token")
    assert "access token" in message and "SENTINEL-access-pasted" not in message


@pytest.mark.parametrize(
    ("login", "password", "field"),
    [(None, CLIENT_SECRET, "login"), ("", CLIENT_SECRET, "login"), (CLIENT_ID, None, "password")],
)
def test_missing_client_id_or_secret_is_refused(
    monkeypatch: pytest.MonkeyPatch, login: str | None, password: str | None, field: str
) -> None:
    extra = {"environment": "sandbox", "refresh_token": REFRESH_TOKEN, "endpoint_url": BASE_URL}
    set_raw_connection(monkeypatch, "spapi_nocreds", extra=extra, login=login, password=password)
    assert "missing" in connection_error("spapi_nocreds", field)


def test_unknown_region_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, "spapi_region", region="us")
    message = connection_error("spapi_region", "extra.region")
    assert "'us' is not an SP-API region; one of na, eu, fe" in message


def test_a_secret_pasted_into_region_is_not_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, "spapi_pasted", region=CLIENT_SECRET, marketplace_ids=AWS_SECRET)
    message = connection_error("spapi_pasted", "extra.region")
    assert f"a {len(CLIENT_SECRET)}-character value (not shown)" in message
    assert CLIENT_SECRET[:10] not in message


def test_a_secret_pasted_into_marketplace_ids_is_not_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    # Unknown ids are quoted only when they are shaped like Amazon's ids.
    set_connection(monkeypatch, "spapi_pasted_mp", marketplace_ids=f"A1NOSUCHID00,{CLIENT_SECRET}")
    message = connection_error("spapi_pasted_mp", "extra.marketplace_ids")
    assert f"'A1NOSUCHID00', a {len(CLIENT_SECRET)}-character value (not shown)" in message


def test_unknown_key_is_refused_with_the_accepted_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from spapi.hooks import EXTRA_KEYS

    set_connection(monkeypatch, "spapi_typo", endpiont_url="http://127.0.0.1:8900")
    message = connection_error("spapi_typo", "extra.endpiont_url")
    assert "did you mean 'endpoint_url'?" in message
    assert "accepted keys: " + ", ".join(EXTRA_KEYS) in message
    assert {"environment", "refresh_token", "region", "endpoint_url", "token_url"} <= set(EXTRA_KEYS)
    assert "client_secret" not in EXTRA_KEYS


def test_client_secret_in_extra_is_refused_without_quoting_it(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, "spapi_misplaced", client_secret=AWS_SECRET)
    assert "password" in connection_error("spapi_misplaced", "extra.client_secret")


def test_missing_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, "spapi_noenv", environment=None)
    message = connection_error("spapi_noenv", "extra.environment")
    assert "missing" in message and "sandbox, dev, stage, prod" in message


def test_invalid_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, "spapi_qa", environment="production")
    assert "'production' is not an environment" in connection_error("spapi_qa", "extra.environment")


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        (
            {"endpoint_url": "http://127.0.0.1:8900"},
            "extra.endpoint_url",
            "host 127.0.0.1 is not Amazon's SP-API",
        ),
        (
            {"endpoint_url": "https://sandbox.sellingpartnerapi-na.amazon.com"},
            "extra.endpoint_url",
            "is Amazon's sandbox",
        ),
        ({"endpoint_url": None, "use_sandbox": True}, "extra.use_sandbox", "may not use Amazon's sandbox"),
        ({"endpoint_url": None}, "extra.token_url", "host lwa.test is not Amazon's LWA"),
        (
            {"endpoint_url": "http://sellingpartnerapi-na.amazon.com"},
            "extra.endpoint_url",
            "must use https",
        ),
    ],
)
def test_sandbox_endpoint_in_a_prod_connection_is_refused(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], field: str, words: str
) -> None:
    set_connection(monkeypatch, "spapi_prod", environment="prod", **extra)
    assert words in connection_error("spapi_prod", field)


@pytest.mark.parametrize("environment", ["sandbox", "dev", "stage"])
def test_production_endpoint_in_a_non_prod_connection_is_refused(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    set_connection(
        monkeypatch,
        "spapi_live",
        environment=environment,
        endpoint_url="https://sellingpartnerapi-na.amazon.com",
    )
    message = connection_error("spapi_live", "extra.endpoint_url")
    assert f"is Amazon's production SP-API; environment {environment}" in message


def test_a_non_prod_connection_without_endpoint_would_be_production_and_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_connection(monkeypatch, "spapi_default_host", environment="dev", endpoint_url=None)
    assert "production SP-API" in connection_error("spapi_default_host", "extra.endpoint_url")


def test_an_endpoint_of_another_region_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(
        monkeypatch,
        "spapi_cross",
        environment="dev",
        region="eu",
        endpoint_url="https://sandbox.sellingpartnerapi-na.amazon.com",
    )
    assert "serves region na, but region is eu" in connection_error("spapi_cross", "extra.endpoint_url")


def test_a_value_of_the_wrong_type_names_its_field(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, "spapi_type", rate_scale="fast")
    assert "valid number" in connection_error("spapi_type", "extra.rate_scale")


def test_every_problem_of_a_connection_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {"regoin": "eu", "environment": "qa", "rate_scale": "fast", "aws_secret_access_key": AWS_SECRET}
    set_raw_connection(monkeypatch, "spapi_many", extra=extra, password=None)
    message = connection_error("spapi_many", "extra.regoin")
    for field in ("password", "extra.refresh_token", "extra.environment", "extra.rate_scale"):
        assert f"field {field}:" in message


@pytest.mark.parametrize(
    ("extra"),
    [
        {"environment": "prod", "endpoint_url": None, "token_url": None},
        {"environment": "prod", "endpoint_url": "https://sellingpartnerapi-na.amazon.com", "token_url": None},
        {"environment": "sandbox", "endpoint_url": "http://127.0.0.1:8900"},
        {"environment": "dev", "endpoint_url": "https://sandbox.sellingpartnerapi-na.amazon.com"},
        {"environment": "stage", "endpoint_url": None, "use_sandbox": True},
    ],
)
def test_endpoints_that_fit_their_environment_are_accepted(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any]
) -> None:
    from spapi.hooks import SpApiHook

    set_connection(monkeypatch, "spapi_ok", **extra)
    cfg = SpApiHook("spapi_ok").conn_config
    assert cfg.environment == extra["environment"]


def test_test_connection_reports_connection_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    from spapi.hooks import SpApiHook

    set_raw_connection(monkeypatch, "spapi_form", extra="{not json")
    ok, message = SpApiHook("spapi_form").test_connection()
    assert not ok
    assert "'spapi_form'" in message and "field extra:" in message


def test_connection_error_survives_pickling(monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    from spapi.errors import SpApiConnectionError
    from spapi.hooks import SpApiHook

    set_connection(monkeypatch, "spapi_pickle", environment=None)
    with pytest.raises(SpApiConnectionError) as info:
        _ = SpApiHook("spapi_pickle").conn_config
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.problems == info.value.problems and str(copy) == str(info.value)
    assert copy.conn_ids == ("spapi_pickle",)


def test_connection_extra_json_states_the_environment() -> None:
    from spapi.hooks import connection_extra_json

    extra = json.loads(connection_extra_json(environment="sandbox", region="na", seller_id=None))
    assert extra == {"environment": "sandbox", "region": "na"}
    with pytest.raises(ValueError, match="regoin"):
        connection_extra_json(environment="sandbox", regoin="na")
