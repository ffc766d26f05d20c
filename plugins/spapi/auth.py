"""Login with Amazon (LWA) access tokens, and the ``httpx.Auth`` flow that applies them.

Why it is built this way:

* An access token lives one hour and every worker process needs one. Minting one per process (or,
  worse, per call) multiplies LWA calls by the number of workers, so tokens are cached per
  (client id, grant) in the process and, when a shared cache is configured, in Redis, so that many
  processes share one token per seller per lifetime.
* Single flight: 50 threads or 50 coroutines asking at once cause one token request. Threads wait
  on a per-grant lock, coroutines on a per-grant ``asyncio.Lock``, processes on a Redis lock.
* Tokens are secrets. In Redis they are stored encrypted with a key derived from the app's client
  secret and the grant, so reading Redis alone does not yield a usable token; every token that
  enters the process is passed to ``on_token`` (the Airflow hook passes ``mask_secret``).
* A token Amazon rejects (401, or 403 saying the token is invalid or expired) is dropped, a new one
  is fetched once, and the request is re-sent once, like httpx's ``DigestAuth`` answers a 401 once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import orjson
from tenacity import (
    AsyncRetrying,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from spapi.errors import LwaError, TransportError, parse_error_list, scrub

if TYPE_CHECKING:
    from spapi.signing import SigV4Signer

log = logging.getLogger(__name__)

GRANTLESS_SCOPES = frozenset(
    {"sellingpartnerapi::notifications", "sellingpartnerapi::client_credential:rotation"}
)

TokenCallback = Callable[[str], None]


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    expires_at: float

    def fresh(self, skew: float, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) < self.expires_at - skew


class SharedTokenStore(Protocol):
    """A cache that many processes share. Values are opaque bytes (already encrypted)."""

    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes, ttl: float) -> None: ...
    def delete_if(self, key: str, value: bytes) -> None: ...
    def lock(self, key: str, timeout: float) -> Any: ...


class RedisTokenStore:
    """Shares tokens through Redis. Keys hold no secret (a hash); values are encrypted."""

    def __init__(self, url_or_client: Any, prefix: str = "spapi:lwa:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url_or_client) if isinstance(url_or_client, str) else url_or_client
        self._prefix = prefix

    def get(self, key: str) -> bytes | None:
        value = self._redis.get(self._prefix + key)
        if value is None:
            return None
        return value.encode() if isinstance(value, str) else bytes(value)

    def set(self, key: str, value: bytes, ttl: float) -> None:
        self._redis.set(self._prefix + key, value, px=max(1, int(ttl * 1000)))

    def delete_if(self, key: str, value: bytes) -> None:
        # Compare-and-delete: a worker that saw an old token must not delete a newer one.
        script = (
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
        )
        self._redis.eval(script, 1, self._prefix + key, value)

    def lock(self, key: str, timeout: float) -> Any:
        return self._redis.lock(
            self._prefix + "lock:" + key, timeout=timeout, blocking_timeout=timeout, thread_local=False
        )

    def __repr__(self) -> str:
        return f"RedisTokenStore(prefix={self._prefix!r})"


def token_store_from_url(url: str | None) -> SharedTokenStore | None:
    if not url or url.startswith("memory:"):
        return None
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisTokenStore(url)
    raise ValueError(
        f"unsupported token cache URL scheme in {url.split(':', 1)[0]!r}: use memory:// or redis://"
    )


# Process-wide: every client in this process for the same grant shares one token.
_PROCESS_TOKENS: dict[str, AccessToken] = {}
_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _thread_lock(key: str) -> threading.Lock:
    with _THREAD_LOCKS_GUARD:
        return _THREAD_LOCKS.setdefault(key, threading.Lock())


def _retryable_lwa(exc: BaseException) -> bool:
    return isinstance(exc, LwaError | TransportError) and exc.retryable


class LwaTokenProvider:
    """Mints and caches access tokens for one grant: a refresh token, or grantless scopes.

    :param client_id: LWA client id.
    :param client_secret: LWA client secret.
    :param refresh_token: the seller's refresh token; mutually exclusive with ``scope``.
    :param scope: grantless scope(s), space separated, for ``client_credentials``.
    :param token_url: LWA endpoint (overridable for the sandbox).
    :param store: optional shared store (Redis) so many processes share one token.
    :param on_token: called with every token value that enters this process (mask it in logs).
    :param refresh_skew: seconds before expiry at which a token counts as stale.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        refresh_token: str | None = None,
        scope: str | None = None,
        token_url: str,
        store: SharedTokenStore | None = None,
        on_token: TokenCallback | None = None,
        refresh_skew: float = 60.0,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        max_attempts: int = 4,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if bool(refresh_token) == bool(scope):
            raise ValueError("give exactly one of refresh_token (seller grant) or scope (grantless)")
        if scope:
            unknown = set(scope.split()) - GRANTLESS_SCOPES
            if unknown:
                raise ValueError(f"unknown grantless scope(s) {sorted(unknown)}")
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._scope = scope
        self._token_url = token_url
        self._store = store
        self._on_token = on_token
        self._skew = refresh_skew
        self._http = http_client
        self._ahttp = async_http_client
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._clock = clock
        grant = refresh_token or f"scope:{scope}"
        # the token endpoint is part of the key: a token one LWA issued (a sandbox's) means nothing
        # to another (production), and must never be offered to it
        digest = hashlib.sha256(f"{token_url}\0{client_id}\0{grant}".encode()).hexdigest()
        self.cache_key = digest[:32]
        self._fernet_key = base64.urlsafe_b64encode(
            hashlib.sha256(f"spapi-token-v1\0{client_secret}\0{grant}".encode()).digest()
        )
        self._async_locks: dict[int, asyncio.Lock] = {}
        self.requests_made = 0  # token requests this provider sent; tests assert single flight

    def __repr__(self) -> str:
        kind = "refresh_token" if self._refresh_token else f"scope={self._scope}"
        return f"LwaTokenProvider(client_id={self._client_id!r}, grant={kind}, url={self._token_url!r})"

    # ---- public API -------------------------------------------------------------------------

    def get_token(self) -> str:
        token = self._cached()
        if token is not None:
            return token.value
        with _thread_lock(self.cache_key):
            token = self._cached()
            if token is not None:
                return token.value
            if self._store is None:
                return self._mint_and_keep().value
            with self._store.lock(self.cache_key, timeout=self._timeout + 5):
                token = self._from_store()
                if token is None:
                    token = self._mint_and_keep()
                return token.value

    async def aget_token(self) -> str:
        token = self._cached()
        if token is not None:
            return token.value
        async with self._async_lock():
            token = self._cached()
            if token is not None:
                return token.value
            if self._store is None:
                return (await self._amint_and_keep()).value
            # The shared store is synchronous (one short Redis round trip); keep it off the loop.
            store_lock = self._store.lock(self.cache_key, timeout=self._timeout + 5)
            await asyncio.to_thread(store_lock.acquire)
            try:
                token = await asyncio.to_thread(self._from_store)
                if token is None:
                    token = await self._amint_and_keep()
                return token.value
            finally:
                await asyncio.to_thread(store_lock.release)

    def invalidate(self, rejected: str) -> None:
        """Drop ``rejected`` if it is still the cached token; a newer one is left alone."""
        current = _PROCESS_TOKENS.get(self.cache_key)
        if current is not None and current.value == rejected:
            _PROCESS_TOKENS.pop(self.cache_key, None)
        if self._store is not None:
            raw = self._store.get(self.cache_key)
            stored = self._decrypt(raw) if raw is not None else None
            if raw is not None and stored is not None and stored.value == rejected:
                self._store.delete_if(self.cache_key, raw)

    # ---- cache ---------------------------------------------------------------------------------

    def _cached(self) -> AccessToken | None:
        token = _PROCESS_TOKENS.get(self.cache_key)
        if token is not None and token.fresh(self._skew, self._clock()):
            return token
        return None

    def _from_store(self) -> AccessToken | None:
        assert self._store is not None
        raw = self._store.get(self.cache_key)
        token = self._decrypt(raw) if raw is not None else None
        if token is None or not token.fresh(self._skew, self._clock()):
            return None
        self._announce(token.value)
        _PROCESS_TOKENS[self.cache_key] = token
        return token

    def _keep(self, token: AccessToken) -> AccessToken:
        _PROCESS_TOKENS[self.cache_key] = token
        if self._store is not None:
            ttl = token.expires_at - self._clock()
            if ttl > 0:
                self._store.set(self.cache_key, self._encrypt(token), ttl)
        return token

    def _encrypt(self, token: AccessToken) -> bytes:
        from cryptography.fernet import Fernet

        payload = orjson.dumps({"v": token.value, "e": token.expires_at})
        return Fernet(self._fernet_key).encrypt(payload)

    def _decrypt(self, raw: bytes) -> AccessToken | None:
        from cryptography.fernet import Fernet, InvalidToken

        try:
            data = orjson.loads(Fernet(self._fernet_key).decrypt(raw))
            return AccessToken(value=str(data["v"]), expires_at=float(data["e"]))
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None

    def _announce(self, value: str) -> None:
        if self._on_token is not None:
            self._on_token(value)

    def _async_lock(self) -> asyncio.Lock:
        # asyncio.Lock binds to the running loop; keep one per loop.
        loop_id = id(asyncio.get_running_loop())
        lock = self._async_locks.get(loop_id)
        if lock is None:
            lock = self._async_locks[loop_id] = asyncio.Lock()
        return lock

    # ---- minting ------------------------------------------------------------------------------

    def _form(self) -> dict[str, str]:
        form = {"client_id": self._client_id, "client_secret": self._client_secret}
        if self._refresh_token:
            form.update(grant_type="refresh_token", refresh_token=self._refresh_token)
        else:
            form.update(grant_type="client_credentials", scope=str(self._scope))
        return form

    def _retrying(self) -> dict[str, Any]:
        return {
            "retry": retry_if_exception(_retryable_lwa),
            "stop": stop_after_attempt(self._max_attempts),
            "wait": wait_random_exponential(multiplier=0.5, max=8),
            "reraise": True,
        }

    def _mint_and_keep(self) -> AccessToken:
        for attempt in Retrying(**self._retrying()):
            with attempt:
                return self._keep(self._mint_once())
        raise AssertionError("unreachable")  # pragma: no cover

    async def _amint_and_keep(self) -> AccessToken:
        async for attempt in AsyncRetrying(**self._retrying()):
            with attempt:
                token = await self._amint_once()
                return await asyncio.to_thread(self._keep, token) if self._store else self._keep(token)
        raise AssertionError("unreachable")  # pragma: no cover

    def _mint_once(self) -> AccessToken:
        self.requests_made += 1
        started = self._clock()
        http = self._http or httpx.Client(timeout=self._timeout)
        try:
            response = http.post(self._token_url, data=self._form(), headers=_FORM_HEADERS)
        except httpx.HTTPError as exc:
            raise TransportError(
                f"LWA token request failed: {type(exc).__name__}", operation="lwaToken"
            ) from None
        finally:
            if self._http is None:
                http.close()
        return self._read(response, started)

    async def _amint_once(self) -> AccessToken:
        self.requests_made += 1
        started = self._clock()
        http = self._ahttp or httpx.AsyncClient(timeout=self._timeout)
        try:
            response = await http.post(self._token_url, data=self._form(), headers=_FORM_HEADERS)
        except httpx.HTTPError as exc:
            raise TransportError(
                f"LWA token request failed: {type(exc).__name__}", operation="lwaToken"
            ) from None
        finally:
            if self._ahttp is None:
                await http.aclose()
        return self._read(response, started)

    def _read(self, response: httpx.Response, started: float) -> AccessToken:
        try:
            data = orjson.loads(response.content) if response.content else {}
        except orjson.JSONDecodeError:
            data = {}
        if response.status_code != 200 or not isinstance(data, dict) or "access_token" not in data:
            error = str(data.get("error") or "") if isinstance(data, dict) else ""
            if not error:
                listed = parse_error_list(data)
                error = listed[0].code if listed else f"http_{response.status_code}"
            description = str(data.get("error_description") or "") if isinstance(data, dict) else ""
            raise LwaError(
                f"LWA refused the token request: {self._scrub(description) or error}",
                error=error,
                status=response.status_code,
                operation="lwaToken",
            )
        value = str(data["access_token"])
        self._announce(value)
        expires_in = float(data.get("expires_in") or 3600)
        log.info(
            "minted LWA access token (expires_in=%ss, grant=%s)",
            int(expires_in),
            "refresh_token" if self._refresh_token else "client_credentials",
        )
        return AccessToken(value=value, expires_at=started + expires_in)

    def _scrub(self, text: str) -> str:
        """LWA descriptions are Amazon's words, but never let one echo a secret of ours."""
        for secret in (self._client_secret, self._refresh_token):
            if secret:
                text = text.replace(secret, "***")
        return scrub(text)[:300]


