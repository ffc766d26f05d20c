"""JSON_LISTINGS_FEED document building and processing-report parsing (spapi.feed_documents).

Amazon's schemas and examples come from ``include/spapi-models`` through the ``models_dir``
fixture (tests/conftest.py): skipped locally without them, a failure under ``CI=true``. Speed and
memory targets live in benchmarks/, not here; the one memory test has a deliberately generous bound.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import itertools
import json
import random
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft7Validator
from pydantic import ValidationError

from spapi.feed_documents import (
    DEFAULT_MAX_BYTES,
    DocumentSchemaError,
    FeedDocument,
    FeedLimits,
    InvalidFeedMessage,
    MessageIndex,
    ReportFormatError,
    SortedJson,
    build_feed_documents,
    header_bytes,
    iter_report_issues,
    load_message_index,
    message_problems,
    read_report,
    summarise_report,
    validate_document,
)
from spapi.models.feeds import _OPERATION_RULES, ListingsFeedMessage, ProcessingReport

FEED_SCHEMA = "schemas/feeds/listings-feed-schema-v2.json"
FEED_EXAMPLE = "schemas/feeds/listings-feed-schema-v2.example.json"
REPORT_SCHEMA = "schemas/feeds/listings-feed-processing-report-schema-v2.json"
REPORT_EXAMPLE = "schemas/feeds/listings-feed-processing-report-schema-v2.example.json"
SELLER = "A1SELLER"
MP = "ATVPDKIKX0DER"


# --- fixtures and helpers ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def feed_schema(models_dir: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((models_dir / FEED_SCHEMA).read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return schema


@pytest.fixture(scope="module")
def report_validator(models_dir: Path) -> Draft7Validator:
    return Draft7Validator(json.loads((models_dir / REPORT_SCHEMA).read_text(encoding="utf-8")))


@pytest.fixture
def check_documents(feed_schema: dict[str, Any]) -> Callable[..., list[dict[str, Any]]]:
    """Check every written document: the schema (Amazon's), hash and size of the bytes on disk,
    messageIds 1..n, the sidecar; returns the parsed documents."""

    def check(documents: list[FeedDocument], max_bytes: int = DEFAULT_MAX_BYTES) -> list[dict[str, Any]]:
        parsed = []
        for document in documents:
            data = document.path.read_bytes()
            assert document.sha256 == hashlib.sha256(data).hexdigest()
            assert document.size_bytes == len(data) <= max_bytes
            assert (
                validate_document(document.path, feed_schema, max_bytes=max_bytes) == document.message_count
            )
            body = orjson.loads(data)
            ids = [m["messageId"] for m in body["messages"]]
            assert ids == list(range(1, document.message_count + 1))
            assert (document.first_message_id, document.last_message_id) == (1, document.message_count)
            index = document.message_index()
            assert list(index.items()) == [(m["messageId"], m["sku"]) for m in body["messages"]]
            parsed.append(body)
        return parsed

    return check


def listing(sku: str, **attributes: Any) -> dict[str, Any]:
    attrs = attributes or {
        "item_name": [{"value": f"Title {sku}", "language_tag": "en_US", "marketplace_id": MP}]
    }
    return {"sku": sku, "operationType": "UPDATE", "productType": "LUGGAGE", "attributes": attrs}


def small(i: int) -> dict[str, Any]:
    return {"sku": f"SKU-{i:06d}", "operationType": "DELETE"}


def all_kinds(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """n messages of all four operation types, with selectors and nested values."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(n):
        sku = f"MIX-{i:05d}"
        kind = i % 4
        if kind == 0:
            out.append(
                {
                    "sku": sku,
                    "operationType": "UPDATE",
                    "productType": "SHOES",
                    "requirements": "LISTING",
                    "attributes": {
                        "item_name": [
                            {"value": f"Shoe {i} ü€", "language_tag": "en_US", "marketplace_id": MP}
                        ],
                        "list_price": [
                            {
                                "currency": "USD",
                                "value_with_tax": round(rng.uniform(1, 99), 2),
                                "marketplace_id": MP,
                            }
                        ],
                        "batteries_required": [{"value": False, "marketplace_id": MP}],
                    },
                }
            )
        elif kind == 1:
            out.append(
                {
                    "sku": sku,
                    "operationType": "PARTIAL_UPDATE",
                    "productType": "SHOES",
                    "attributes": {
                        "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": i}]
                    },
                }
            )
        elif kind == 2:
            out.append(
                {
                    "sku": sku,
                    "operationType": "PATCH",
                    "productType": "SHOES",
                    "patches": [
                        {
                            "op": "replace",
                            "path": "/attributes/fulfillment_availability",
                            "value": [{"quantity": i}],
                        },
                        {"op": "delete", "path": "/attributes/bullet_point"},
                    ],
                }
            )
        else:
            out.append({"sku": sku, "operationType": "DELETE"})
    return out


# --- header and limits ------------------------------------------------------------------------------


