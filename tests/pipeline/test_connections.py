"""check_connections: the run's gate refuses unusable connections and connections of another environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.airflow

from listings_pipeline.config import DEFAULT_CONFIG, PipelineConfig, load_config  # noqa: E402
from listings_pipeline.connections import check_connections  # noqa: E402
from spapi.errors import SpApiConnectionError  # noqa: E402

CLIENT_ID = "amzn1.application-oa2-client.gate"
CLIENT_SECRET = "SENTINEL-gate-client-secret-71aa"
REFRESH_NA = "Atzr|SENTINEL-gate-refresh-na-02bc"
REFRESH_EU = "Atzr|SENTINEL-gate-refresh-eu-93cd"
SECRETS = (CLIENT_SECRET, REFRESH_NA, REFRESH_EU)
LOCAL = "http://127.0.0.1:8900"


def pipeline(environment: str | None = "sandbox", **sellers: tuple[str, str, str]) -> PipelineConfig:
    """``sellers``: conn id -> (seller id, region, marketplace)."""
    sellers = sellers or {
        "spapi_na": ("A1GATENA", "na", "ATVPDKIKX0DER"),
        "spapi_eu": ("A3GATEEU", "eu", "A1PA6795UKMFR9"),
    }
    raw: dict[str, Any] = {
        "sellers": [
            {"seller_id": s, "spapi_conn_id": c, "region": r, "marketplaces": [m], "catalog": "c.csv"}
            for c, (s, r, m) in sellers.items()
        ]
    }
    if environment is not None:
        raw["environment"] = environment
    return PipelineConfig.model_validate(raw)


def connect(monkeypatch: pytest.MonkeyPatch, conn_id: str, extra: Any, **conn: Any) -> None:
    payload = {"conn_type": "spapi", "login": CLIENT_ID, "password": CLIENT_SECRET, "extra": extra, **conn}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(payload))


def sandbox_extra(seller: str, region: str, token: str, **more: Any) -> dict[str, Any]:
    return {
        "environment": "sandbox",
        "refresh_token": token,
        "seller_id": seller,
        "region": region,
        "endpoint_url": LOCAL,
        "token_url": f"{LOCAL}/auth/o2/token",
        **more,
    }


def prod_extra(seller: str, region: str, token: str) -> dict[str, Any]:
    return {"environment": "prod", "refresh_token": token, "seller_id": seller, "region": region}


@pytest.fixture
def both_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    connect(monkeypatch, "spapi_na", sandbox_extra("A1GATENA", "na", REFRESH_NA))
    connect(monkeypatch, "spapi_eu", sandbox_extra("A3GATEEU", "eu", REFRESH_EU))


def refused(config: PipelineConfig, conn_ids: list[str] | None = None) -> SpApiConnectionError:
    with pytest.raises(SpApiConnectionError) as info:
        check_connections(config, conn_ids)
    for secret in SECRETS:
        assert secret not in str(info.value) and secret not in repr(info.value.problems)
    return info.value


def assert_names(err: SpApiConnectionError, conn_id: str, field: str, words: str) -> None:
    assert f"connection {conn_id!r} field {field}:" in str(err), str(err)
    assert any(p.conn_id == conn_id and p.field == field and words in p.reason for p in err.problems), (
        err.problems
    )


def test_matching_connections_pass_and_come_back_parsed(both_sandbox: None) -> None:
    configs = check_connections(pipeline())
    assert sorted(configs) == ["spapi_eu", "spapi_na"]
    assert configs["spapi_eu"].region == "eu" and configs["spapi_na"].environment == "sandbox"


def test_a_prod_connection_is_refused_for_a_sandbox_config(
    both_sandbox: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, "spapi_eu", prod_extra("A3GATEEU", "eu", REFRESH_EU))
    err = refused(pipeline("sandbox"))
    assert_names(
        err,
        "spapi_eu",
        "extra.environment",
        "connection spapi_eu is environment prod but the pipeline config is sandbox",
    )
    assert err.conn_ids == ("spapi_eu",)


def test_a_sandbox_connection_is_refused_for_a_prod_config(both_sandbox: None) -> None:
    err = refused(pipeline("prod"))
    for conn_id in ("spapi_na", "spapi_eu"):
        assert_names(
            err,
            conn_id,
            "extra.environment",
            f"connection {conn_id} is environment sandbox but the pipeline config is prod",
        )


@pytest.mark.parametrize("environment", ["dev", "stage"])
def test_non_prod_environments_do_not_mix_either(both_sandbox: None, environment: str) -> None:
    assert_names(
        refused(pipeline(environment)),
        "spapi_na",
        "extra.environment",
        f"the pipeline config is {environment}",
    )


def test_a_config_without_environment_is_refused(both_sandbox: None) -> None:
    err = refused(pipeline(None))
    assert_names(err, "spapi_na", "extra.environment", "the pipeline config states no environment")


def test_every_problem_of_every_connection_is_listed_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    config = pipeline(
        "sandbox",
        spapi_broken=("A1GATENA", "na", "ATVPDKIKX0DER"),
        spapi_missing=("A2GATENA", "na", "A2EUQ1WTGCTBG2"),
        spapi_live=("A3GATEEU", "eu", "A1PA6795UKMFR9"),
        spapi_wrong=("A4GATEEU", "eu", "A13V1IB3VIYZZH"),
        spapi_fine=("A5GATENA", "na", "A1AM78C64UM0Y8"),
    )
    # Malformed JSON: Airflow itself would read {} and the client would go to production.
    broken = json.dumps(sandbox_extra("A1GATENA", "na", REFRESH_NA))[:-1] + ","
    connect(monkeypatch, "spapi_broken", broken)
    monkeypatch.delenv("AIRFLOW_CONN_SPAPI_MISSING", raising=False)
    connect(monkeypatch, "spapi_live", prod_extra("A3GATEEU", "eu", REFRESH_EU))
    connect(monkeypatch, "spapi_wrong", sandbox_extra("A9SOMEONE", "na", REFRESH_NA))
    connect(monkeypatch, "spapi_fine", sandbox_extra("A5GATENA", "na", REFRESH_NA))

    err = refused(config)
    assert_names(err, "spapi_broken", "extra", "not valid JSON")
    assert_names(err, "spapi_missing", "conn_id", "is not defined")
    assert_names(
        err, "spapi_live", "extra.environment", "is environment prod but the pipeline config is sandbox"
    )
    assert_names(
        err, "spapi_wrong", "extra.region", "is na but seller A4GATEEU in the pipeline config is in region eu"
    )
    assert_names(
        err,
        "spapi_wrong",
        "extra.seller_id",
        "is A9SOMEONE but the pipeline config uses this connection for seller A4GATEEU",
    )
    assert "spapi_fine" not in err.conn_ids
    assert set(err.conn_ids) == {"spapi_broken", "spapi_missing", "spapi_live", "spapi_wrong"}


def test_only_the_named_connections_are_checked(both_sandbox: None, monkeypatch: pytest.MonkeyPatch) -> None:
    connect(monkeypatch, "spapi_eu", "{not json")
    assert sorted(check_connections(pipeline(), ["spapi_na"])) == ["spapi_na"]
    assert_names(refused(pipeline(), ["spapi_eu", "spapi_na"]), "spapi_eu", "extra", "not valid JSON")


def test_the_shipped_config_and_the_demo_connections_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from demo.environment import DemoLayout, connections

    config = load_config(DEFAULT_CONFIG)
    assert config.environment == "sandbox"
    for conn_id, conn in connections(DemoLayout(tmp_path)).items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    assert set(check_connections(config)) == {s.spapi_conn_id for s in config.sellers}
