"""The SP-API HTTP client: one core, a sync and an async front.

A call goes through, in order: the LWA access token (and SigV4 credentials), the shared rate limiter
(all buckets of the operation), the auth flow, the HTTP request, the limiter's feedback
(``x-amzn-RateLimit-Limit``, 429s), the error mapping, and the retry policy. Each attempt logs one
structured line and is reported to ``on_call`` (the pipeline writes those records to ``api_calls``).

The token comes before the slot: the limiter counts a token as spent at the slot, Amazon when the
request arrives. A call that booked its slot and then spent a few hundred milliseconds at LWA (a
task's first call) would arrive late, after the slots booked behind it had been spaced as if it
had gone: Amazon's bucket, full meanwhile, has lost the refill ours counted, and the late call
collides with the next booked one. Fetched first, the token is a cache hit when the slot comes.

Retries: 429, 5xx, timeouts and connection errors are retried with full-jitter exponential backoff
(tenacity's ``wait_random_exponential``) that never waits less than Amazon's ``Retry-After``, bounded by
``max_attempts`` and ``max_retry_seconds``. Other 4xx are not retried. Calls that create things Amazon
acts on (createFeed) are not retried after a read timeout or a 500, because Amazon may have acted on
them; the caller's ledger decides (docs/architecture.md, "The bulk path", step 6). Creating calls in :data:`SAFE_TO_REPEAT`
(createFeedDocument, createReport) are retried like reads: a duplicate is an unused upload slot or an
unread report, not a submission.

Usage without Airflow::

    config = SpApiConfig(client_id=..., client_secret=..., refresh_token=..., region="na",
                         seller_id="A1SELLER")
    with SpApiClient(config) as client:
        item = client.call(listings.get_listings_item("A1SELLER", "SKU-1", ["ATVPDKIKX0DER"]))
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import logging
import platform
import random
import re
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import orjson
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from spapi import __version__
from spapi.auth import LwaTokenProvider, SpApiAuth, TokenCallback, token_store_from_url
from spapi.call import Call
from spapi.config import SpApiConfig
from spapi.errors import (
    SpApiError,
    ThrottledError,
    TransportError,
    error_for_status,
    parse_error_list,
)
from spapi.ratelimit import Booking, BucketKey, RateLimiter, limiter_from_url

T = TypeVar("T")

log = logging.getLogger("spapi.client")

_PRESIGNED_PARAM = re.compile(r"(?i)(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s\"']+")


def redact_url(url: object) -> str:
    """Presigned S3 URLs are bearer credentials for five minutes: drop their signing parameters."""
    return _PRESIGNED_PARAM.sub(r"\1[redacted]", str(url))


class _RedactPresignedUrls(logging.Filter):
    """httpx logs every request URL at INFO; presigned document URLs must not reach task logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact_url(a) if isinstance(a, httpx.URL | str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact_url(record.msg)
        return True


def _install_log_redaction() -> None:
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactPresignedUrls) for f in logger.filters):
            logger.addFilter(_RedactPresignedUrls())


_install_log_redaction()

_trace_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("spapi_trace_id", default=None)


@contextlib.contextmanager
def trace(trace_id: str) -> Iterator[None]:
    """Tag every call made inside the block with the caller's trace id (a DAG run, a task)."""
    token = _trace_id.set(trace_id)
    try:
        yield
    finally:
        _trace_id.reset(token)


@dataclass(frozen=True)
class CallRecord:
    """One HTTP attempt, as the pipeline stores it in ``api_calls``. Holds no secret."""

    operation: str
    method: str
    seller_id: str | None
    marketplace_id: str | None
    sku: str | None
    region: str
    status: int | None
    latency_ms: float
    request_id: str | None
    attempt: int
    throttled: bool
    error_code: str | None
    trace_id: str | None
    started_at: float
    limiter_wait_ms: float


CallObserver = Callable[[CallRecord], None]

# Given a page and the call that fetched it, the call for the next page (or None at the end).
NextPage = Callable[[T, Call[T]], "Call[T] | None"]