def test_header_bytes_are_sorted_compact_and_validated() -> None:
    assert header_bytes(SELLER) == b'{"sellerId":"A1SELLER","version":"2.0"}'
    assert header_bytes(SELLER, issue_locale="en_US", included_data=["issues", "summaries"]) == (
        b'{"issueLocale":"en_US","report":{"apiVersion":"2021-08-01","includedData":["issues","summaries"]},'
        b'"sellerId":"A1SELLER","version":"2.0"}'
    )
    with pytest.raises(ValueError, match="seller_id"):
        header_bytes(" ")
    with pytest.raises(ValidationError):
        header_bytes(SELLER, included_data=["everything"])
    with pytest.raises(ValidationError):
        header_bytes(SELLER, included_data=[])
    with pytest.raises(ValueError, match="not one string"):
        header_bytes(SELLER, included_data="issues")


@pytest.mark.parametrize(
    "kwargs", [{"max_messages": 0}, {"max_messages": 25_001}, {"max_bytes": 0}, {"max_messages": True}]
)
def test_feed_limits_refuse_out_of_range(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        FeedLimits(**kwargs)


def test_feed_limits_defaults() -> None:
    assert FeedLimits() == FeedLimits(25_000, 10 * 1024 * 1024)


# --- documents against Amazon's schema ----------------------------------------------------------------


def test_amazon_example_round_trips_byte_for_byte_in_content(
    models_dir: Path, tmp_path: Path, check_documents: Callable[..., list[dict[str, Any]]]
) -> None:
    """Amazon's own example feed, rebuilt from its messages, is the same JSON document."""
    example = json.loads((models_dir / FEED_EXAMPLE).read_text(encoding="utf-8"))
    messages = [{k: v for k, v in m.items() if k != "messageId"} for m in example["messages"]]
    header = example["header"]
    documents = build_feed_documents(
        header["sellerId"],
        messages,
        tmp_path,
        issue_locale=header["issueLocale"],
        included_data=header["report"]["includedData"],
    )
    assert len(documents) == 1
    (body,) = check_documents(documents)
    assert body == example
    # fixed layout: messageId first, then sorted keys, no whitespace
    assert (
        documents[0].path.read_bytes().startswith(b'{"header":{"issueLocale":"en_US","report":{"apiVersion"')
    )
    assert b'{"messageId":1,"operationType":"DELETE","sku":"My-SKU-A"}' in documents[0].path.read_bytes()


def test_all_operation_types_validate_and_keep_their_content(
    tmp_path: Path, check_documents: Callable[..., list[dict[str, Any]]]
) -> None:
    messages = all_kinds(400)
    documents = build_feed_documents(
        SELLER, messages, tmp_path, issue_locale="en_US", included_data=["issues"]
    )
    (body,) = check_documents(documents)
    assert body["header"] == {
        "sellerId": SELLER,
        "version": "2.0",
        "issueLocale": "en_US",
        "report": {"includedData": ["issues"], "apiVersion": "2021-08-01"},
    }
    assert [{k: v for k, v in m.items() if k != "messageId"} for m in body["messages"]] == messages
    # and the pydantic model agrees with every message we wrote
    for message in body["messages"]:
        ListingsFeedMessage.model_validate(message)


def test_validate_document_finds_what_is_wrong(feed_schema: dict[str, Any], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(
        orjson.dumps(
            {
                "header": {"sellerId": SELLER, "version": "2.0"},
                "messages": [
                    {"messageId": 1, "sku": "A", "operationType": "DELETE", "attributes": {"x": [{}]}},
                    {"messageId": 1, "sku": "B", "operationType": "DELETE"},
                ],
            }
        )
    )
    with pytest.raises(DocumentSchemaError) as caught:
        validate_document(bad, feed_schema)
    text = str(caught.value)
    assert "$.messages[0]" in text
    assert "messageId: 1 is not unique" in text
    with pytest.raises(DocumentSchemaError, match="more than 10"):
        validate_document(bad, feed_schema, max_bytes=10)
    bad.write_bytes(b"{not json")
    with pytest.raises(DocumentSchemaError, match="not JSON"):
        validate_document(bad, feed_schema)


def test_validate_document_takes_a_schema_path(models_dir: Path, tmp_path: Path) -> None:
    documents = build_feed_documents(SELLER, [small(1)], tmp_path)
    assert validate_document(documents[0].path, models_dir / FEED_SCHEMA) == 1


# --- splitting --------------------------------------------------------------------------------------


def test_split_by_message_count_restarts_message_ids(
    tmp_path: Path, check_documents: Callable[..., list[dict[str, Any]]]
) -> None:
    documents = build_feed_documents(SELLER, (small(i) for i in range(60_001)), tmp_path)
    assert [d.message_count for d in documents] == [25_000, 25_000, 10_001]
    assert [d.path.name for d in documents] == ["feed-00001.json", "feed-00002.json", "feed-00003.json"]
    bodies = check_documents(documents)
    skus = [m["sku"] for body in bodies for m in body["messages"]]
    assert skus == [f"SKU-{i:06d}" for i in range(60_001)]  # nothing lost, duplicated or reordered
    assert bodies[1]["messages"][0] == {"messageId": 1, "sku": "SKU-025000", "operationType": "DELETE"}
    assert documents[2].message_index()[10_001] == "SKU-060000"
    assert documents[1].message_index()[25_000] == "SKU-049999"


def test_split_by_bytes_keeps_every_file_within_max_bytes(
    tmp_path: Path, check_documents: Callable[..., list[dict[str, Any]]]
) -> None:
    rng = random.Random(3)
    messages = [
        listing(f"S{i}", item_name=[{"value": "x" * rng.randint(1, 300), "marketplace_id": MP}])
        for i in range(500)
    ]
    limit = 2_000
    documents = build_feed_documents(SELLER, messages, tmp_path, limits=FeedLimits(max_bytes=limit))
    assert len(documents) > 40
    check_documents(documents, max_bytes=limit)
    assert sum(d.message_count for d in documents) == 500
    # greedy: the next document's first message would not have fitted in the previous one
    for previous, following in itertools.pairwise(documents):
        first = orjson.loads(following.path.read_bytes())["messages"][0]
        grown = previous.size_bytes + 1 + len(orjson.dumps(dict(first, messageId=previous.message_count + 1)))
        assert grown > limit


def test_byte_limit_is_exact(tmp_path: Path) -> None:
    """A document of exactly max_bytes is allowed; one byte less moves the last message on."""
    messages = [listing(f"SKU-{i}") for i in range(10)]
    whole = build_feed_documents(SELLER, messages, tmp_path / "whole")
    exact = whole[0].size_bytes
    fits = build_feed_documents(SELLER, messages, tmp_path / "fits", limits=FeedLimits(max_bytes=exact))
    assert [d.message_count for d in fits] == [10]
    assert fits[0].sha256 == whole[0].sha256
    short = build_feed_documents(SELLER, messages, tmp_path / "short", limits=FeedLimits(max_bytes=exact - 1))
    assert [d.message_count for d in short] == [9, 1]
    assert all(d.size_bytes <= exact - 1 for d in short)


def test_max_messages_limit(tmp_path: Path) -> None:
    documents = build_feed_documents(
        SELLER, (small(i) for i in range(7)), tmp_path, limits=FeedLimits(max_messages=3)
    )
    assert [d.message_count for d in documents] == [3, 3, 1]


def test_oversized_message_raises_naming_the_sku(tmp_path: Path) -> None:
    messages = [
        listing("OK-1"),
        listing("HUGE-7", item_name=[{"value": "x" * 5_000, "marketplace_id": MP}]),
        listing("OK-2"),
    ]
    with pytest.raises(InvalidFeedMessage, match="HUGE-7") as caught:
        build_feed_documents(SELLER, messages, tmp_path, limits=FeedLimits(max_bytes=4_000))
    assert isinstance(caught.value, ValueError)
    assert caught.value.sku == "HUGE-7"
    assert caught.value.position == 1
    assert "too large" in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left behind


def test_oversized_message_goes_to_on_invalid_when_given(tmp_path: Path) -> None:
    rejected: list[tuple[Mapping[str, Any], str]] = []
    messages = [
        listing("OK-1"),
        listing("HUGE-7", item_name=[{"value": "x" * 5_000, "marketplace_id": MP}]),
        listing("OK-2"),
    ]
    documents = build_feed_documents(
        SELLER,
        messages,
        tmp_path,
        limits=FeedLimits(max_bytes=4_000),
        on_invalid=lambda m, r: rejected.append((m, r)),
    )
    assert [m["sku"] for m, _ in rejected] == ["HUGE-7"]
    assert "too large" in rejected[0][1]
    assert [s for d in documents for s in d.message_index().values()] == ["OK-1", "OK-2"]


def test_empty_input_writes_nothing(tmp_path: Path) -> None:
    assert build_feed_documents(SELLER, [], tmp_path / "out") == []
    assert list((tmp_path / "out").iterdir()) == []


# --- determinism ------------------------------------------------------------------------------------


def test_same_input_same_bytes(tmp_path: Path) -> None:
    messages = all_kinds(300)
    limits = FeedLimits(max_bytes=20_000)
    first = build_feed_documents(SELLER, messages, tmp_path / "a", limits=limits)
    again = build_feed_documents(SELLER, copy.deepcopy(messages), tmp_path / "b", limits=limits)
    assert len(first) > 1
    assert [d.sha256 for d in first] == [d.sha256 for d in again]
    assert [d.path.read_bytes() for d in first] == [d.path.read_bytes() for d in again]
    # a retry into the same directory overwrites with identical bytes
    retry = build_feed_documents(SELLER, messages, tmp_path / "a", limits=limits)
    assert [d.sha256 for d in retry] == [d.sha256 for d in first]
    # key insertion order does not matter (sorted keys, nested too)
    shuffled = [dict(reversed(list(m.items()))) for m in messages]
    for m in shuffled:
        if "attributes" in m:
            m["attributes"] = dict(reversed(list(m["attributes"].items())))
    assert [d.sha256 for d in build_feed_documents(SELLER, shuffled, tmp_path / "c", limits=limits)] == [
        d.sha256 for d in first
    ]


def test_different_order_or_value_different_hash(tmp_path: Path) -> None:
    messages = all_kinds(20)
    (base,) = build_feed_documents(SELLER, messages, tmp_path / "a")
    (swapped,) = build_feed_documents(SELLER, [messages[1], messages[0], *messages[2:]], tmp_path / "b")
    changed = copy.deepcopy(messages)
    changed[5]["attributes"]["fulfillment_availability"][0]["quantity"] += 1
    (edited,) = build_feed_documents(SELLER, changed, tmp_path / "c")
    (other_seller,) = build_feed_documents("A2OTHER", messages, tmp_path / "d")
    assert len({base.sha256, swapped.sha256, edited.sha256, other_seller.sha256}) == 4


def test_none_fields_are_left_out(
    tmp_path: Path, check_documents: Callable[..., list[dict[str, Any]]]
) -> None:
    message = {"sku": "GONE", "operationType": "DELETE", "productType": None, "attributes": None}
    (body,) = check_documents(build_feed_documents(SELLER, [message], tmp_path))
    assert body["messages"] == [{"messageId": 1, "sku": "GONE", "operationType": "DELETE"}]


# --- streaming --------------------------------------------------------------------------------------


def test_streaming_keeps_memory_bounded_and_writes_as_it_goes(tmp_path: Path) -> None:
    seen_first_document_early: list[bool] = []

    def messages() -> Iterator[dict[str, Any]]:
        for i in range(200_000):
            if i == 30_000:  # the first document (25,000 messages) is complete on disk by now
                seen_first_document_early.append((tmp_path / "feed-00001.json").exists())
            yield {
                "sku": f"STREAM-{i:07d}",
                "operationType": "PARTIAL_UPDATE",
                "productType": "LUGGAGE",
                "attributes": {
                    "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": i}]
                },
            }

    tracemalloc.start()
    try:
        documents = build_feed_documents(SELLER, messages(), tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    total_bytes = sum(d.size_bytes for d in documents)
    assert sum(d.message_count for d in documents) == 200_000
    assert seen_first_document_early == [True]
    # ~26 MB were written; holding them (or all 200k SKUs) would show. Generous bound: < 100 MB.
    assert total_bytes > 20_000_000
    assert peak < 100 * 1024 * 1024, f"peak traced memory {peak / 1e6:.1f} MB"
    assert peak < total_bytes / 2


# --- operationType rules ----------------------------------------------------------------------------

ATTRS = {"item_name": [{"value": "T", "marketplace_id": MP}]}
PATCHES = [{"op": "replace", "path": "/attributes/item_name", "value": [{"value": "T"}]}]
FIELD_VALUES = {"productType": "LUGGAGE", "requirements": "LISTING", "attributes": ATTRS, "patches": PATCHES}


def valid_for(op: str) -> dict[str, Any]:
    required, _ = _OPERATION_RULES[op]
    return {"sku": f"SKU-{op}", "operationType": op, **{name: FIELD_VALUES[name] for name in required}}


def test_rules_table_is_the_models() -> None:
    from spapi import feed_documents

    assert feed_documents._RULES == _OPERATION_RULES


@pytest.mark.parametrize(
    ("op", "name"), [(op, name) for op, (_, forbidden) in _OPERATION_RULES.items() for name in forbidden]
)
def test_forbidden_field_is_refused(op: str, name: str, tmp_path: Path) -> None:
    message = {**valid_for(op), name: FIELD_VALUES[name]}
    with pytest.raises(InvalidFeedMessage) as caught:
        build_feed_documents(SELLER, [message], tmp_path)
    assert caught.value.sku == f"SKU-{op}"
    assert (name, f"not allowed with operationType {op}") in caught.value.problems
    assert f"SKU-{op}" in str(caught.value) and name in str(caught.value)
    with pytest.raises(ValidationError):  # the pydantic model agrees
        ListingsFeedMessage.model_validate({**message, "messageId": 1})


@pytest.mark.parametrize(
    ("op", "name"), [(op, name) for op, (required, _) in _OPERATION_RULES.items() for name in required]
)
def test_required_field_is_demanded(op: str, name: str, tmp_path: Path) -> None:
    message = {k: v for k, v in valid_for(op).items() if k != name}
    rejected: list[tuple[Mapping[str, Any], str]] = []
    documents = build_feed_documents(
        SELLER, [message, small(1)], tmp_path, on_invalid=lambda m, r: rejected.append((m, r))
    )
    assert len(rejected) == 1
    assert rejected[0][0] is message
    assert f"SKU-{op}" in rejected[0][1]
    assert f"{name}: required with operationType {op}" in rejected[0][1]
    assert [d.message_count for d in documents] == [1]  # the valid one still goes out
    with pytest.raises(ValidationError):
        ListingsFeedMessage.model_validate({**message, "messageId": 1})


@pytest.mark.parametrize("op", list(_OPERATION_RULES))
def test_minimal_valid_message_per_operation(op: str) -> None:
    assert message_problems(valid_for(op)) == []
    ListingsFeedMessage.model_validate({**valid_for(op), "messageId": 1})


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"sku": ""}, "sku", "non-empty"),
        ({"operationType": "UPSERT"}, "operationType", "must be one of"),
        ({"operationType": ["UPDATE"]}, "operationType", "must be one of"),
        ({"messageId": 3}, "messageId", "assigned by the builder"),
        ({"marketplaceId": MP}, "marketplaceId", "unknown field"),
        ({"productType": ""}, "productType", "non-empty"),
        ({"requirements": "EVERYTHING"}, "requirements", "must be one of"),
        ({"attributes": {}}, "attributes", "at least one"),
        ({"attributes": {"item_name": {"value": "T"}}}, "attributes.item_name", "array of objects"),
        ({"attributes": {"item_name": ["T"]}}, "attributes.item_name", "array of objects"),
    ],
)
def test_field_rules(change: dict[str, Any], field: str, reason: str) -> None:
    message = {**valid_for("UPDATE"), **change}
    problems = message_problems(message)
    assert any(name == field and reason in why for name, why in problems), problems
    if field != "messageId":  # the model has a messageId; only the builder refuses one from the caller
        with pytest.raises(ValidationError):
            ListingsFeedMessage.model_validate({"messageId": 1, **message})


