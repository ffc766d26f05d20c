"""SubmitFeedOperator: submit, defer, complete; never submit twice when the ledger knows the feed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.usefixtures("spapi_test_connection")]

from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule  # noqa: E402
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred  # noqa: E402

from spapi.errors import (  # noqa: E402
    FeedFatalError,
    ForbiddenError,
    InvalidRequestError,
    ServerError,
    SpApiError,
    ThrottledError,
    TransportError,
)
from spapi.operators import (  # noqa: E402
    FeedCreation,
    FeedWaitTimeoutError,
    SubmitFeedOperator,
    create_feed_may_have_acted,
    is_last_try,
)
from spapi.ratelimit import MemoryBackend, RateLimiter  # noqa: E402
from spapi.triggers import FeedProcessingTrigger  # noqa: E402
from tests.unit.spapi.fakes import (  # noqa: E402
    FakeSpApi,
)

DOC = b'{"header":{"sellerId":"A1SELLER","version":"2.0"},"messages":[]}'
STARTED, ENDED = "2026-11-23T10:00:05Z", "2026-11-23T10:41:10.500Z"


class FakeFeeds(FakeSpApi):
    """Answers the feed flow: document, upload, createFeed, then getFeed with scripted statuses."""

    def __init__(self, statuses: list[str]) -> None:
        super().__init__()
        self.statuses = statuses
        self.uploads: list[tuple[str, bytes]] = []
        self.created: list[dict[str, Any]] = []
        self.default = self.route

    def route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST" and path == "/feeds/2021-06-30/documents":
            return httpx.Response(
                201, json={"feedDocumentId": "doc-1", "url": "https://s3.test/up?X-Amz-Signature=s"}
            )
        if request.method == "PUT" and request.url.host == "s3.test":
            self.uploads.append((request.headers["content-type"], request.read()))
            return httpx.Response(200)
        if request.method == "POST" and path == "/feeds/2021-06-30/feeds":
            self.created.append(json.loads(request.read()))
            return httpx.Response(202, json={"feedId": "F1"})
        if request.method == "GET" and path.startswith("/feeds/2021-06-30/feeds/"):
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            body = {
                "feedId": path.rsplit("/", 1)[1],
                "feedType": "JSON_LISTINGS_FEED",
                "createdTime": "2026-11-23T10:00:00Z",
                "processingStatus": status,
            }
            if status in ("IN_PROGRESS", "DONE", "FATAL"):
                body["processingStartTime"] = STARTED
            if status in ("DONE", "FATAL"):
                body["processingEndTime"] = ENDED
                body["resultFeedDocumentId"] = "result-1"
            return httpx.Response(200, json=body)
        return httpx.Response(404, json={"errors": [{"code": "NotFound", "message": path}]})


def make_operator(
    tmp_path: Path, api: FakeSpApi, cls: type[SubmitFeedOperator] = SubmitFeedOperator, **kw: Any
) -> SubmitFeedOperator:
    doc = tmp_path / "feed-1.json"
    doc.write_bytes(DOC)
    op = cls(
        task_id="submit",
        document_path=str(doc),
        marketplace_ids=["ATVPDKIKX0DER"],
        spapi_conn_id="spapi_test",
        poll_interval=0.01,
        **kw,
    )
    # its own limiter: the default memory:// one is shared by the whole process
    limiter = RateLimiter(MemoryBackend(), scale=1000)
    op.hook.client = op.hook.get_client(transport=httpx.MockTransport(api), limiter=limiter)
    return op


def test_submits_then_defers_to_the_feed_trigger(tmp_path: Path) -> None:
    api = FakeFeeds(["IN_QUEUE"])
    op = make_operator(tmp_path, api)
    with pytest.raises(TaskDeferred) as info:
        op.execute({})  # type: ignore[arg-type]
    trigger = info.value.trigger
    assert isinstance(trigger, FeedProcessingTrigger)
    assert trigger.feed_id == "F1" and trigger.spapi_conn_id == "spapi_test"
    assert trigger.deadline is not None
    assert info.value.method_name == "execute_complete"
    assert info.value.kwargs == {"document_hash": hashlib.sha256(DOC).hexdigest()}
    assert api.uploads == [("application/json", DOC)]
    assert api.created == [
        {
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": ["ATVPDKIKX0DER"],
            "inputFeedDocumentId": "doc-1",
        }
    ]


def test_an_already_finished_feed_returns_without_deferring(tmp_path: Path) -> None:
    api = FakeFeeds(["DONE"])
    outcome = make_operator(tmp_path, api).execute({})  # type: ignore[arg-type]
    assert outcome == {
        "feed_id": "F1",
        "processing_status": "DONE",
        "result_document_id": "result-1",
        "document_hash": hashlib.sha256(DOC).hexdigest(),
        "processing_start_time": STARTED,
        "processing_end_time": ENDED,
    }


def test_execute_complete_success_and_failures(tmp_path: Path) -> None:
    op = make_operator(tmp_path, FakeFeeds(["IN_QUEUE"]))
    ok = op.execute_complete(
        {},  # type: ignore[arg-type]
        {
            "status": "success",
            "feed_id": "F1",
            "processing_status": "DONE",
            "result_document_id": "r",
            "processing_start_time": STARTED,
            "processing_end_time": ENDED,
        },
        document_hash="h",
    )
    assert ok["result_document_id"] == "r"
    assert (ok["processing_start_time"], ok["processing_end_time"]) == (STARTED, ENDED)
    with pytest.raises(FeedFatalError) as info:
        op.execute_complete({}, {"status": "error", "feed_id": "F1", "processing_status": "FATAL"})  # type: ignore[arg-type]
    assert info.value.processing_status == "FATAL"
    with pytest.raises(FeedWaitTimeoutError):
        op.execute_complete({}, {"status": "timeout", "feed_id": "F1", "processing_status": "IN_PROGRESS"})  # type: ignore[arg-type]
    with pytest.raises(SpApiError, match="unexpected event"):
        op.execute_complete({}, {"feed_id": "F1"})  # type: ignore[arg-type]
    with pytest.raises(SpApiError, match="HTTP 404"):
        op.execute_complete(
            {},  # type: ignore[arg-type]
            {
                "status": "error",
                "feed_id": "F1",
                "processing_status": None,
                "message": "getFeed HTTP 404 NotFound",
            },
        )


def test_fatal_can_be_returned_for_dead_lettering(tmp_path: Path) -> None:
    op = make_operator(tmp_path, FakeFeeds(["FATAL"]), fail_on_fatal=False)
    assert op.execute({})["processing_status"] == "FATAL"  # type: ignore[arg-type]


def test_non_deferrable_mode_polls_in_the_worker(tmp_path: Path) -> None:
    api = FakeFeeds(["IN_QUEUE", "IN_PROGRESS", "IN_PROGRESS", "DONE"])
    outcome = make_operator(tmp_path, api, deferrable=False).execute({})  # type: ignore[arg-type]
    assert outcome["processing_status"] == "DONE"
    assert (outcome["processing_start_time"], outcome["processing_end_time"]) == (STARTED, ENDED)


class LedgerOperator(SubmitFeedOperator):
    """A minimal ledger: what the pipeline's subclass does with publish_attempts."""

    ledger: dict[str, dict[str, Any]] = {}

    def find_submitted_feed(self, context: Any, document_hash: str) -> str | None:
        return self.ledger.get(document_hash, {}).get("feed_id")

    def before_create_feed(self, context: Any, document_hash: str, feed_document_id: str) -> None:
        self.ledger[document_hash] = {"state": "recorded", "feed_document_id": feed_document_id}

    def after_create_feed(self, context: Any, document_hash: str, feed_id: str) -> None:
        self.ledger[document_hash].update(state="feed_created", feed_id=feed_id)


