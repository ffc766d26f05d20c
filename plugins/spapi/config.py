"""Everything needed to talk to SP-API for one selling partner, as one frozen, validated model.

The Airflow hook builds it from a connection; plain Python users build it directly. Secrets are
``SecretStr`` so that ``repr()``, logging and ``model_dump()`` show ``**********``; only the auth
code calls ``get_secret_value()``.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from spapi.regions import LWA_TOKEN_URL, RegionCode, check_marketplaces, get_region

PositiveFloat = Annotated[float, Field(gt=0)]


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

    @model_validator(mode="after")
    def _check_region_and_keys(self) -> SpApiConfig:
        check_marketplaces(self.marketplace_ids, self.region)
        if bool(self.aws_access_key_id) != bool(self.aws_secret_access_key):
            raise ValueError("aws_access_key_id and aws_secret_access_key must be given together")
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