def user_agent(app_name: str) -> str:
    """Amazon asks for ``AppName/Version (Language=...; Platform=...)``, at most 500 characters."""
    py = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    return f"{app_name}/{__version__} (Language=Python/{py}; Platform={platform.system()})"[:500]


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


SAFE_TO_REPEAT = frozenset({"createFeedDocument", "createReport"})
"""Operations that are not idempotent but whose duplicate creates nothing Amazon acts on (an unused
upload slot; a second report of the seller's own data that nobody reads)."""


class wait_full_jitter_retry_after(wait_random_exponential):
    """Full jitter, but never sooner than the server's ``Retry-After``."""

    def __init__(self, multiplier: float, max: float, rng: random.Random | None = None) -> None:
        super().__init__(multiplier=multiplier, max=max)
        self._rng = rng or random.Random()

    def __call__(self, retry_state: RetryCallState) -> float:
        high = super(wait_random_exponential, self).__call__(retry_state=retry_state)
        delay = self._rng.uniform(0, high)
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            delay = max(delay, float(retry_after))
        return delay


class _RetryableCall(Exception):
    """Internal: wraps a retryable outcome so tenacity sees it; unwrapped before reaching callers."""

    def __init__(self, error: SpApiError) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = getattr(error, "retry_after", None)


class _ClientCore:
    """Everything but the I/O: request building, classification, logging, retry policy."""

    def __init__(
        self,
        config: SpApiConfig,
        *,
        limiter: RateLimiter | None = None,
        tokens: LwaTokenProvider | None = None,
        on_token: TokenCallback | None = None,
        on_call: CallObserver | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Any] | None = None,
    ) -> None:
        self.config = config
        self.limiter = limiter or limiter_from_url(config.rate_limit_url, scale=config.rate_scale)
        self.on_call = on_call
        self._rng = rng
        self._sleep = sleep
        self.user_agent = user_agent(config.app_name)
        self.tokens = tokens
        self._on_token = on_token
        signer = None
        if config.sigv4_enabled:
            from spapi.signing import AwsCredentialsConfig, SigV4Signer, aws_region_for

            signer = SigV4Signer(
                aws_region_for(config.region),
                AwsCredentialsConfig(
                    access_key_id=config.aws_access_key_id,
                    secret_access_key=(
                        config.aws_secret_access_key.get_secret_value()
                        if config.aws_secret_access_key
                        else None
                    ),
                    session_token=(
                        config.aws_session_token.get_secret_value() if config.aws_session_token else None
                    ),
                    role_arn=config.role_arn,
                    external_id=config.role_external_id,
                ),
                on_secret=on_token,
            )
        self._signer = signer
        self._auth: SpApiAuth | None = None
        self._grantless: dict[str, SpApiAuth] = {}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(region={self.config.region!r}, seller_id={self.config.seller_id!r}, "
            f"base_url={self.config.base_url!r}, sigv4={self.config.sigv4_enabled})"
        )

    # ---- pieces shared by both fronts --------------------------------------------------------

    def _make_tokens(
        self,
        http: httpx.Client | None,
        ahttp: httpx.AsyncClient | None,
        scope: str | None = None,
    ) -> LwaTokenProvider:
        """The seller's refresh-token provider, or a grantless one for ``scope``."""
        cfg = self.config
        return LwaTokenProvider(
            cfg.client_id,
            cfg.client_secret.get_secret_value(),
            refresh_token=None
            if scope
            else cfg.refresh_token.get_secret_value()
            if cfg.refresh_token
            else None,
            scope=scope,
            token_url=cfg.token_url,
            store=token_store_from_url(cfg.token_cache_url),
            on_token=self._on_token,
            refresh_skew=cfg.token_refresh_skew,
            http_client=http,
            async_http_client=ahttp,
            timeout=cfg.read_timeout,
        )

    def _auth_for(self, call: Call[Any]) -> SpApiAuth | None:
        """Seller calls use the refresh-token grant; grantless calls a per-scope client_credentials one."""
        if not call.sp_api:
            return None
        if call.grantless_scope is None:
            if self._auth is None:
                raise ValueError(
                    f"{call.operation} needs the seller's refresh token, and this client's config has none"
                )
            return self._auth
        auth = self._grantless.get(call.grantless_scope)
        if auth is None:
            tokens = self._make_tokens(*self._token_http(), scope=call.grantless_scope)
            auth = self._grantless[call.grantless_scope] = SpApiAuth(tokens, self._signer)
        return auth

    def _token_http(self) -> tuple[httpx.Client | None, httpx.AsyncClient | None]:
        raise NotImplementedError

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.config.read_timeout, connect=self.config.connect_timeout)

    def _bucket_keys(self, call: Call[Any]) -> list[BucketKey]:
        if not call.sp_api:
            return []
        seller = call.seller_id or self.config.account_key
        return self.limiter.keys_for(seller, self.config.region, call.operation, call.feed_type)

    def _url(self, call: Call[Any]) -> str:
        if not call.sp_api:
            return call.path
        return self.config.base_url + call.path

    def _request_kwargs(self, call: Call[Any]) -> dict[str, Any]:
        headers = {"user-agent": self.user_agent, "accept": "application/json", **call.headers}
        kwargs: dict[str, Any] = {
            "headers": headers,
            "params": call.query() or None,
            # read by the auth flow so its own log lines name the call
            "extensions": {"spapi_context": self._log_context(call)},
        }
        if call.json is not None:
            kwargs["content"] = orjson.dumps(call.json)
            headers.setdefault("content-type", "application/json")
        elif call.content is not None:
            kwargs["content"] = call.content
        return kwargs

    def _log_context(self, call: Call[Any]) -> str:
        return (
            f"operation={call.operation} seller={call.seller_id or self.config.seller_id} "
            f"marketplace={call.marketplace_id} sku={call.sku} trace_id={_trace_id.get()}"
        )

    def _retrying_kwargs(self) -> dict[str, Any]:
        cfg = self.config
        kwargs: dict[str, Any] = {
            "retry": retry_if_exception(lambda e: isinstance(e, _RetryableCall)),
            "stop": stop_after_attempt(cfg.max_attempts) | stop_after_delay(cfg.max_retry_seconds),
            "wait": wait_full_jitter_retry_after(cfg.backoff_base, cfg.backoff_cap, self._rng),
            "reraise": True,
        }
        if self._sleep is not None:
            kwargs["sleep"] = self._sleep
        return kwargs

    def _retryable(self, call: Call[Any], error: SpApiError, *, sent: bool) -> bool:
        """Whether another attempt is safe and useful."""
        if isinstance(error, ThrottledError):
            return True  # Amazon did not act on a throttled request
        if call.idempotent or call.operation in SAFE_TO_REPEAT:
            return error.retryable
        # Creating calls: only retry what Amazon certainly did not act on.
        if isinstance(error, TransportError):
            return not sent
        return error.status == 503

    def _classify(self, call: Call[T], response: httpx.Response) -> T:
        """Turn a response into the typed result, or raise the mapped error (never with the body)."""
        if response.status_code in call.success:
            return call.parse(response)
        errors = []
        if response.content:
            with contextlib.suppress(orjson.JSONDecodeError):
                errors = parse_error_list(orjson.loads(response.content))
        first = errors[0] if errors else None
        cls = error_for_status(response.status_code)
        message = first.message if first else (response.reason_phrase or "unexpected response")
        kwargs: dict[str, Any] = {
            "operation": call.operation,
            "status": response.status_code,
            "code": first.code if first else None,
            "request_id": response.headers.get("x-amzn-RequestId"),
            "seller_id": call.seller_id,
            "sku": call.sku,
            "errors": errors,
        }
        if cls is ThrottledError:
            kwargs["retry_after"] = parse_retry_after(response.headers.get("Retry-After"))
        raise cls(message, **kwargs)

    def _after_response(
        self, keys: list[BucketKey], booking: Booking | None, response: httpx.Response
    ) -> None:
        if not keys:
            return
        if response.status_code == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            # A 429 names no bucket: only a call of one bucket may teach that bucket its burst.
            lesson = booking.slots if booking is not None and len(keys) == 1 else {}
            for key in keys:
                self.limiter.on_throttled(key, retry_after, lesson.get(key))
        else:
            # The header covers the operation's own (account-application) limit only.
            self.limiter.observe_rate_header(keys[0], response.headers.get("x-amzn-RateLimit-Limit"))

    def _record(
        self,
        call: Call[Any],
        attempt: int,
        started: float,
        limiter_wait: float,
        response: httpx.Response | None,
        error: SpApiError | None,
    ) -> None:
        status = response.status_code if response is not None else None
        record = CallRecord(
            operation=call.operation,
            method=call.method,
            seller_id=call.seller_id or self.config.seller_id,
            marketplace_id=call.marketplace_id,
            sku=call.sku,
            region=self.config.region,
            status=status,
            latency_ms=round((time.monotonic() - started) * 1000, 2),
            request_id=response.headers.get("x-amzn-RequestId") if response is not None else None,
            attempt=attempt,
            throttled=status == 429,
            error_code=error.code if error is not None else None,
            trace_id=_trace_id.get(),
            started_at=time.time(),
            limiter_wait_ms=round(limiter_wait * 1000, 2),
        )
        fields = {f"spapi_{k}": v for k, v in record.__dict__.items()}
        level = logging.INFO if error is None else logging.WARNING
        log.log(
            level,
            "spapi call operation=%s status=%s latency_ms=%s seller=%s marketplace=%s sku=%s "
            "request_id=%s trace_id=%s attempt=%s%s",
            record.operation,
            record.status,
            record.latency_ms,
            record.seller_id,
            record.marketplace_id,
            record.sku,
            record.request_id,
            record.trace_id,
            record.attempt,
            f" error={type(error).__name__}:{error.code}" if error is not None else "",
            extra=fields,
        )
        if self.on_call is not None:
            try:
                self.on_call(record)
            except Exception:  # an observer must never break a call
                log.exception("on_call observer failed for %s", call.operation)

    def _failed(
        self,
        call: Call[Any],
        exc: httpx.HTTPError | SpApiError,
        attempt: int,
        started: float,
        limiter_wait: float,
        response: httpx.Response | None,
    ) -> Exception:
        """Record a failed attempt; return what to raise: a retry signal or the final error."""
        if isinstance(exc, httpx.HTTPError):
            error: SpApiError = self._transport_error(call, exc)
            # A connect error means the request never reached Amazon.
            sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
        else:
            error, sent = exc, True
        self._record(call, attempt, started, limiter_wait, response, error)
        if self._retryable(call, error, sent=sent):
            return _RetryableCall(error)
        return error

    def _finish(
        self,
        call: Call[T],
        keys: list[BucketKey],
        booking: Booking | None,
        response: httpx.Response,
        attempt: int,
        started: float,
    ) -> T:
        """The answer is in: feed the limiter, turn it into the result or an error, record the attempt."""
        limiter_wait = booking.waited if booking is not None else 0.0
        self._after_response(keys, booking, response)
        try:
            result = self._classify(call, response)
        except SpApiError as exc:
            raise self._failed(call, exc, attempt, started, limiter_wait, response) from None
        self._record(call, attempt, started, limiter_wait, response, None)
        return result

    def _transport_error(self, call: Call[Any], exc: httpx.HTTPError) -> TransportError:
        # The message names the exception type only: httpx messages can contain URLs with presigned
        # credentials in their query strings.
        return TransportError(
            f"{type(exc).__name__} talking to SP-API",
            operation=call.operation,
            seller_id=call.seller_id,
            sku=call.sku,
        )


