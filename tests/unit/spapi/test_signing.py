"""SigV4 signing, checked against an independent implementation of the AWS specification.

Amazon ignores SP-API signatures (docs/spapi-facts.md §4), so production would never reveal a
wrong one. The reference below is written from the spec with hashlib/hmac only, and is itself
proven on AWS's published Signature Version 4 test-suite vectors before it is trusted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit

import botocore.auth
import botocore.credentials
import botocore.session
import httpx
import pytest
from botocore.stub import Stubber

import spapi.signing
from spapi.errors import UnauthorizedError
from spapi.signing import (
    NO_CREDENTIALS_MESSAGE,
    AwsCredentialsConfig,
    SigV4Signer,
    aws_region_for,
)

# --------------------------------------------------------------------------------------------
# The reference: AWS Signature Version 4, straight from the specification
# --------------------------------------------------------------------------------------------


def _uri_encode(value: str, *, keep_slash: bool = False) -> str:
    # UriEncode: every byte of the UTF-8 form except A-Z a-z 0-9 - _ . ~ becomes %XX (upper case).
    return quote(value, safe="/" if keep_slash else "")


def reference_canonical_request(
    method: str, url: str, headers: Mapping[str, str], body: bytes
) -> tuple[str, str]:
    """(canonical request, signed headers). ``headers`` are exactly the headers to sign.

    The canonical URI encodes the path as sent on the wire once more: AWS services other than S3
    encode each segment twice, and the wire form already is the first encoding (``SKU%2F1`` is
    signed as ``SKU%252F1``). Query names and values are decoded, then encoded strictly and
    sorted by name, then value.
    """
    parts = urlsplit(url)
    canonical_uri = _uri_encode(parts.path or "/", keep_slash=True)
    pairs = []
    for item in parts.query.split("&") if parts.query else []:
        name, _, value = item.partition("=")
        pairs.append((_uri_encode(unquote_plus(name)), _uri_encode(unquote_plus(value))))
    canonical_query = "&".join(f"{name}={value}" for name, value in sorted(pairs))
    canonical = {name.lower().strip(): " ".join(value.split()) for name, value in headers.items()}
    signed_headers = ";".join(sorted(canonical))
    canonical_headers = "".join(f"{name}:{canonical[name]}\n" for name in sorted(canonical))
    payload_hash = hashlib.sha256(body).hexdigest()
    request = "\n".join(
        [method.upper(), canonical_uri, canonical_query, canonical_headers, signed_headers, payload_hash]
    )
    return request, signed_headers


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def reference_signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    k_date = _hmac(f"AWS4{secret_key}".encode(), date)
    k_region = _hmac(k_date, region)
    k_service = _hmac(k_region, service)
    return _hmac(k_service, "aws4_request")


def reference_authorization(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    amz_date: str,
) -> str:
    canonical_request, signed_headers = reference_canonical_request(method, url, headers, body)
    date = amz_date[:8]
    scope = f"{date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ]
    )
    key = reference_signing_key(secret_key, date, region, service)
    signature = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )


def reference_verify(request: httpx.Request, secret_key: str) -> bool:
    """What a verifying server would do: recompute from the request as received."""
    authorization = request.headers["authorization"]
    algorithm, _, rest = authorization.partition(" ")
    fields = dict(part.strip().split("=", 1) for part in rest.split(","))
    access_key, _date, region, service, _ = fields["Credential"].split("/")
    signed = fields["SignedHeaders"].split(";")
    expected = reference_authorization(
        method=request.method,
        url=str(request.url),
        headers={name: request.headers[name] for name in signed},
        body=request.content,
        access_key=access_key,
        secret_key=secret_key,
        region=region,
        service=service,
        amz_date=request.headers["x-amz-date"],
    )
    return algorithm == "AWS4-HMAC-SHA256" and hmac.compare_digest(expected, authorization)


# --------------------------------------------------------------------------------------------
# The reference is right: AWS's published test-suite vectors
# --------------------------------------------------------------------------------------------

SUITE_KEY = "AKIDEXAMPLE"
SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_DATE = "20150830T123600Z"
SUITE_HOST = "example.amazonaws.com"

# (name, method, path and query, extra headers, body, signed headers, signature)
SUITE_VECTORS = [
    ("get-vanilla", "GET", "/", {}, b"", "host;x-amz-date",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("get-vanilla-query-order-key-case", "GET", "/?Param2=value2&Param1=value1", {}, b"", "host;x-amz-date",
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ("get-header-value-trim", "GET", "/", {"My-Header1": " value1", "My-Header2": ' "a   b   c"'}, b"",
     "host;my-header1;my-header2;x-amz-date",
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
    ("get-utf8", "GET", "/\u1234", {}, b"", "host;x-amz-date",
     "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
    ("get-space-normalized", "GET", "/example space/", {}, b"", "host;x-amz-date",
     "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"),
    ("post-vanilla", "POST", "/", {}, b"", "host;x-amz-date",
     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    ("post-x-www-form-urlencoded", "POST", "/", {"Content-Type": "application/x-www-form-urlencoded"},
     b"Param1=value1", "content-type;host;x-amz-date",
     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "target", "extra", "body", "signed", "signature"),
    [vector[1:] for vector in SUITE_VECTORS],
    ids=[vector[0] for vector in SUITE_VECTORS],
)
def test_reference_reproduces_the_aws_test_suite(
    method: str, target: str, extra: dict[str, str], body: bytes, signed: str, signature: str
) -> None:
    got = reference_authorization(
        method=method,
        url=f"https://{SUITE_HOST}{target}",
        headers={"Host": SUITE_HOST, "X-Amz-Date": SUITE_DATE, **extra},
        body=body,
        access_key=SUITE_KEY,
        secret_key=SUITE_SECRET,
        region="us-east-1",
        service="service",
        amz_date=SUITE_DATE,
    )
    assert got == (
        f"AWS4-HMAC-SHA256 Credential={SUITE_KEY}/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders={signed}, Signature={signature}"
    )


def test_reference_reproduces_the_documented_iam_example() -> None:
    # The IAM ListUsers walk-through of the AWS signing documentation, derived key included.
    key = reference_signing_key(SUITE_SECRET, "20150830", "us-east-1", "iam")
    assert key.hex() == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
    got = reference_authorization(
        method="GET",
        url="https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
        headers={
            "Host": "iam.amazonaws.com",
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "X-Amz-Date": SUITE_DATE,
        },
        body=b"",
        access_key=SUITE_KEY,
        secret_key=SUITE_SECRET,
        region="us-east-1",
        service="iam",
        amz_date=SUITE_DATE,
    )
    assert got.endswith("Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------

NOW = dt.datetime(2024, 5, 6, 7, 8, 9)
AMZ_NOW = "20240506T070809Z"
ACCESS_KEY = "AKIDSIGNINGTEST"
SECRET_KEY = "sigv4-secret-key-for-tests"
LWA_TOKEN = "Atza|lwa-access-token-for-tests"
LISTINGS_HOST = "sellingpartnerapi-na.amazon.com"
LISTINGS_URL = (
    f"https://{LISTINGS_HOST}/listings/2021-08-01/items/A1SELLER/SKU%2F1"
    "?marketplaceIds=ATVPDKIKX0DER,A2EUQ1WTGCTBG2&includedData=summaries,issues"
)


@pytest.fixture(autouse=True)
def no_ambient_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No AWS settings from the machine running the tests, and no instance-metadata lookups."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def freeze(monkeypatch: pytest.MonkeyPatch, moment: dt.datetime) -> None:
    # botocore 1.44 reads the clock through botocore.auth.get_current_datetime (naive UTC).
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda remove_tzinfo=True: moment)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    freeze(monkeypatch, NOW)


def keys(session_token: str | None = None) -> AwsCredentialsConfig:
    return AwsCredentialsConfig(
        access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY, session_token=session_token
    )


def expected_authorization(
    request: httpx.Request, signed: Mapping[str, str], *, region: str = "us-east-1"
) -> str:
    return reference_authorization(
        method=request.method,
        url=str(request.url),
        headers=signed,
        body=request.content,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        region=region,
        service="execute-api",
        amz_date=AMZ_NOW,
    )


# --------------------------------------------------------------------------------------------
# The signer agrees with the reference
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["get-vanilla", "get-vanilla-query-order-key-case", "post-vanilla", "post-x-www-form-urlencoded"]
)
def test_signer_reproduces_the_aws_test_suite(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    _, method, target, extra, body, signed, signature = next(v for v in SUITE_VECTORS if v[0] == name)
    freeze(monkeypatch, dt.datetime(2015, 8, 30, 12, 36, 0))
    request = httpx.Request(method, f"https://{SUITE_HOST}{target}", headers=extra, content=body)
    config = AwsCredentialsConfig(access_key_id=SUITE_KEY, secret_access_key=SUITE_SECRET)
    SigV4Signer("us-east-1", config, service="service").sign(request)
    assert request.headers["authorization"] == (
        f"AWS4-HMAC-SHA256 Credential={SUITE_KEY}/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders={signed}, Signature={signature}"
    )


def test_get_listings_item_matches_the_reference(frozen: None) -> None:
    request = httpx.Request(
        "GET", LISTINGS_URL, headers={"x-amz-access-token": LWA_TOKEN, "user-agent": "spapi-listings/0.1"}
    )
    SigV4Signer("us-east-1", keys()).sign(request)

    signed = {"host": LISTINGS_HOST, "x-amz-access-token": LWA_TOKEN, "x-amz-date": AMZ_NOW}
    assert request.headers["authorization"] == expected_authorization(request, signed)
    assert request.headers["x-amz-date"] == AMZ_NOW
    assert "SignedHeaders=host;x-amz-access-token;x-amz-date," in request.headers["authorization"]
    assert "x-amz-security-token" not in request.headers
    assert "x-amz-content-sha256" not in request.headers  # SigV4Auth (not S3's) does not set it
    assert request.headers["user-agent"] == "spapi-listings/0.1"
    # What the reference signed, spelled out: the SKU encoded twice, the commas as %2C.
    canonical, _ = reference_canonical_request("GET", str(request.url), signed, b"")
    assert "\n/listings/2021-08-01/items/A1SELLER/SKU%252F1\n" in canonical
    assert "\nincludedData=summaries%2Cissues&marketplaceIds=ATVPDKIKX0DER%2CA2EUQ1WTGCTBG2\n" in canonical


def test_query_spelling_does_not_change_the_signature(frozen: None) -> None:
    # httpx keeps a literal comma from a URL but encodes one from params=; both are the same query.
    literal = httpx.Request("GET", LISTINGS_URL, headers={"x-amz-access-token": LWA_TOKEN})
    built = httpx.Request(
        "GET",
        LISTINGS_URL.split("?")[0],
        params={"marketplaceIds": "ATVPDKIKX0DER,A2EUQ1WTGCTBG2", "includedData": "summaries,issues"},
        headers={"x-amz-access-token": LWA_TOKEN},
    )
    assert literal.url != built.url
    signer = SigV4Signer("us-east-1", keys())
    signer.sign(literal)
    signer.sign(built)
    assert literal.headers["authorization"] == built.headers["authorization"]


def test_query_with_spaces_plus_and_blank_values_matches_the_reference(frozen: None) -> None:
    request = httpx.Request(
        "GET",
        f"https://{LISTINGS_HOST}/p",
        params=[("b", "x y+z/~"), ("a", ""), ("a", "2"), ("é", "ü")],
        headers={"x-amz-access-token": LWA_TOKEN},
    )
    SigV4Signer("us-east-1", keys()).sign(request)
    signed = {"host": LISTINGS_HOST, "x-amz-access-token": LWA_TOKEN, "x-amz-date": AMZ_NOW}
    assert request.headers["authorization"] == expected_authorization(request, signed)


def test_put_listings_item_with_json_body_matches_the_reference(frozen: None) -> None:
    body = {
        "productType": "LUGGAGE",
        "requirements": "LISTING",
        "attributes": {"item_name": [{"value": "Bag"}]},
    }
    request = httpx.Request(
        "PUT",
        f"https://{LISTINGS_HOST}/listings/2021-08-01/items/A1SELLER/SKU%2F1?marketplaceIds=ATVPDKIKX0DER",
        json=body,
        headers={"x-amz-access-token": LWA_TOKEN, "user-agent": "spapi-listings/0.1"},
    )
    assert request.headers["content-type"] == "application/json"
    SigV4Signer("us-east-1", keys()).sign(request)

    signed = {
        "content-type": "application/json",
        "host": LISTINGS_HOST,
        "x-amz-access-token": LWA_TOKEN,
        "x-amz-date": AMZ_NOW,
    }
    assert request.headers["authorization"] == expected_authorization(request, signed)
    assert (
        "SignedHeaders=content-type;host;x-amz-access-token;x-amz-date," in request.headers["authorization"]
    )
    # The same request with an empty payload hash would sign differently: the body is covered.
    empty_body = httpx.Request("PUT", request.url, headers=request.headers)
    assert request.headers["authorization"] != expected_authorization(empty_body, signed)


def test_session_token_is_sent_and_signed(frozen: None) -> None:
    token = "session-token-for-tests"
    request = httpx.Request("GET", LISTINGS_URL, headers={"x-amz-access-token": LWA_TOKEN})
    SigV4Signer("us-east-1", keys(session_token=token)).sign(request)

    assert request.headers["x-amz-security-token"] == token
    signed = {
        "host": LISTINGS_HOST,
        "x-amz-access-token": LWA_TOKEN,
        "x-amz-date": AMZ_NOW,
        "x-amz-security-token": token,
    }
    assert request.headers["authorization"] == expected_authorization(request, signed)


def test_sandbox_host_with_port_over_http_matches_the_reference(frozen: None) -> None:
    request = httpx.Request(
        "POST",
        "http://127.0.0.1:8000/feeds/2021-06-30/documents",
        json={"contentType": "application/json"},
        headers={"x-amz-access-token": LWA_TOKEN},
    )
    SigV4Signer("us-east-1", keys()).sign(request)
    signed = {
        "content-type": "application/json",
        "host": "127.0.0.1:8000",
        "x-amz-access-token": LWA_TOKEN,
        "x-amz-date": AMZ_NOW,
    }
    assert request.headers["authorization"] == expected_authorization(request, signed)


def test_signing_again_replaces_the_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    signer = SigV4Signer("us-east-1", keys(session_token="t1"))
    request = httpx.Request("GET", LISTINGS_URL, headers={"x-amz-access-token": LWA_TOKEN})
    freeze(monkeypatch, NOW)
    signer.sign(request)
    first = request.headers["authorization"]
    freeze(monkeypatch, NOW + dt.timedelta(seconds=30))
    signer.sign(request)
    assert request.headers.get_list("authorization") != [first]
    assert len(request.headers.get_list("authorization")) == 1
    assert request.headers.get_list("x-amz-date") == ["20240506T070839Z"]
    assert request.headers.get_list("x-amz-security-token") == ["t1"]
    assert reference_verify(request, SECRET_KEY)

    # A retry signed with long-term keys must not keep the earlier session token.
    SigV4Signer("us-east-1", keys()).sign(request)
    assert "x-amz-security-token" not in request.headers
    assert reference_verify(request, SECRET_KEY)


def test_unread_streaming_body_is_refused() -> None:
    request = httpx.Request("PUT", LISTINGS_URL, content=iter([b"{}"]))
    with pytest.raises(RuntimeError, match="requires_request_body"):
        SigV4Signer("us-east-1", keys()).sign(request)


# --------------------------------------------------------------------------------------------
# Tampering is detected
# --------------------------------------------------------------------------------------------


def _copy(request: httpx.Request, *, url: str | None = None, content: bytes | None = None) -> httpx.Request:
    return httpx.Request(
        request.method,
        url or request.url,
        headers=request.headers,
        content=request.content if content is None else content,
    )


def test_tampered_requests_no_longer_verify(frozen: None) -> None:
    request = httpx.Request(
        "PUT",
        f"https://{LISTINGS_HOST}/listings/2021-08-01/items/A1SELLER/SKU1?marketplaceIds=ATVPDKIKX0DER",
        json={"productType": "LUGGAGE", "attributes": {"list_price": [{"value": 10}]}},
        headers={"x-amz-access-token": LWA_TOKEN},
    )
    SigV4Signer("us-east-1", keys()).sign(request)
    assert reference_verify(request, SECRET_KEY)
    assert not reference_verify(request, "another-secret")

    body = request.content.replace(b"10", b"99")
    assert body != request.content
    assert not reference_verify(_copy(request, content=body), SECRET_KEY)
    other_marketplace = str(request.url).replace("ATVPDKIKX0DER", "A1PA6795UKMFR9")
    assert not reference_verify(_copy(request, url=other_marketplace), SECRET_KEY)
    token_swapped = _copy(request)
    token_swapped.headers["x-amz-access-token"] = "Atza|someone-else"
    assert not reference_verify(token_swapped, SECRET_KEY)
    # user-agent is not signed, so rewriting it on the way does not break the signature.
    agent_changed = _copy(request)
    agent_changed.headers["user-agent"] = "proxy/1.0"
    assert reference_verify(agent_changed, SECRET_KEY)


# --------------------------------------------------------------------------------------------
# Credentials: the default chain, and assumed roles through a stubbed STS
# --------------------------------------------------------------------------------------------


def test_default_chain_reads_the_environment(monkeypatch: pytest.MonkeyPatch, frozen: None) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    request = httpx.Request("GET", LISTINGS_URL, headers={"x-amz-access-token": LWA_TOKEN})
    signer = SigV4Signer("na", session=botocore.session.Session())
    signer.sign(request)
    assert (
        f"Credential={ACCESS_KEY}/20240506/us-east-1/execute-api/aws4_request"
        in request.headers["authorization"]
    )
    assert reference_verify(request, SECRET_KEY)


ROLE_ARN = "arn:aws:iam::123456789012:role/spapi-signing"
T0 = dt.datetime(2024, 5, 6, 7, 0, 0, tzinfo=dt.UTC)


def _issued(n: int, expires: dt.datetime) -> dict[str, Any]:
    return {
        "Credentials": {
            "AccessKeyId": f"ASIATEMPORARYKEY{n}",
            "SecretAccessKey": f"temporary-secret-{n}",
            "SessionToken": f"temporary-session-token-{n}",
            "Expiration": expires,
        },
        "AssumedRoleUser": {
            "AssumedRoleId": "AROAEXAMPLE:spapi-listings",
            "Arn": "arn:aws:sts::123456789012:assumed-role/spapi-signing/spapi-listings",
        },
    }


class FakeSts:
    """Hands out real botocore STS clients with a Stubber attached, one queued answer each.

    botocore still builds and validates the AssumeRole call and its answer; only the HTTP is cut.
    """

    def __init__(self, session: botocore.session.Session, expected_params: dict[str, str]) -> None:
        self._create_client = session.create_client
        self.expected_params = expected_params
        self.answers: list[dict[str, Any] | str] = []  # a dict is a success, a str an error code
        self.clients: list[dict[str, Any]] = []
        self.stubbers: list[Stubber] = []
        self.delay = 0.0

    def create_client(self, service_name: str, **kwargs: Any) -> Any:
        assert service_name == "sts"
        time.sleep(self.delay)
        self.clients.append(kwargs)
        client = self._create_client(service_name, **kwargs)
        stubber = Stubber(client)
        answer = self.answers.pop(0)
        if isinstance(answer, str):
            stubber.add_client_error(
                "assume_role",
                service_error_code=answer,
                http_status_code=403,
                expected_params=self.expected_params,
            )
        else:
            stubber.add_response("assume_role", answer, expected_params=self.expected_params)
        stubber.activate()
        self.stubbers.append(stubber)
        return client


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dt.datetime]]:
    now = [T0]
    monkeypatch.setattr(spapi.signing, "_utcnow", lambda: now[0])
    freeze(monkeypatch, T0.replace(tzinfo=None))
    yield now


def role_signer(monkeypatch: pytest.MonkeyPatch, **extra: Any) -> tuple[SigV4Signer, FakeSts, list[str]]:
    session = botocore.session.Session()
    config = AwsCredentialsConfig(
        access_key_id="AKIDBASE",
        secret_access_key="base-secret",
        role_arn=ROLE_ARN,
        role_session_name="listings-worker",
        external_id="external-id-for-tests",
        sts_endpoint_url="https://sts.test.invalid",
    )
    fake = FakeSts(
        session,
        {"RoleArn": ROLE_ARN, "RoleSessionName": "listings-worker", "ExternalId": "external-id-for-tests"},
    )
    monkeypatch.setattr(session, "create_client", fake.create_client)
    seen: list[str] = []
    signer = SigV4Signer("us-east-1", config, session=session, on_secret=seen.append, **extra)
    return signer, fake, seen


def _sign(signer: SigV4Signer) -> httpx.Request:
    request = httpx.Request("GET", LISTINGS_URL, headers={"x-amz-access-token": LWA_TOKEN})
    signer.sign(request)
    return request


def test_role_is_assumed_and_refreshed_before_expiry(
    monkeypatch: pytest.MonkeyPatch, clock: list[dt.datetime]
) -> None:
    signer, fake, seen = role_signer(monkeypatch)
    fake.answers = [_issued(1, T0 + dt.timedelta(hours=1)), _issued(2, T0 + dt.timedelta(hours=2))]

    first = _sign(signer)
    assert fake.clients == [
        {
            "region_name": "us-east-1",
            "endpoint_url": "https://sts.test.invalid",
            "aws_access_key_id": "AKIDBASE",
            "aws_secret_access_key": "base-secret",
            "aws_session_token": None,
        }
    ]
    fake.stubbers[0].assert_no_pending_responses()  # AssumeRole was called, with the expected params
    assert "Credential=ASIATEMPORARYKEY1/" in first.headers["authorization"]
    assert first.headers["x-amz-security-token"] == "temporary-session-token-1"
    assert reference_verify(first, "temporary-secret-1")

    # 20 minutes left: still good.
    clock[0] = T0 + dt.timedelta(minutes=40)
    assert "Credential=ASIATEMPORARYKEY1/" in _sign(signer).headers["authorization"]
    assert len(fake.clients) == 1

    # 4 minutes left: inside the 5-minute window, every caller waits for new keys.
    clock[0] = T0 + dt.timedelta(minutes=56)
    renewed = _sign(signer)
    assert len(fake.clients) == 2
    fake.stubbers[1].assert_no_pending_responses()
    assert "Credential=ASIATEMPORARYKEY2/" in renewed.headers["authorization"]
    assert renewed.headers["x-amz-security-token"] == "temporary-session-token-2"
    assert reference_verify(renewed, "temporary-secret-2")
    assert seen == [
        "temporary-secret-1",
        "temporary-session-token-1",
        "temporary-secret-2",
        "temporary-session-token-2",
    ]


def test_prefetch_assumes_the_role_so_that_signing_does_not(
    monkeypatch: pytest.MonkeyPatch, clock: list[dt.datetime]
) -> None:
    """The client prefetches before booking its rate-limit slot: STS must not delay the request."""
    signer, fake, _ = role_signer(monkeypatch)
    fake.answers = [_issued(1, T0 + dt.timedelta(hours=1))]
    signer.prefetch()
    assert len(fake.clients) == 1  # and no answer is left: a second STS call would fail
    assert "Credential=ASIATEMPORARYKEY1/" in _sign(signer).headers["authorization"]
    assert len(fake.clients) == 1


def test_failed_early_refresh_keeps_the_old_keys_until_they_are_due(
    monkeypatch: pytest.MonkeyPatch, clock: list[dt.datetime], caplog: pytest.LogCaptureFixture
) -> None:
    signer, fake, _ = role_signer(monkeypatch)
    fake.answers = [_issued(1, T0 + dt.timedelta(hours=1)), "AccessDenied", "AccessDenied"]
    _sign(signer)

    clock[0] = T0 + dt.timedelta(minutes=52)  # 8 minutes left: one try, a failure is only logged
    assert "Credential=ASIATEMPORARYKEY1/" in _sign(signer).headers["authorization"]
    assert len(fake.clients) == 2

    clock[0] = T0 + dt.timedelta(minutes=56)  # 4 minutes left: the failure surfaces
    with pytest.raises(UnauthorizedError) as caught:
        _sign(signer)
    assert caught.value.code == "AccessDenied"
    assert ROLE_ARN in str(caught.value)
    for secret in ("base-secret", "temporary-secret-1", "temporary-session-token-1", "external-id-for-tests"):
        assert secret not in str(caught.value)
        assert secret not in caplog.text


def test_concurrent_first_use_resolves_and_assumes_the_role_once(
    monkeypatch: pytest.MonkeyPatch, clock: list[dt.datetime]
) -> None:
    # Base credentials from the (slow) default chain, then a (slow) AssumeRole: eight threads
    # signing at once must share one lookup and one set of temporary keys.
    session = botocore.session.Session()
    fake = FakeSts(session, {"RoleArn": ROLE_ARN, "RoleSessionName": "spapi-listings"})
    fake.answers = [_issued(1, T0 + dt.timedelta(hours=1))]
    fake.delay = 0.05
    lookups: list[int] = []

    def slow_chain() -> botocore.credentials.Credentials:
        lookups.append(1)
        time.sleep(0.05)
        return botocore.credentials.Credentials("AKIDFROMCHAIN", "chain-secret")

    monkeypatch.setattr(session, "create_client", fake.create_client)
    monkeypatch.setattr(session, "get_credentials", slow_chain)
    signer = SigV4Signer("na", AwsCredentialsConfig(role_arn=ROLE_ARN), session=session)
    barrier = threading.Barrier(8)
    results: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        barrier.wait()
        try:
            results.append(_sign(signer).headers["authorization"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(lookups) == 1
    assert len(fake.clients) == 1
    assert len(results) == 8
    assert all("Credential=ASIATEMPORARYKEY1/" in authorization for authorization in results)


def test_role_with_default_chain_base_credentials(
    monkeypatch: pytest.MonkeyPatch, clock: list[dt.datetime]
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token")
    session = botocore.session.Session()
    fake = FakeSts(session, {"RoleArn": ROLE_ARN, "RoleSessionName": "spapi-listings"})
    fake.answers = [_issued(1, T0 + dt.timedelta(hours=1))]
    monkeypatch.setattr(session, "create_client", fake.create_client)
    signer = SigV4Signer("eu", AwsCredentialsConfig(role_arn=ROLE_ARN), session=session)

    request = _sign(signer)
    assert fake.clients[0]["aws_access_key_id"] == "AKIDFROMENV"
    assert fake.clients[0]["aws_session_token"] == "env-token"
    assert fake.clients[0]["region_name"] == "eu-west-1"
    scope = "20240506/eu-west-1/execute-api/aws4_request"
    assert f"Credential=ASIATEMPORARYKEY1/{scope}" in request.headers["authorization"]
    assert reference_verify(request, "temporary-secret-1")


# --------------------------------------------------------------------------------------------
# Secrets stay out of reprs, errors and logs
# --------------------------------------------------------------------------------------------

SENTINEL_KEY_ID = "AKIDSENTINEL0000"
SENTINEL_SECRET = "sentinel-secret-access-key"
SENTINEL_TOKEN = "sentinel-session-token"
SENTINEL_EXTERNAL_ID = "sentinel-external-id"
SENTINELS = (SENTINEL_KEY_ID, SENTINEL_SECRET, SENTINEL_TOKEN, SENTINEL_EXTERNAL_ID)


def test_repr_hides_secrets() -> None:
    config = AwsCredentialsConfig(
        access_key_id=SENTINEL_KEY_ID,
        secret_access_key=SENTINEL_SECRET,
        session_token=SENTINEL_TOKEN,
        role_arn=ROLE_ARN,
        external_id=SENTINEL_EXTERNAL_ID,
    )
    signer = SigV4Signer("fe", config)
    for text in (repr(config), str(config), repr(signer), str(signer)):
        for sentinel in SENTINELS:
            assert sentinel not in text
    assert repr(signer) == (
        f"SigV4Signer(region='us-west-2', service='execute-api', role_arn='{ROLE_ARN}', keys_set=True)"
    )
    assert "secret_access_key=<set>" in repr(config)
    assert "session_token=None" in repr(AwsCredentialsConfig())


@pytest.mark.parametrize(
    "config",
    [
        AwsCredentialsConfig(),
        AwsCredentialsConfig(session_token=SENTINEL_TOKEN, external_id=SENTINEL_EXTERNAL_ID),
        AwsCredentialsConfig(role_arn=ROLE_ARN, external_id=SENTINEL_EXTERNAL_ID),
    ],
    ids=["nothing", "token-only", "role-without-base-credentials"],
)
def test_no_credentials_error_is_safe(config: AwsCredentialsConfig) -> None:
    signer = SigV4Signer("us-east-1", config, session=botocore.session.Session())
    with pytest.raises(UnauthorizedError) as caught:
        _sign(signer)
    assert str(caught.value) == NO_CREDENTIALS_MESSAGE
    for sentinel in SENTINELS:
        assert sentinel not in str(caught.value)


@pytest.mark.parametrize(
    "config",
    [
        AwsCredentialsConfig(access_key_id=SENTINEL_KEY_ID),
        AwsCredentialsConfig(secret_access_key=SENTINEL_SECRET, session_token=SENTINEL_TOKEN),
    ],
    ids=["key-without-secret", "secret-without-key"],
)
def test_half_a_key_pair_is_refused_without_echoing_it(config: AwsCredentialsConfig) -> None:
    with pytest.raises(UnauthorizedError) as caught:
        SigV4Signer("us-east-1", config)
    for sentinel in SENTINELS:
        assert sentinel not in str(caught.value)
        assert sentinel not in repr(caught.value)


def test_debug_logging_does_not_leak_tokens(caplog: pytest.LogCaptureFixture, frozen: None) -> None:
    caplog.set_level(logging.DEBUG)
    config = AwsCredentialsConfig(
        access_key_id=SENTINEL_KEY_ID, secret_access_key=SENTINEL_SECRET, session_token=SENTINEL_TOKEN
    )
    request = httpx.Request("GET", LISTINGS_URL, headers={"x-amz-access-token": LWA_TOKEN})
    SigV4Signer("us-east-1", config).sign(request)
    assert request.headers["x-amz-security-token"] == SENTINEL_TOKEN
    for secret in (SENTINEL_SECRET, SENTINEL_TOKEN, LWA_TOKEN):
        assert secret not in caplog.text


def test_on_secret_sees_explicit_secrets_once(frozen: None) -> None:
    seen: list[str] = []
    signer = SigV4Signer("us-east-1", keys(session_token="explicit-token"), on_secret=seen.append)
    _sign(signer)
    _sign(signer)
    assert seen == [SECRET_KEY, "explicit-token"]


# --------------------------------------------------------------------------------------------
# Regions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "aws_region"),
    [("na", "us-east-1"), ("eu", "eu-west-1"), ("fe", "us-west-2"), ("EU", "eu-west-1")],
)
def test_aws_region_for(code: str, aws_region: str) -> None:
    assert aws_region_for(code) == aws_region
    assert SigV4Signer(code, keys()).region == aws_region


def test_aws_region_for_rejects_unknown_codes() -> None:
    with pytest.raises(ValueError, match="unknown SP-API region"):
        aws_region_for("us")


def test_aws_region_passes_through(frozen: None) -> None:
    signer = SigV4Signer("eu-west-1", keys())
    assert signer.region == "eu-west-1"
    request = httpx.Request(
        "GET", LISTINGS_URL.replace("-na.", "-eu."), headers={"x-amz-access-token": LWA_TOKEN}
    )
    signer.sign(request)
    signed = {
        "host": "sellingpartnerapi-eu.amazon.com",
        "x-amz-access-token": LWA_TOKEN,
        "x-amz-date": AMZ_NOW,
    }
    assert request.headers["authorization"] == expected_authorization(request, signed, region="eu-west-1")