@pytest.mark.parametrize(
    ("patch", "field", "reason"),
    [
        ({"op": "remove", "path": "/attributes/a", "value": [{}]}, "patches[0].op", "must be one of"),
        ({"op": "replace", "path": "/attributes/a/0", "value": [{}]}, "patches[0].path", "top-level"),
        ({"op": "replace", "path": "/attributes/a"}, "patches[0].value", "required for op 'replace'"),
        ({"op": "add", "path": "/attributes/a", "value": {"v": 1}}, "patches[0].value", "array of objects"),
        ({"op": "add", "path": "/attributes/a", "value": [{}], "from": "/x"}, "patches[0]", "unknown field"),
        ("replace", "patches[0]", "must be an object"),
    ],
)
def test_patch_rules(patch: Any, field: str, reason: str) -> None:
    message = {**valid_for("PATCH"), "patches": [patch]}
    problems = message_problems(message)
    assert any(name == field and reason in why for name, why in problems), problems
    with pytest.raises(ValidationError):
        ListingsFeedMessage.model_validate({"messageId": 1, **message})


def test_delete_patch_needs_no_value() -> None:
    message = {**valid_for("PATCH"), "patches": [{"op": "delete", "path": "/attributes/bullet_point"}]}
    assert message_problems(message) == []