class SpApiClient(_ClientCore):
    """Synchronous client. Thread-safe; share one per seller and process.

    :param config: the seller's :class:`SpApiConfig`.
    :param transport: an httpx transport (``httpx.MockTransport`` in tests, ``ASGITransport``...).
    :param http_client: or a whole ``httpx.Client`` to use.
    :param limiter: a :class:`RateLimiter`; by default built from ``config.rate_limit_url``.
    :param on_token: called with each access token entering the process (Airflow: ``mask_secret``).
    :param on_call: called with a :class:`CallRecord` per HTTP attempt.
    """

    def __init__(
        self,
        config: SpApiConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, **kwargs)
        self._owns_http = http_client is None
        self.http = http_client or httpx.Client(transport=transport, timeout=self._timeout())
        if self.tokens is None and config.refresh_token is not None:
            self.tokens = self._make_tokens(self.http, None)
        self._auth = SpApiAuth(self.tokens, self._signer) if self.tokens is not None else None

    def _token_http(self) -> tuple[httpx.Client | None, httpx.AsyncClient | None]:
        return self.http, None

    def __enter__(self) -> SpApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def call(self, call: Call[T]) -> T:
        """Execute ``call`` with limiting, auth and retries; return its parsed result."""
        attempt_no = 0

        def attempt() -> T:
            nonlocal attempt_no
            attempt_no += 1
            keys = self._bucket_keys(call)
            auth = self._auth_for(call)
            if auth is not None:
                auth.prefetch()  # before the slot: see the module docstring
            booking = self.limiter.book(keys, max_wait=self.config.max_limiter_wait) if keys else None
            waited = booking.waited if booking is not None else 0.0
            started = time.monotonic()
            request = self.http.build_request(call.method, self._url(call), **self._request_kwargs(call))
            try:
                response = self.http.send(request, auth=auth) if auth else self.http.send(request)
            except httpx.HTTPError as exc:
                raise self._failed(call, exc, attempt_no, started, waited, None) from None
            return self._finish(call, keys, booking, response, attempt_no, started)

        try:
            for retry in Retrying(**self._retrying_kwargs()):
                with retry:
                    return attempt()
        except _RetryableCall as wrapped:
            raise wrapped.error from None
        raise AssertionError("unreachable")  # pragma: no cover

    def paginate(self, first: Call[T], next_page: NextPage[T]) -> Iterator[T]:
        """Yield every page: ``client.paginate(feeds.get_feeds(feed_types=[...]), feeds.next_page)``."""
        call: Call[T] | None = first
        while call is not None:
            page = self.call(call)
            yield page
            call = next_page(page, call)


