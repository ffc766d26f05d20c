"""SpApiConfig: endpoints per region, the sandbox, validation, secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from spapi.config import SpApiConfig


def make(**kw: object) -> SpApiConfig:
    base: dict[str, object] = {"client_id": "cid", "client_secret": "s3cret-value", "refresh_token": "Atzr|r"}
    base.update(kw)
    return SpApiConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("region", "url"),
    [
        ("na", "https://sellingpartnerapi-na.amazon.com"),
        ("EU", "https://sellingpartnerapi-eu.amazon.com"),
        ("fe", "https://sellingpartnerapi-fe.amazon.com"),
    ],
)
def test_regional_endpoints(region: str, url: str) -> None:
    assert make(region=region).base_url == url


def test_amazons_static_sandbox_and_local_override() -> None:
    assert make(region="eu", use_sandbox=True).base_url == "https://sandbox.sellingpartnerapi-eu.amazon.com"
    assert make(endpoint_url="http://127.0.0.1:8900/").base_url == "http://127.0.0.1:8900"


def test_marketplaces_must_belong_to_the_region() -> None:
    assert make(region="na", marketplace_ids="ATVPDKIKX0DER, A2EUQ1WTGCTBG2").marketplace_ids == (
        "ATVPDKIKX0DER",
        "A2EUQ1WTGCTBG2",
    )
    with pytest.raises(ValidationError, match=r"A1PA6795UKMFR9 \(DE\) is not in region na"):
        make(region="na", marketplace_ids=["A1PA6795UKMFR9"])
    with pytest.raises(ValidationError, match="unknown marketplace ids"):
        make(marketplace_ids=["NOPE"])


def test_unknown_region_and_fields_are_rejected() -> None:
    with pytest.raises(ValidationError):
        make(region="us")
    with pytest.raises(ValidationError):
        make(refresh_tokn="typo")


def test_aws_keys_come_in_pairs() -> None:
    with pytest.raises(ValidationError, match="together"):
        make(aws_access_key_id="AKIA...")


def test_account_key_is_the_seller_or_a_hash_that_hides_the_grant() -> None:
    assert make(seller_id="A1SELLER").account_key == "A1SELLER"
    key = make().account_key
    assert key.startswith("acct-") and "Atzr" not in key
    assert make(refresh_token="Atzr|other").account_key != key


def test_secrets_are_hidden_and_the_config_is_frozen() -> None:
    cfg = make(aws_access_key_id="AKIA1", aws_secret_access_key="aws-secret-value")
    for text in (repr(cfg), str(cfg), str(cfg.model_dump()), cfg.model_dump_json()):
        assert "s3cret-value" not in text and "Atzr|r" not in text and "aws-secret-value" not in text
    with pytest.raises(ValidationError):
        cfg.region = "eu"  # type: ignore[misc]