def test_all_problems_of_a_message_are_reported() -> None:
    problems = message_problems(
        {"sku": "X", "operationType": "DELETE", "attributes": ATTRS, "patches": PATCHES}
    )
    assert {name for name, _ in problems} == {"attributes", "patches"}
    assert message_problems("not a message") == [("message", "must be an object, got str")]  # type: ignore[arg-type]


def test_cheap_rules_agree_with_the_pydantic_model() -> None:
    """Differential: random mixes of fields are valid for us exactly when the model accepts them."""
    rng = random.Random(11)
    options: dict[str, list[Any]] = {
        "operationType": ["UPDATE", "PARTIAL_UPDATE", "PATCH", "DELETE"],
        "productType": ["LUGGAGE", ""],
        "requirements": ["LISTING", "LISTING_OFFER_ONLY", "NOPE"],
        "attributes": [ATTRS, {}, {"a": "b"}],
        "patches": [PATCHES, [], [{"op": "merge", "path": "/attributes/x", "value": [{}]}]],
    }
    disagreements = []
    for _ in range(3_000):
        message: dict[str, Any] = {"sku": "S", "operationType": rng.choice(options["operationType"])}
        for name in ("productType", "requirements", "attributes", "patches"):
            if rng.random() < 0.5:
                message[name] = rng.choice(options[name])
        ours = not message_problems(message)
        try:
            ListingsFeedMessage.model_validate({**message, "messageId": 1})
            theirs = True
        except ValidationError:
            theirs = False
        if ours != theirs:
            disagreements.append(message)
    assert disagreements == []