class AsyncSpApiClient(_ClientCore):
    """The asyncio twin of :class:`SpApiClient` (used by deferrable triggers)."""

    def __init__(
        self,
        config: SpApiConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, **kwargs)
        self._owns_http = http_client is None
        self.http = http_client or httpx.AsyncClient(transport=transport, timeout=self._timeout())
        if self.tokens is None and config.refresh_token is not None:
            self.tokens = self._make_tokens(None, self.http)
        self._auth = SpApiAuth(self.tokens, self._signer) if self.tokens is not None else None

    def _token_http(self) -> tuple[httpx.Client | None, httpx.AsyncClient | None]:
        return None, self.http

    async def __aenter__(self) -> AsyncSpApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    async def call(self, call: Call[T]) -> T:
        attempt_no = 0

        async def attempt() -> T:
            nonlocal attempt_no
            attempt_no += 1
            keys = self._bucket_keys(call)
            auth = self._auth_for(call)
            if auth is not None:
                await auth.aprefetch()  # before the slot: see the module docstring
            booking = (
                await self.limiter.book_async(keys, max_wait=self.config.max_limiter_wait) if keys else None
            )
            waited = booking.waited if booking is not None else 0.0
            started = time.monotonic()
            request = self.http.build_request(call.method, self._url(call), **self._request_kwargs(call))
            try:
                response = await (self.http.send(request, auth=auth) if auth else self.http.send(request))
            except httpx.HTTPError as exc:
                raise self._failed(call, exc, attempt_no, started, waited, None) from None
            return self._finish(call, keys, booking, response, attempt_no, started)

        kwargs = self._retrying_kwargs()
        if self._sleep is not None:
            sleep = self._sleep

            async def asleep(seconds: float) -> None:
                sleep(seconds)

            kwargs["sleep"] = asleep
        try:
            async for retry in AsyncRetrying(**kwargs):
                with retry:
                    return await attempt()
        except _RetryableCall as wrapped:
            raise wrapped.error from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def paginate(self, first: Call[T], next_page: NextPage[T]) -> AsyncIterator[T]:
        call: Call[T] | None = first
        while call is not None:
            page = await self.call(call)
            yield page
            call = next_page(page, call)
