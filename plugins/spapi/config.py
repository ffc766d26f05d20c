"""Everything needed to talk to SP-API for one selling partner, as one frozen, validated model.

The Airflow hook builds it from a connection; plain Python users build it directly. Secrets are
``SecretStr`` so that ``repr()``, logging and ``model_dump()`` show ``**********``; only the auth
code calls ``get_secret_value()``.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal, get_args
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from spapi.regions import LWA_TOKEN_URL, REGIONS, RegionCode, check_marketplaces, get_region

PositiveFloat = Annotated[float, Field(gt=0)]

Environment = Literal["sandbox", "dev", "stage", "prod"]
ENVIRONMENTS: tuple[str, ...] = get_args(Environment)
LWA_HOST = urlsplit(LWA_TOKEN_URL).hostname or ""


def _host(url: str) -> str:
    """The bare host of ``url`` (no user info, no port): safe to quote in an error."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _is_amazon_production_host(host: str) -> bool:
    """Anything under amazon.com that is not one of Amazon's ``sandbox.`` hosts counts as live."""
    return (host == "amazon.com" or host.endswith(".amazon.com")) and not host.startswith("sandbox.")


def endpoint_problems(
    environment: str,
    *,
    region: str,
    endpoint_url: str | None,
    token_url: str,
    use_sandbox: bool,
) -> list[tuple[str, str]]:
    """Where a configuration of ``environment`` may send its requests, as ``(field, reason)`` pairs.

    The rule exists because a seller's refresh token works against Amazon's live API from anywhere:
    a test setup that silently falls back to the production endpoint writes to a real account. So:

    * ``prod`` talks to Amazon only: no ``endpoint_url`` (the regional production host) or exactly
      ``https://sellingpartnerapi-<region>.amazon.com``; ``use_sandbox`` off; ``token_url`` Amazon's
      LWA (``https://api.amazon.com/...``). A proxy or the local sandbox is refused.
    * ``sandbox``, ``dev`` and ``stage`` never reach Amazon's live SP-API: they need an
      ``endpoint_url`` whose host is not under ``amazon.com`` (the local sandbox, a mock) or is one of
      Amazon's ``sandbox.sellingpartnerapi-<region>.amazon.com`` hosts, or ``use_sandbox: true``. Any
      other ``amazon.com`` host, including the default endpoint, is refused. Their ``token_url`` is
      free (Amazon's own sandbox takes real LWA tokens).
    * In every environment an Amazon endpoint must belong to ``region``.

    Reasons quote hosts only, never a whole URL, which may carry credentials.
    """
    problems: list[tuple[str, str]] = []
    if endpoint_url:
        host = _host(endpoint_url)
        if not host:
            return [("endpoint_url", "is not a URL with a host")]
        problems += _endpoint_host_problems(environment, region, host, endpoint_url)
    elif environment != "prod" and not use_sandbox:
        problems.append(
            (
                "endpoint_url",
                f"missing: without it (and without use_sandbox) the client would call Amazon's "
                f"production SP-API, which environment {environment} may not use",
            )
        )
    if environment == "prod":
        problems += _prod_sandbox_and_token_problems(token_url, use_sandbox)
    return problems


def _region_of(host: str) -> str | None:
    """The region whose production or sandbox SP-API host ``host`` is, if it is one."""
    return next(
        (r.code for r in REGIONS.values() if host in (_host(r.endpoint), _host(r.sandbox_endpoint))), None
    )


def _endpoint_host_problems(
    environment: str, region: str, host: str, endpoint_url: str
) -> list[tuple[str, str]]:
    """An explicit endpoint must serve ``region``; in prod it must be that region's production host
    over https, and anywhere else it must not be a production host at all."""
    problems: list[tuple[str, str]] = []
    owner = _region_of(host)
    if region in REGIONS and owner is not None and owner != region:
        problems.append(("endpoint_url", f"host {host} serves region {owner}, but region is {region}"))
    if environment == "prod":
        reason = _prod_endpoint_problem(region, host, owner, endpoint_url)
        if reason is not None:
            problems.append(("endpoint_url", reason))
    elif _is_amazon_production_host(host):
        problems.append(
            (
                "endpoint_url",
                f"host {host} is Amazon's production SP-API; environment {environment} may only "
                "use the local sandbox, another non-Amazon endpoint or Amazon's sandbox.* hosts",
            )
        )
    return problems


def _prod_endpoint_problem(region: str, host: str, owner: str | None, endpoint_url: str) -> str | None:
    """Why a prod endpoint is not Amazon's production SP-API over https: a proxy or a sandbox in
    front of prod would hide where a seller's writes really go."""
    expected = (
        _host(REGIONS[region].endpoint) if region in REGIONS else "sellingpartnerapi-<region>.amazon.com"
    )
    if not _is_amazon_production_host(host):
        kind = "Amazon's sandbox" if owner is not None else "not Amazon's SP-API"
        return (
            f"host {host} is {kind}; environment prod may only use Amazon's production "
            f"endpoint {expected} (leave endpoint_url empty)"
        )
    if owner is None:
        return f"host {host} is not an SP-API endpoint; environment prod uses {expected}"
    if urlsplit(endpoint_url).scheme != "https":
        return "environment prod must use https"
    return None