def test_invalid_message_without_callback_fails_and_cleans_up(tmp_path: Path) -> None:
    messages = [small(i) for i in range(12)] + [
        {"sku": "BAD-1", "operationType": "DELETE", "attributes": ATTRS}
    ]
    with pytest.raises(InvalidFeedMessage, match="BAD-1") as caught:
        build_feed_documents(SELLER, messages, tmp_path, limits=FeedLimits(max_messages=5))
    assert caught.value.position == 12
    assert list(tmp_path.iterdir()) == []  # two finished documents and a partial one were removed


@pytest.mark.parametrize("as_lines", [False, True], ids=["dicts", "sorted-json-lines"])
def test_nothing_is_dropped_silently(tmp_path: Path, as_lines: bool) -> None:
    """Messages given as dicts and as SortedJson lines are checked alike: each invalid one goes to
    ``on_invalid`` (or raises without it), every other one is written."""
    messages = all_kinds(200)
    bad_positions = {3, 50, 51, 199}
    for i in bad_positions:
        messages[i] = {**messages[i], "operationType": "PATCH", "attributes": ATTRS}
    messages[60] = {**messages[60], "messageId": 5}
    given: list[Any] = (
        [SortedJson(orjson.dumps(m, option=orjson.OPT_SORT_KEYS)) for m in messages] if as_lines else messages
    )
    rejected: list[str] = []
    documents = build_feed_documents(
        SELLER,
        given,
        tmp_path,
        limits=FeedLimits(max_messages=30),
        on_invalid=lambda m, r: rejected.append(m["sku"]),
    )
    written = [sku for d in documents for sku in d.message_index().values()]
    assert sorted(rejected) == sorted(messages[i]["sku"] for i in {*bad_positions, 60})
    assert sorted(written + rejected) == sorted(m["sku"] for m in messages)
    with pytest.raises(InvalidFeedMessage, match="MIX-00003"):
        build_feed_documents(SELLER, given, tmp_path / "strict")