def test_a_retried_task_does_not_submit_the_same_document_again(tmp_path: Path) -> None:
    LedgerOperator.ledger = {}
    api = FakeFeeds(["IN_PROGRESS"])
    with pytest.raises(TaskDeferred):
        make_operator(tmp_path, api, cls=LedgerOperator).execute({})  # type: ignore[arg-type]
    # the worker dies; Airflow retries the task with a fresh operator instance
    retry = make_operator(tmp_path, api, cls=LedgerOperator)
    with pytest.raises(TaskDeferred) as info:
        retry.execute({})  # type: ignore[arg-type]
    assert isinstance(info.value.trigger, FeedProcessingTrigger) and info.value.trigger.feed_id == "F1"
    assert len(api.created) == 1 and len(api.uploads) == 1


def test_defers_instead_of_sleeping_when_the_feed_quota_is_used_up(tmp_path: Path) -> None:
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger

    api = FakeFeeds(["IN_QUEUE"])
    op = make_operator(tmp_path, api)
    limiter = op.hook.client.limiter
    keys = limiter.keys_for("A1SELLER", "na", "createFeed", "JSON_LISTINGS_FEED")
    for key in keys:
        limiter.on_throttled(key, 600)  # as after a 429 with Retry-After: 600
    with pytest.raises(TaskDeferred) as info:
        op.execute({})  # type: ignore[arg-type]
    assert isinstance(info.value.trigger, DateTimeTrigger)
    assert info.value.method_name == "resume_after_quota"
    assert api.created == [] and api.uploads == []  # nothing sent while over quota


# ---- the last try fails: what the override point is told --------------------------------------------


class FailingFeeds(FakeFeeds):
    """FakeFeeds, but one operation answers with the given error."""

    def __init__(self, method: str, path: str, response: httpx.Response) -> None:
        super().__init__(["IN_QUEUE"])
        self.failing = (method, path)
        self.response = response

    def route(self, request: httpx.Request) -> httpx.Response:
        if (request.method, request.url.path) == self.failing:
            return self.response
        return super().route(request)


