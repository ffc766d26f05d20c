"""Optional AWS Signature Version 4 for SP-API requests, signed with botocore.

Why this is optional: since 2023-10-02 SP-API no longer requires IAM or SigV4, and Amazon ignores a
signature when one is present (docs/spapi-facts.md §4). Some sellers' setups still sign (an IAM
user or role registered with the application long ago, or a policy that says so), so the client can
opt in per connection; it is off by default. Because Amazon does not check, a wrong signature would
never show up in production: ``tests/unit/spapi/test_signing.py`` checks this module against an
independent implementation of the AWS specification instead.

The signer mutates an ``httpx.Request`` in place. It signs only ``host``, ``x-amz-access-token`` and
``content-type`` (plus the ``x-amz-date`` and ``x-amz-security-token`` headers that signing adds),
which is what Amazon's own SDK signs; ``user-agent`` is left out because proxies and HTTP stacks
rewrite it. The body must already be read: the ``httpx.Auth`` that calls :meth:`SigV4Signer.sign`
sets ``requires_request_body = True``.

Credentials come from the connection (explicit keys), else from botocore's default chain
(environment, shared profile, container or instance role). With a ``role_arn`` they are exchanged
through STS ``AssumeRole`` and refreshed before they expire, so a worker that runs for days keeps
signing with valid keys. Keys, secrets and session tokens never appear in a ``repr``, a log line
written here, or an exception message.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import botocore.auth
import botocore.session
import httpx
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, DeferredRefreshableCredentials, ReadOnlyCredentials
from botocore.exceptions import ClientError, HTTPClientError

from spapi.errors import ServerError, SpApiError, TransportError, UnauthorizedError
from spapi.regions import REGIONS, get_region

__all__ = [
    "NO_CREDENTIALS_MESSAGE",
    "SERVICE",
    "AwsCredentialsConfig",
    "SigV4Signer",
    "aws_region_for",
]

SERVICE = "execute-api"

NO_CREDENTIALS_MESSAGE = (
    "SigV4 is enabled but no AWS credentials were found "
    "(set aws_access_key_id/aws_secret_access_key or role_arn on the connection)"
)

# Request headers that take part in the signature when present. Host is always present.
_SIGNED_REQUEST_HEADERS = ("host", "x-amz-access-token", "content-type")

# Refresh assumed-role credentials this long before they expire. Between the advisory and the
# mandatory mark one thread tries to refresh while the others keep signing with the old keys (and a
# failed attempt is only logged); inside the mandatory mark every caller waits for new keys.
ROLE_ADVISORY_REFRESH_SECONDS = 10 * 60
ROLE_MANDATORY_REFRESH_SECONDS = 5 * 60

# botocore sessions are not documented as thread-safe; creating clients and resolving the default
# credential chain are rare (once per signer, once per role refresh), so one lock is enough.
_SESSION_LOCK = threading.Lock()


def aws_region_for(region_code: str) -> str:
    """The AWS region to sign for, given an SP-API region code (``na`` -> ``us-east-1``, ...)."""
    return get_region(region_code).aws_region


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, repr=False)
class AwsCredentialsConfig:
    """The AWS part of an ``spapi`` connection.

    Plain fields rather than pydantic ``SecretStr`` so this module stays dependency-light; the
    ``repr`` says only whether each secret is set, because connection objects end up in task logs.
    Leave the keys empty to use botocore's default credential chain. ``role_arn`` is assumed with
    whichever base credentials were found; ``sts_endpoint_url`` points STS at a private endpoint or
    a test double.
    """

    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    role_arn: str | None = None
    role_session_name: str = "spapi-listings"
    external_id: str | None = field(default=None, repr=False)
    sts_endpoint_url: str | None = None

    @property
    def has_keys(self) -> bool:
        return bool(self.access_key_id and self.secret_access_key)

    def __repr__(self) -> str:
        def flag(value: str | None) -> str:
            return "<set>" if value else "None"

        return (
            f"{type(self).__name__}(access_key_id={flag(self.access_key_id)}, "
            f"secret_access_key={flag(self.secret_access_key)}, "
            f"session_token={flag(self.session_token)}, role_arn={self.role_arn!r}, "
            f"role_session_name={self.role_session_name!r}, external_id={flag(self.external_id)}, "
            f"sts_endpoint_url={self.sts_endpoint_url!r})"
        )


class _AssumedRoleCredentials(DeferredRefreshableCredentials):
    """botocore's lock-protected refreshing credentials, with our refresh windows.

    ``DeferredRefreshableCredentials`` fetches on first use and then refreshes under its own lock;
    its constructor does not take the windows, so they are set on the class.
    """

    _advisory_refresh_timeout = ROLE_ADVISORY_REFRESH_SECONDS
    _mandatory_refresh_timeout = ROLE_MANDATORY_REFRESH_SECONDS


class _QuietSigV4Auth(botocore.auth.SigV4Auth):
    """``SigV4Auth.add_auth`` without its debug logging.

    botocore logs the canonical request at DEBUG, and ours carries the LWA access token and the
    session token in its signed headers. The steps below are botocore's own, in its order.
    """

    def add_auth(self, request: AWSRequest) -> None:
        # Looked up on the module at call time, as botocore does, so tests can freeze the clock.
        now = botocore.auth.get_current_datetime()
        request.context["timestamp"] = now.strftime(botocore.auth.SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        canonical_request = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical_request)
        signature = self.signature(string_to_sign, request)
        self._inject_signature_to_request(request, signature)


class SigV4Signer:
    """Signs ``httpx.Request`` objects for one AWS region and service. Thread-safe.

    ``region`` is the AWS region (``us-east-1``); an SP-API region code (``na``, ``eu``, ``fe``) is
    accepted too and mapped with :func:`aws_region_for`. Credentials are resolved on the first
    :meth:`sign`, not here, so building a signer (at DAG parse time, say) does no I/O.

    ``on_secret`` is called with every secret the signer comes to hold (secret keys and session
    tokens, including each refreshed one). The Airflow side should pass ``mask_secret`` so those
    values are redacted should anything print them.
    """

    def __init__(
        self,
        region: str,
        credentials: AwsCredentialsConfig | None = None,
        *,
        service: str = SERVICE,
        session: botocore.session.Session | None = None,
        on_secret: Callable[[str], object] | None = None,
    ) -> None:
        self.region = aws_region_for(region) if region.lower() in REGIONS else region
        self.service = service
        self._config = credentials if credentials is not None else AwsCredentialsConfig()
        self._session = session
        self._on_secret = on_secret
        self._lock = threading.Lock()
        self._credentials: Credentials | None = None
        self._last_frozen: ReadOnlyCredentials | None = None
        cfg = self._config
        if bool(cfg.access_key_id) != bool(cfg.secret_access_key):
            raise UnauthorizedError(
                "SigV4 needs both aws_access_key_id and aws_secret_access_key on the connection, "
                "or neither (to use the default AWS credential chain or role_arn)"
            )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(region={self.region!r}, service={self.service!r}, "
            f"role_arn={self._config.role_arn!r}, keys_set={self._config.has_keys})"
        )

    @property
    def role_arn(self) -> str | None:
        return self._config.role_arn

    def sign(self, request: httpx.Request) -> None:
        """Add ``Authorization``, ``X-Amz-Date`` and, for temporary keys, ``X-Amz-Security-Token``.

        Call it last, after every header that is signed (``x-amz-access-token``, ``content-type``)
        has its final value; calling it again (on a retry) replaces the previous signature.

        The first call, and a role refresh about once an hour, may block on botocore's credential
        chain or on STS; an event loop should call it in a worker thread.
        """
        try:
            body = request.content
        except httpx.RequestNotRead:
            raise RuntimeError(
                "SigV4 signing needs the request body: set requires_request_body = True on the "
                "httpx.Auth that calls SigV4Signer.sign"
            ) from None
        credentials = self._frozen_credentials()
        aws_request = _to_aws_request(request, body)
        _QuietSigV4Auth(credentials, self.service, self.region).add_auth(aws_request)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-SHA256"):
            value = aws_request.headers.get(name)
            if value is not None:
                request.headers[name] = value
            elif name == "X-Amz-Security-Token":
                # A retry signed with long-term keys must not carry an earlier session token.
                request.headers.pop(name, None)

    def prefetch(self) -> None:
        """Resolve (or refresh) the credentials now, so that the next :meth:`sign` does no I/O."""
        self._frozen_credentials()

    # -- credentials -------------------------------------------------------------------------

    def _frozen_credentials(self) -> ReadOnlyCredentials:
        """One consistent (key, secret, token) triple, refreshed first if it is about to expire."""
        try:
            credentials = self._credentials
            if credentials is None:
                with self._lock:
                    if self._credentials is None:
                        self._credentials = self._resolve()
                    credentials = self._credentials
            frozen = credentials.get_frozen_credentials()
        except SpApiError:
            raise
        except Exception as exc:
            raise self._credentials_error(exc) from exc
        if frozen is None or not frozen.access_key or not frozen.secret_key:
            raise UnauthorizedError(NO_CREDENTIALS_MESSAGE)
        if frozen != self._last_frozen:
            with self._lock:
                if frozen != self._last_frozen:
                    self._notify(frozen.secret_key, frozen.token)
                    self._last_frozen = frozen
        return frozen

    def _resolve(self) -> Credentials:
        base = self._base_credentials()
        if base is None:
            raise UnauthorizedError(NO_CREDENTIALS_MESSAGE)
        if not self._config.role_arn:
            return base
        return _AssumedRoleCredentials(
            refresh_using=lambda: self._assume_role(base),
            method="assume-role",
            # Looked up at call time so tests can move the clock.
            time_fetcher=lambda: _utcnow(),
        )

    def _base_credentials(self) -> Credentials | None:
        cfg = self._config
        if cfg.access_key_id and cfg.secret_access_key:
            return Credentials(
                cfg.access_key_id, cfg.secret_access_key, cfg.session_token or None, method="explicit"
            )
        with _SESSION_LOCK:
            found: Credentials | None = self._botocore_session().get_credentials()
        return found

    def _assume_role(self, base: Credentials) -> dict[str, Any]:
        """Fetch temporary keys for ``role_arn``; called by botocore under its refresh lock."""
        cfg = self._config
        source = base.get_frozen_credentials()
        with _SESSION_LOCK:
            sts = self._botocore_session().create_client(
                "sts",
                region_name=self.region,
                endpoint_url=cfg.sts_endpoint_url,
                aws_access_key_id=source.access_key,
                aws_secret_access_key=source.secret_key,
                aws_session_token=source.token,
            )
        kwargs: dict[str, str] = {"RoleArn": cfg.role_arn or "", "RoleSessionName": cfg.role_session_name}
        if cfg.external_id:
            kwargs["ExternalId"] = cfg.external_id
        try:
            issued = sts.assume_role(**kwargs)["Credentials"]
        finally:
            sts.close()
        expiration = issued["Expiration"]
        return {
            "access_key": issued["AccessKeyId"],
            "secret_key": issued["SecretAccessKey"],
            "token": issued["SessionToken"],
            "expiry_time": expiration.isoformat() if isinstance(expiration, dt.datetime) else expiration,
        }

    def _botocore_session(self) -> botocore.session.Session:
        # Caller holds _SESSION_LOCK. Created lazily: a new session reads env and config files.
        if self._session is None:
            self._session = botocore.session.get_session()
        return self._session

    def _credentials_error(self, exc: Exception) -> SpApiError:
        """Map a botocore failure to our tree. Only codes and the role ARN go into the message."""
        role = self._config.role_arn
        what = f"could not assume role {role} for SigV4 signing" if role else "could not load AWS credentials"
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or "") or None
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if (isinstance(status, int) and status >= 500) or code in {"Throttling", "RequestLimitExceeded"}:
                return ServerError(f"{what}: STS is unavailable", code=code, status=status)
            return UnauthorizedError(what, code=code, status=status)
        if isinstance(exc, HTTPClientError):
            return TransportError(f"{what}: {type(exc).__name__}")
        # NoCredentialsError, a bad profile, "refreshed credentials are still expired", ...
        return UnauthorizedError(f"{what}: {type(exc).__name__}")

    def _notify(self, *secrets: str | None) -> None:
        if self._on_secret is None:
            return
        for secret in secrets:
            if secret:
                self._on_secret(secret)


def _to_aws_request(request: httpx.Request, body: bytes) -> AWSRequest:
    """The botocore view of ``request``: same method, URL and body, only the headers we sign.

    The query goes in as decoded ``params`` as well as in the URL. botocore copies a URL's query
    into the canonical request verbatim, but httpx leaves characters such as ``,`` unescaped
    (``marketplaceIds=A,B``) while the SigV4 rules percent-encode everything except ``A-Za-z0-9-_.~``;
    from ``params`` botocore encodes each name and value itself. Pairs are decoded the way httpx
    encodes them (``+`` is a space, ``%2B`` a plus).
    """
    url = request.url
    params = parse_qsl(url.query.decode("ascii"), keep_blank_values=True)
    headers = {"host": request.headers.get("host") or url.netloc.decode("ascii")}
    for name in _SIGNED_REQUEST_HEADERS[1:]:
        value = request.headers.get(name)
        if value is not None:
            headers[name] = value
    return AWSRequest(method=request.method, url=str(url), data=body, headers=headers, params=params)