def test_validate_false_skips_rules_but_not_the_essentials(tmp_path: Path) -> None:
    lax = {"sku": "LAX", "operationType": "DELETE", "attributes": ATTRS}
    (document,) = build_feed_documents(SELLER, [lax], tmp_path / "a", validate=False)
    assert orjson.loads(document.path.read_bytes())["messages"][0]["attributes"] == ATTRS
    for message, reason in [
        ({"sku": "ID", "operationType": "DELETE", "messageId": 9}, "assigned by the builder"),
        ({"operationType": "DELETE"}, "sku"),
        (
            {"sku": "OBJ", "operationType": "DELETE", "attributes": {"x": [{"v": object()}]}},
            "cannot be serialised",
        ),
        ({"sku": "KEY", "operationType": "DELETE", "attributes": {1: [{}]}}, "cannot be serialised"),
        ("not a dict", "must be an object"),
    ]:
        with pytest.raises(InvalidFeedMessage, match=reason):
            build_feed_documents(SELLER, [message], tmp_path / "b", validate=False)  # type: ignore[list-item]


def test_name_prefix_and_sidecar(tmp_path: Path) -> None:
    documents = build_feed_documents(SELLER, [small(1), small(2)], tmp_path, name_prefix="run42-A1-US")
    (document,) = documents
    assert document.path == tmp_path / "run42-A1-US-00001.json"
    assert document.index_path == tmp_path / "run42-A1-US-00001.messages.json"
    sidecar = orjson.loads(document.index_path.read_bytes())
    assert sidecar == {
        "document": "run42-A1-US-00001.json",
        "sha256": document.sha256,
        "firstMessageId": 1,
        "skus": ["SKU-000001", "SKU-000002"],
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "run42-A1-US-00001.json",
        "run42-A1-US-00001.messages.json",
    ]
    with pytest.raises(ValueError, match="sha256"):
        load_message_index(document.index_path, expected_sha256="0" * 64)
    with pytest.raises(ValueError, match="name_prefix"):
        build_feed_documents(SELLER, [small(1)], tmp_path, name_prefix="../escape")


def test_message_index_mapping() -> None:
    index = MessageIndex(["a", "b", "c"])
    assert dict(index) == {1: "a", 2: "b", 3: "c"}
    assert 0 not in index and 4 not in index and 2 in index
    assert "1" not in index  # type: ignore[comparison-overlap]
    assert index.get(4) is None
    with pytest.raises(KeyError):
        index[0]
    assert dict(MessageIndex(["x"], first_message_id=7)) == {7: "x"}


# --- processing reports -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_report(models_dir: Path) -> bytes:
    return (models_dir / REPORT_EXAMPLE).read_bytes()


# The example report is about a 4-message document: messageIds 4 and 5 are invalid, 2 accepted.
EXAMPLE_INDEX = {2: "My-SKU-A", 3: "My-SKU-X", 4: "My-SKU-B", 5: "My-SKU-C"}


def test_amazon_example_report(example_report: bytes) -> None:
    outcome = summarise_report(example_report, EXAMPLE_INDEX)
    assert (outcome.feed_id, outcome.seller_id) == ("1234567890", "AXXXXXXXXXXXX")
    assert [(r["message_id"], r["sku"], r["status"]) for r in outcome.messages] == [
        (2, "My-SKU-A", "accepted"),
        (3, "My-SKU-X", "accepted"),
        (4, "My-SKU-B", "invalid"),
        (5, "My-SKU-C", "invalid"),
    ]
    assert outcome.counts == {"accepted": 2, "invalid": 2, "warning": 0, "unprocessed": 0}
    assert [len(r["issues"]) for r in outcome.messages] == [0, 0, 2, 1]
    assert outcome.messages[3]["issues"][0] == {
        "message_id": 5,
        "sku": "My-SKU-C",
        "code": "99022",
        "severity": "ERROR",
        "message": "The field '\"prices\"' for the attribute 'purchasable_offer.our_price' does not have enough values. The required minimum is '1' value(s).",
        "attribute_names": ["purchasable_offer.our_price"],
        "scope": "message",
    }
    assert outcome.messages[2]["issues"][0]["attribute_names"] == []
    assert outcome.summary["messages_invalid"] == 2
    assert outcome.summary["item_summary"] == {"items": 2, "errors": 0, "warnings": 2}
    assert outcome.mismatches == [] and outcome.consistent
    assert outcome.feed_issues == [] and outcome.unknown_message_issues == []


def test_iter_report_issues_from_bytes_gzip_model_and_dict(example_report: bytes) -> None:
    rows = list(iter_report_issues(example_report))
    assert [(r["message_id"], r["code"], r["attribute_names"]) for r in rows] == [
        (4, "90220", []),
        (4, "90220", []),
        (5, "99022", ["purchasable_offer.our_price"]),
    ]
    assert list(iter_report_issues(gzip.compress(example_report))) == rows
    assert list(iter_report_issues(ProcessingReport.model_validate_json(example_report))) == rows
    assert list(iter_report_issues(json.loads(example_report))) == rows
    assert summarise_report(gzip.compress(example_report), EXAMPLE_INDEX).counts["invalid"] == 2