class RecordingOperator(SubmitFeedOperator):
    failures: list[tuple[str, str | None, FeedCreation]] = []

    def submit_failed(
        self, context: Any, error: BaseException, document_hash: str | None, creation: FeedCreation
    ) -> None:
        self.failures.append((type(error).__name__, document_hash, creation))


@dataclass
class TryOf:
    try_number: int
    max_tries: int


def error(status: int, code: str) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"code": code, "message": "refused"}]})


FEEDS = "/feeds/2021-06-30"


@pytest.mark.parametrize(
    ("method", "path", "response", "raised", "creation"),
    [
        ("POST", f"{FEEDS}/documents", error(403, "Unauthorized"), ForbiddenError, FeedCreation.NONE),
        ("POST", f"{FEEDS}/feeds", error(400, "InvalidInput"), InvalidRequestError, FeedCreation.NONE),
        ("POST", f"{FEEDS}/feeds", error(500, "InternalFailure"), ServerError, FeedCreation.MAYBE),
        ("GET", f"{FEEDS}/feeds/F1", error(403, "Unauthorized"), ForbiddenError, FeedCreation.EXISTS),
    ],
    ids=["document-refused", "create-feed-refused", "create-feed-500", "after-create-feed"],
)
def test_the_last_try_tells_submit_failed_whether_a_feed_may_exist(
    tmp_path: Path,
    method: str,
    path: str,
    response: httpx.Response,
    raised: type[SpApiError],
    creation: FeedCreation,
) -> None:
    RecordingOperator.failures = []
    op = make_operator(tmp_path, FailingFeeds(method, path, response), cls=RecordingOperator)
    with pytest.raises(raised):
        op.execute({"ti": TryOf(try_number=3, max_tries=2)})  # type: ignore[arg-type]
    assert RecordingOperator.failures == [(raised.__name__, hashlib.sha256(DOC).hexdigest(), creation)]


def test_a_try_airflow_will_retry_does_not_call_submit_failed(tmp_path: Path) -> None:
    RecordingOperator.failures = []
    api = FailingFeeds("POST", f"{FEEDS}/feeds", error(400, "InvalidInput"))
    with pytest.raises(InvalidRequestError):
        make_operator(tmp_path, api, cls=RecordingOperator).execute({"ti": TryOf(2, 2)})  # type: ignore[arg-type]
    assert RecordingOperator.failures == []


class BrokenHandler(SubmitFeedOperator):
    def submit_failed(self, *args: Any) -> None:
        raise RuntimeError("the warehouse is down too")


def test_a_failing_submit_failed_does_not_hide_the_first_error(tmp_path: Path) -> None:
    api = FailingFeeds("POST", f"{FEEDS}/feeds", error(400, "InvalidInput"))
    with pytest.raises(InvalidRequestError):
        make_operator(tmp_path, api, cls=BrokenHandler).execute({"ti": TryOf(1, 0)})  # type: ignore[arg-type]


def fail_on(exception: type[BaseException]) -> ExceptionRetryPolicy:
    return ExceptionRetryPolicy(rules=[RetryRule(exception=exception, action=RetryAction.FAIL)])


@pytest.mark.parametrize(
    ("ti", "error", "policy", "last"),
    [
        (TryOf(1, 2), ValueError("x"), None, False),
        (TryOf(2, 2), ValueError("x"), None, False),
        (TryOf(3, 2), ValueError("x"), None, True),
        (TryOf(1, 0), ValueError("x"), None, True),  # retries=0
        (TryOf(1, 2), AirflowFailException("x"), None, True),
        (TryOf(1, 2), ValueError("x"), fail_on(ValueError), True),
        (TryOf(1, 2), KeyError("x"), fail_on(ValueError), False),
        (None, ValueError("x"), None, True),  # outside Airflow nothing retries
    ],
)
def test_is_last_try_follows_the_task_runners_rule(
    ti: TryOf | None, error: BaseException, policy: ExceptionRetryPolicy | None, last: bool
) -> None:
    task = SubmitFeedOperator(
        task_id="t", document_path="d.json", marketplace_ids=["ATVPDKIKX0DER"], retry_policy=policy
    )
    context = {"ti": ti} if ti is not None else {}
    assert is_last_try(task, context, error) is last  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raised", "acted"),
    [
        (ThrottledError("slow down", status=429), False),
        (InvalidRequestError("bad", status=400), False),
        (ServerError("unavailable", status=503), False),
        (ServerError("oops", status=500), True),
        (TransportError("ReadTimeout talking to SP-API"), True),
        (RuntimeError("anything else"), True),
    ],
)
def test_create_feed_may_have_acted(raised: BaseException, acted: bool) -> None:
    assert create_feed_may_have_acted(raised) is acted