_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}

_TOKEN_WORDS = ("expired", "invalid", "revoked", "malformed", "missing")


def token_rejected(response: httpx.Response) -> bool:
    """True when Amazon says the *access token* is bad, as opposed to a missing role (403)."""
    if response.status_code == 401:
        return True
    if response.status_code != 403:
        return False
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return False
    for err in parse_error_list(payload):
        text = f"{err.message} {err.details or ''}".lower()
        if "token" in text and any(word in text for word in _TOKEN_WORDS):
            return True
    return False


class SpApiAuth(httpx.Auth):
    """Adds ``x-amz-access-token`` (and, if enabled, a SigV4 signature) to SP-API requests.

    On a rejected token it drops the token, fetches a new one and re-sends once.
    """

    requires_request_body = True  # SigV4 hashes the body

    def __init__(self, tokens: LwaTokenProvider, signer: SigV4Signer | None = None) -> None:
        self.tokens = tokens
        self.signer = signer

    def prefetch(self) -> None:
        """Have the access token (and AWS credentials) ready, so that sending waits for neither.

        The client calls this before it books the call's rate-limit slot (see ``spapi.client``);
        the auth flow then finds both in the cache.
        """
        self.tokens.get_token()
        if self.signer is not None:
            self.signer.prefetch()

    async def aprefetch(self) -> None:
        """:meth:`prefetch` for coroutines; credentials may block on STS, so off the loop."""
        await self.tokens.aget_token()
        if self.signer is not None:
            await asyncio.to_thread(self.signer.prefetch)

    def _apply(self, request: httpx.Request, token: str) -> None:
        for header in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token", "x-amz-content-sha256"):
            request.headers.pop(header, None)
        request.headers["x-amz-access-token"] = token
        if self.signer is not None:
            self.signer.sign(request)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.tokens.get_token()
        self._apply(request, token)
        response = yield request
        if response.status_code in (401, 403):
            response.read()
            if token_rejected(response):
                log.info(
                    "access token rejected (HTTP %s, request_id=%s, %s); refreshing once",
                    response.status_code,
                    response.headers.get("x-amzn-RequestId"),
                    request.extensions.get("spapi_context", ""),
                )
                self.tokens.invalidate(token)
                self._apply(request, self.tokens.get_token())
                yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.tokens.aget_token()
        await self._aapply(request, token)
        response = yield request
        if response.status_code in (401, 403):
            await response.aread()
            if token_rejected(response):
                log.info(
                    "access token rejected (HTTP %s, request_id=%s, %s); refreshing once",
                    response.status_code,
                    response.headers.get("x-amzn-RequestId"),
                    request.extensions.get("spapi_context", ""),
                )
                self.tokens.invalidate(token)
                await self._aapply(request, await self.tokens.aget_token())
                yield request

    async def _aapply(self, request: httpx.Request, token: str) -> None:
        # SigV4 may look up credentials or call STS (botocore is blocking): keep it off the loop.
        if self.signer is None:
            self._apply(request, token)
        else:
            await asyncio.to_thread(self._apply, request, token)


def clear_process_cache() -> None:
    """Forget every token cached in this process (tests, and credential rotation)."""
    _PROCESS_TOKENS.clear()