def report(
    issues: list[dict[str, Any]], *, processed: int, accepted: int, invalid: int, **summary: int
) -> dict[str, Any]:
    errors = sum(i["severity"] == "ERROR" for i in issues)
    warnings = sum(i["severity"] == "WARNING" for i in issues)
    return {
        "header": {"sellerId": SELLER, "version": "2.0", "feedId": "F-1"},
        "issues": issues,
        "summary": {
            "errors": summary.get("errors", errors),
            "warnings": summary.get("warnings", warnings),
            "messagesProcessed": processed,
            "messagesAccepted": accepted,
            "messagesInvalid": invalid,
        },
    }


def issue(severity: str, message_id: int | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"severity": severity, "message": f"{severity} text", **extra}
    if message_id is not None:
        out["messageId"] = message_id
    return out


def test_statuses_feed_level_and_unknown_message_ids(report_validator: Draft7Validator) -> None:
    index = MessageIndex(["S1", "S2", "S3", "S4", "S5"])
    issues = [
        issue("WARNING", code="LOCALE"),  # feed level
        issue("ERROR", 1, code="E1", attributeName="item_name"),
        issue("WARNING", 1, code="W1"),
        issue("WARNING", 2, code="W2", sku="S2"),
        issue("INFO", 3, code="I3"),
        issue("ERROR", 99, sku="GHOST", code="E99"),  # not in the document
    ]
    data = report(issues, processed=5, accepted=4, invalid=1)
    assert list(report_validator.iter_errors(data)) == []
    outcome = summarise_report(orjson.dumps(data), index)
    assert [r["status"] for r in outcome.messages] == [
        "invalid",
        "warning",
        "accepted",
        "accepted",
        "accepted",
    ]
    assert outcome.counts == {"accepted": 3, "invalid": 1, "warning": 1, "unprocessed": 0}
    assert [i["code"] for i in outcome.feed_issues] == ["LOCALE"]
    assert outcome.feed_issues[0]["scope"] == "feed" and outcome.feed_issues[0]["message_id"] is None
    (ghost,) = outcome.unknown_message_issues
    assert (ghost["message_id"], ghost["sku"], ghost["scope"]) == (99, "GHOST", "unknown_message")
    # the ghost ERROR is counted by Amazon's errors but belongs to no message of ours
    assert [m["field"] for m in outcome.mismatches] == []
    assert not outcome.consistent  # unknown messageIds make it inconsistent
    rows = list(outcome.issue_rows())
    assert len(rows) == len(issues)  # every issue exactly once
    assert {r["code"] for r in rows} == {i["code"] for i in issues}


def test_summary_mismatch_is_detected() -> None:
    index = MessageIndex(["S1", "S2", "S3"])
    data = report([issue("ERROR", 1), issue("ERROR", 2)], processed=3, accepted=2, invalid=1)
    outcome = summarise_report(orjson.dumps(data), index)
    fields = {m["field"]: m for m in outcome.mismatches}
    assert set(fields) == {"messagesInvalid", "messagesAccepted"}
    assert (fields["messagesInvalid"]["reported"], fields["messagesInvalid"]["counted"]) == (1, 2)
    assert "summary.messagesInvalid is 1, but 2" in fields["messagesInvalid"]["detail"]
    assert not outcome.consistent
    # counts that disagree with the issues, and a document of another size
    data = report([issue("ERROR", 1)], processed=4, accepted=2, invalid=1, errors=5, warnings=1)
    names = {m["field"] for m in summarise_report(orjson.dumps(data), index).mismatches}
    assert names == {"messagesProcessed", "errors", "warnings"}


def test_sku_disagreement_is_flagged() -> None:
    index = MessageIndex(["S1", "S2"])
    data = report([issue("WARNING", 2, sku="OTHER")], processed=2, accepted=2, invalid=0)
    outcome = summarise_report(orjson.dumps(data), index)
    (mismatch,) = outcome.mismatches
    assert (mismatch["field"], mismatch["message_id"], mismatch["reported"], mismatch["counted"]) == (
        "sku",
        2,
        "OTHER",
        "S2",
    )
    assert outcome.messages[1]["issues"][0]["sku"] == "S2"  # the document's SKU is the one we key on


def test_feed_level_error_leaves_messages_unprocessed() -> None:
    """A report that processed nothing must not mark the document's messages accepted."""
    index = MessageIndex(["S1", "S2", "S3"])
    data = report([issue("ERROR", code="FEED_FORMAT")], processed=0, accepted=0, invalid=0)
    outcome = summarise_report(orjson.dumps(data), index)
    assert [r["status"] for r in outcome.messages] == ["unprocessed"] * 3
    assert outcome.counts["accepted"] == 0 and outcome.counts["unprocessed"] == 3
    assert [m["field"] for m in outcome.mismatches] == ["messagesProcessed"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"status": "FATAL"}', "header"),
        (orjson.dumps({**report([], processed=0, accepted=0, invalid=0), "issues": {}}), "issues"),
        (
            orjson.dumps({**report([], processed=0, accepted=0, invalid=0), "summary": {"errors": 0}}),
            "summary.warnings",
        ),
        (
            orjson.dumps(
                report([issue("ERROR", 1) | {"messageId": "1"}], processed=1, accepted=0, invalid=1)
            ),
            r"issues\[0\].messageId",
        ),
        (
            orjson.dumps(
                report([issue("ERROR", 1, attributeName=["a"])], processed=1, accepted=0, invalid=1)
            ),
            "attributeName",
        ),
        (
            orjson.dumps(report([{"severity": "ERROR"}], processed=1, accepted=0, invalid=1)),
            r"issues\[0\].message ",
        ),
        (b"\x1f\x8bnot really gzip", "GZIP"),
    ],
)
def test_malformed_reports_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(ReportFormatError, match=reason):
        summarise_report(data, {1: "S1"})