def _prod_sandbox_and_token_problems(token_url: str, use_sandbox: bool) -> list[tuple[str, str]]:
    """prod takes its tokens from Amazon's LWA over https, and never Amazon's sandbox host."""
    problems: list[tuple[str, str]] = []
    if use_sandbox:
        problems.append(("use_sandbox", "is true; environment prod may not use Amazon's sandbox"))
    token_host = _host(token_url)
    if token_host != LWA_HOST or urlsplit(token_url).scheme != "https":
        problems.append(
            (
                "token_url",
                f"host {token_host or '(none)'} is not Amazon's LWA; environment prod may only "
                f"use {LWA_TOKEN_URL} (leave token_url empty)",
            )
        )
    return problems


class SpApiConfig(BaseModel):
    """Credentials and behaviour of one client.

    :param client_id: LWA client id of the app.
    :param client_secret: LWA client secret of the app.
    :param refresh_token: the seller's LWA refresh token; ``None`` for a grantless-only client.
    :param region: ``na``, ``eu`` or ``fe``; picks the endpoint and the SigV4 AWS region.
    :param seller_id: the merchant token; used in paths and to key the shared limiter.
    :param marketplace_ids: default marketplaces for operations that need them.
    :param endpoint_url: overrides the regional endpoint (the local sandbox, a proxy).
    :param token_url: overrides the LWA token endpoint (the local sandbox).
    :param use_sandbox: use Amazon's static sandbox host instead of production.
    :param environment: ``sandbox``, ``dev``, ``stage`` or ``prod``. When given, the endpoints must
        fit it (see :func:`endpoint_problems`); a pipeline refuses a connection of another
        environment. ``None`` (plain Python use) checks nothing; the Airflow hook requires it.
    :param sigv4_enabled: sign requests with AWS SigV4. Amazon stopped requiring it on 2023-10-02.
    :param rate_limit_url: the shared limiter backend: ``memory://``, ``file:///dir``, ``redis://...``.
    :param token_cache_url: where access tokens are shared across processes: ``memory://`` or
        ``redis://...`` (tokens are stored encrypted there).
    :param rate_scale: multiplies Amazon's documented rates; only for the sandbox's fast mode.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    refresh_token: SecretStr | None = None
    region: RegionCode = "na"
    seller_id: str | None = None
    marketplace_ids: tuple[str, ...] = ()
    endpoint_url: str | None = None
    token_url: str = LWA_TOKEN_URL
    use_sandbox: bool = False
    environment: Environment | None = None

    sigv4_enabled: bool = False
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None
    role_arn: str | None = None
    role_external_id: str | None = None

    rate_limit_url: str = "memory://"
    token_cache_url: str = "memory://"
    rate_scale: PositiveFloat = 1.0

    connect_timeout: PositiveFloat = 10.0
    read_timeout: PositiveFloat = 60.0
    max_attempts: int = Field(default=6, ge=1, le=20)
    max_retry_seconds: PositiveFloat = 300.0
    backoff_base: PositiveFloat = 1.0
    backoff_cap: PositiveFloat = 60.0
    max_limiter_wait: PositiveFloat = 600.0
    token_refresh_skew: float = Field(default=60.0, ge=0)
    app_name: str = "spapi-listings"

    @field_validator("region", mode="before")
    @classmethod
    def _lower_region(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("marketplace_ids", mode="before")
    @classmethod
    def _split_marketplaces(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    @field_validator("marketplace_ids", mode="after")
    @classmethod
    def _marketplaces_of_region(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        # A field check (region is validated first) so that the error points at marketplace_ids.
        region = info.data.get("region")
        if region is not None:
            check_marketplaces(value, region)
        return value

    @model_validator(mode="after")
    def _check_keys(self) -> SpApiConfig:
        if bool(self.aws_access_key_id) != bool(self.aws_secret_access_key):
            raise ValueError("aws_access_key_id and aws_secret_access_key must be given together")
        return self

    @model_validator(mode="after")
    def _check_environment(self) -> SpApiConfig:
        if self.environment is None:
            return self
        problems = endpoint_problems(
            self.environment,
            region=self.region,
            endpoint_url=self.endpoint_url,
            token_url=self.token_url,
            use_sandbox=self.use_sandbox,
        )
        if problems:
            raise ValueError("; ".join(f"{field}: {reason}" for field, reason in problems))
        return self

    @property
    def base_url(self) -> str:
        if self.endpoint_url:
            return self.endpoint_url.rstrip("/")
        region = get_region(self.region)
        return region.sandbox_endpoint if self.use_sandbox else region.endpoint

    @property
    def account_key(self) -> str:
        """Who the limiter's buckets belong to: the seller id, else a hash of the app and grant.

        Amazon counts limits per selling partner and application, so two connections for the same
        seller share buckets and two sellers never do.
        """
        if self.seller_id:
            return self.seller_id
        grant = self.refresh_token.get_secret_value() if self.refresh_token else "grantless"
        return "acct-" + hashlib.sha256(f"{self.client_id}\0{grant}".encode()).hexdigest()[:16]