def test_full_size_report_against_built_documents(tmp_path: Path, report_validator: Draft7Validator) -> None:
    """Build, then read back a 25,000-message report for the second document through its sidecar."""
    documents = build_feed_documents(SELLER, (small(i) for i in range(30_000)), tmp_path)
    document = documents[0]
    index = document.message_index()
    rng = random.Random(5)
    issues = []
    invalid = set()
    for message_id in range(1, document.message_count + 1):
        roll = rng.random()
        if roll < 0.05:
            invalid.add(message_id)
            issues += [
                issue("ERROR", message_id, sku=index[message_id], attributeName="item_name")
            ] * rng.randint(1, 3)
        elif roll < 0.15:
            issues.append(issue("WARNING", message_id, sku=index[message_id]))
    data = report(issues, processed=25_000, accepted=25_000 - len(invalid), invalid=len(invalid))
    assert list(report_validator.iter_errors(data)) == []
    outcome = summarise_report(orjson.dumps(data), index)
    assert len(outcome.messages) == 25_000
    assert outcome.counts["invalid"] == len(invalid)
    assert {r["message_id"] for r in outcome.messages if r["status"] == "invalid"} == invalid
    assert outcome.messages[24_999]["sku"] == "SKU-024999"
    assert outcome.consistent
    assert sum(1 for _ in outcome.issue_rows()) == len(issues)
    # a plain dict index works too
    assert summarise_report(orjson.dumps(data), dict(index)).counts == outcome.counts


def test_read_report_checks_header_fields() -> None:
    data = report([], processed=0, accepted=0, invalid=0)
    data["header"]["feedId"] = 123
    with pytest.raises(ReportFormatError, match="feedId"):
        read_report(orjson.dumps(data))


# --- messages given as their sorted JSON lines --------------------------------------------------------


def _varied(n: int) -> list[dict[str, Any]]:
    """all_kinds plus the values whose serialisation could differ: floats, big ints, escapes,
    nested nulls, empty containers, and top-level None fields (which the builder leaves out)."""
    out = all_kinds(n)
    odd_values: list[Any] = [
        1e-7,
        1e21,
        0.1 + 0.2,
        -0.0,
        2**63 - 1,
        -(2**63),
        '\u0000\u001f"\\/\u2028\ud7ff',
        "😀",
        None,
        [],
        {},
    ]
    for i, message in enumerate(out):
        if message["operationType"] in ("UPDATE", "PARTIAL_UPDATE"):
            message["attributes"]["z_odd"] = [
                {"value": odd_values[i % len(odd_values)], "nested": {"b": 1, "a": None}}
            ]
        if i % 7 == 0 and message["operationType"] == "UPDATE":
            message["requirements"] = None  # left out either way
    return out


@pytest.mark.parametrize("verified", [0, 3, 10_000])
def test_sorted_json_lines_build_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verified: int
) -> None:
    from spapi import feed_documents

    monkeypatch.setattr(feed_documents, "_VERIFIED_LINES", verified)
    messages = _varied(400)
    lines = [SortedJson(orjson.dumps(m, option=orjson.OPT_SORT_KEYS)) for m in messages]
    limits = FeedLimits(max_messages=90)
    as_dicts = build_feed_documents(SELLER, copy.deepcopy(messages), tmp_path / "dicts", limits=limits)
    as_lines = build_feed_documents(SELLER, lines, tmp_path / "lines", limits=limits)
    assert len(as_dicts) == len(as_lines) == 5
    for a, b in zip(as_dicts, as_lines, strict=True):
        assert a.path.read_bytes() == b.path.read_bytes()
        assert (a.sha256, a.size_bytes, a.message_count) == (b.sha256, b.size_bytes, b.message_count)
        assert a.index_path.read_bytes() == b.index_path.read_bytes()


def test_a_line_not_as_orjson_writes_it_is_serialised_again(tmp_path: Path) -> None:
    """The first lines are checked: a line with spaces or unsorted keys turns the splice off, so the
    documents are still those of the parsed messages."""
    messages = all_kinds(40)
    lines = [SortedJson(orjson.dumps(m, option=orjson.OPT_SORT_KEYS)) for m in messages]
    lines[0] = SortedJson(json.dumps(messages[0]).encode())  # spaces, insertion order
    (as_dicts,) = build_feed_documents(SELLER, messages, tmp_path / "dicts")
    (as_lines,) = build_feed_documents(SELLER, lines, tmp_path / "lines")
    assert as_dicts.path.read_bytes() == as_lines.path.read_bytes()
