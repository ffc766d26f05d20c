"""The operators' forms: every problem of a form at once, each message exact; the SKU and price
rules; the warehouse's product types; the note and failure message a wrong form leaves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from listings_pipeline.config import load_config
from listings_pipeline.forms.choices import all_marketplaces, form_choices
from listings_pipeline.forms.fields import entries
from listings_pipeline.forms.hotfix import HotfixRequest, check_form, request_of
from listings_pipeline.forms.known import KnownListing
from listings_pipeline.forms.problems import FormError, line, problem
from listings_pipeline.forms.shared import (
    marketplaces_field,
    pick_one,
    seller_field,
    sellers_field,
    skus_field,
    suggest,
)
from listings_pipeline.forms.skus import check_skus
from listings_pipeline.outcome import NOTE_LIMIT, merged_note
from tests.fixtures.sandbox import CA, SELLER, US

DE, JP = "A1PA6795UKMFR9", "A1VC38T7YXB528"


def form(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "seller_id": SELLER,
        "marketplace_ids": [US],
        "skus": "HOT-1",
        "action": "price",
        "product_type": "LUGGAGE",
        "price": 119.5,
        "currency": "USD",
    }
    base.update(overrides)
    return base


def problems(config: bool = False, known: tuple[KnownListing, ...] = (), **overrides: Any) -> list[str]:
    with pytest.raises(FormError) as info:
        check_form(form(**overrides), config=load_config() if config else None, known=known)
    return [line(p) for p in info.value.problems]


def listing(sku: str, product_type: str | None, marketplace_id: str = US) -> KnownListing:
    return {"seller_id": SELLER, "marketplace_id": marketplace_id, "sku": sku, "product_type": product_type}


# --- one pass ---------------------------------------------------------------------------------------


def test_a_form_with_many_problems_lists_every_one_in_the_forms_order() -> None:
    """Issue #14: an unknown seller used to hide every other problem."""
    bad = {
        "seller_id": "A9NOBODY",
        "marketplace_ids": [US, "NOPE"],
        "skus": '"HOT-1"\nA B, OK-1,,OK-2\n' + "X" * 41,
        "action": "price",
        "product_type": "luggage",
        "price": 19.999,
        "currency": "usd",
        "sale_start": "2026-02-30",
        "minimum_price": 30,
        "quantity": 3,
    }
    with pytest.raises(FormError) as info:
        check_form(bad, config=load_config())
    assert str(info.value) == "\n".join(
        [
            "The hotfix form has 12 problems; nothing was done:",
            "- seller_id: 'A9NOBODY' is not a seller of the pipeline config (its sellers: A1SANDBOXNA0001 "
            "(Demo Seller US/CA), A3SANDBOXEU0003 (Demo Seller EU))",
            "- marketplace_ids: 'NOPE' is not an Amazon marketplace id",
            '- skus: \'"HOT-1"\' has quotes ("): paste SKUs without them',
            "- skus: 'A B' has a space inside: if these are several SKUs, put each on its own line or "
            "separate them with commas",
            "- skus: entry 4 is empty (after 'OK-1'): is a SKU missing there?",
            "- skus: 'XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX' is 41 characters long; Amazon takes at most 40",
            "- product_type: 'luggage': Amazon's product types are in capitals; did you mean LUGGAGE?",
            "- price: 19.999 has 3 decimal places; USD has 2 decimal places",
            "- currency: 'usd' is not a currency code; did you mean USD?",
            "- sale_price: a sale needs all of sale_price, sale_start and sale_end",
            "- sale_start: '2026-02-30' is not a day (YYYY-MM-DD)",
            "- quantity: belongs to the 'quantity' action; clear it for 'price'",
        ]
    )


def test_a_good_form_is_the_typed_request() -> None:
    request = check_form(form(skus="  A-1 \nB-2, A-1\n\n;C-3 ,"), config=load_config())
    assert request.skus == ("A-1", "B-2", "C-3")
    assert request.product_types == {"A-1": "LUGGAGE", "B-2": "LUGGAGE", "C-3": "LUGGAGE"}
    assert request.preview is True and request.mode == "VALIDATION_PREVIEW"
    assert check_form(form(preview=False)).mode is None
    assert str(request.price) == "119.5" and request.currency == "USD"
    # what validate_form hands on, read back by plan
    dumped = {**request.model_dump(mode="json"), "config_path": None}
    assert request_of(dumped) == request  # type: ignore[arg-type]


def test_the_request_is_frozen() -> None:
    request = check_form(form())
    with pytest.raises(Exception, match="frozen"):
        request.price = None  # type: ignore[misc]
    assert set(HotfixRequest.model_fields["action"].annotation.__args__) == {  # type: ignore[union-attr]
        "price",
        "quantity",
        "patch",
        "delete",
        "put_from_catalog",
    }


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"seller_id": ""}, ["seller_id: choose a seller"]),
        ({"seller_id": 7}, ["seller_id: must be text; got 7"]),
        ({"marketplace_ids": []}, ["marketplace_ids: choose at least one marketplace"]),
        ({"marketplace_ids": 5}, ["marketplace_ids: must be a list of marketplace ids"]),
        (
            {
                "marketplace_ids": [US, DE],
                "action": "quantity",
                "price": None,
                "currency": None,
                "quantity": 1,
            },
            [
                "marketplace_ids: all marketplaces must be in one region (one seller account per region); got "
                "United States (ATVPDKIKX0DER) NA, Germany (A1PA6795UKMFR9) EU"
            ],
        ),
        ({"skus": " \n, "}, ["skus: give at least one SKU (one per line, or separated by commas)"]),
        (
            {"skus": [f"S{i}" for i in range(501)]},
            [
                "skus: 501 SKUs; a hotfix takes at most 500 (larger change sets go through the catalog "
                "feed sync)"
            ],
        ),
        (
            {"action": "bogus"},
            ["action: must be one of price, quantity, patch, delete, put_from_catalog; got 'bogus'"],
        ),
        ({"preview": "yes"}, ["preview: must be true or false; got 'yes'"]),
        (
            {"product_type": "LUGGAGE BAGS"},
            [
                "product_type: 'LUGGAGE BAGS': Amazon's product types are in capitals; did you mean LUGGAGE_BAGS?"
            ],
        ),
        (
            {"product_type": "BAGS/CASES"},
            ["product_type: 'BAGS/CASES' is not a product type name (capitals, digits and _, e.g. LUGGAGE)"],
        ),
        (
            {"product_type": None},
            [
                "product_type: is required for 'price' (Amazon's patch names it) and the warehouse does not "
                "know 'HOT-1'; give it, e.g. LUGGAGE"
            ],
        ),
        ({"price": None}, ["price: is required for 'price' (greater than 0)"]),
        ({"price": 0}, ["price: 0 is not a price: Amazon takes a price greater than 0"]),
        ({"price": "12,50"}, ["price: '12,50' is not a number (decimals take a point: 12.50)"]),
        ({"price": 2_000_000}, ["price: 2000000 is above 1000000, the most this form takes (a typo?)"]),
        (
            {"currency": None},
            ["currency: is required with a price: USD, the currency of United States (ATVPDKIKX0DER)"],
        ),
        (
            {"currency": "EUR"},
            ["currency: EUR is not the currency of United States (ATVPDKIKX0DER), which prices in USD"],
        ),
        ({"currency": "US"}, ["currency: 'US' is not an ISO 4217 currency code such as USD"]),
        (
            {"marketplace_ids": [US, CA]},
            [
                "marketplace_ids: a price is in one currency, and these marketplaces price in 2: United States "
                "(ATVPDKIKX0DER) USD, Canada (A2EUQ1WTGCTBG2) CAD; change each currency's marketplaces in a "
                "run of its own"
            ],
        ),
        ({"minimum_price": 120}, ["minimum_price: 120 is above price (119.5)"]),
        ({"maximum_price": 100}, ["maximum_price: 100 is below price (119.5)"]),
        (
            {"minimum_price": 150, "maximum_price": 140, "price": 145},
            [
                "minimum_price: 150 is above price (145)",
                "minimum_price: 150 is above maximum_price (140)",
                "maximum_price: 140 is below price (145)",
            ],
        ),
        ({"sale_price": 99}, ["sale_price: a sale needs all of sale_price, sale_start and sale_end"]),
        (
            {"sale_price": 120, "sale_start": "2026-03-02", "sale_end": "2026-03-01"},
            [
                "sale_price: 120 must be below price (119.5)",
                "sale_end: 2026-03-01 is before sale_start (2026-03-02)",
            ],
        ),
        (
            {"action": "quantity", "price": None, "currency": None},
            ["quantity: is required for 'quantity' (0 or more units)"],
        ),
        (
            {"action": "quantity", "price": None, "currency": None, "quantity": -1, "handling_time": 31},
            ["quantity: must be from 0 to 100000000; got -1", "handling_time: must be from 1 to 30; got 31"],
        ),
        (
            {"action": "quantity", "quantity": 2.5},
            [
                "price: belongs to the 'price' action; clear it for 'quantity'",
                "currency: belongs to the 'price' action; clear it for 'quantity'",
                "quantity: must be a whole number; got 2.5",
            ],
        ),
        (
            {"action": "delete", "price": None, "currency": None},
            [
                "preview: is not available for 'delete' (Amazon's deleteListingsItem has no validation "
                "preview); switch preview off to delete"
            ],
        ),
    ],
)
def test_each_problem_has_its_exact_sentence(overrides: dict[str, Any], expected: list[str]) -> None:
    assert problems(**overrides) == expected


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        (
            '[{"op": "replace", "path": "/attributes/color/0", "value": [{"value": "Red"}]}]',
            "operation 1: path '/attributes/color/0' is not allowed; only top-level attributes can be "
            "patched, as '/attributes/<name>'",
        ),
        (
            '[{"op": "remove", "path": "/attributes/color"}]',
            "operation 1: op 'remove' is not one of add, replace, merge, delete (Amazon has no 'remove')",
        ),
        (
            '[{"op": "replace", "path": "/attributes/color", "value": "Red"}]',
            "operation 1: value of /attributes/color must be an array of objects, even for one value "
            '(e.g. [{"value": "Navy", "marketplace_id": "ATVPDKIKX0DER"}])',
        ),
        (
            '[{"op": "replace", "path": "/attributes/color"}]',
            "operation 1: patch op 'replace' on '/attributes/color' needs a 'value' (array of objects)",
        ),
        (
            "[{not json",
            "is not valid JSON (Expecting property name enclosed in double quotes at line 1, column 3)",
        ),
        (
            "[]",
            'must be a JSON list of patch operations, e.g. [{"op": "replace", "path": "/attributes/color", '
            '"value": [{"value": "Navy"}]}]',
        ),
    ],
)
def test_bad_patches_are_explained(patch: str, expected: str) -> None:
    assert problems(action="patch", price=None, currency=None, attribute_patch=patch) == [
        f"attribute_patch: {expected}"
    ]


def test_every_bad_patch_operation_is_reported() -> None:
    ops = [
        {"op": "remove", "path": "/attributes/a"},
        {"op": "replace", "path": "/attributes/b", "value": [{"value": 1}]},
        {"op": "add", "path": "/b", "value": [{"value": 1}], "extra": 1},
    ]
    assert problems(action="patch", price=None, currency=None, attribute_patch=json.dumps(ops)) == [
        "attribute_patch: operation 1: op 'remove' is not one of add, replace, merge, delete (Amazon has no "
        "'remove')",
        "attribute_patch: operation 3: path '/b' is not allowed; only top-level attributes can be patched, as "
        "'/attributes/<name>'",
    ]


def test_the_config_knows_the_sellers_and_their_marketplaces() -> None:
    delete = {"action": "delete", "price": None, "currency": None, "preview": False}
    assert problems(config=True, marketplace_ids=[US, "A1AM78C64UM0Y8"], **delete) == [
        "marketplace_ids: Mexico (A1AM78C64UM0Y8) is not a marketplace of seller A1SANDBOXNA0001 (its own: "
        "United States (ATVPDKIKX0DER), Canada (A2EUQ1WTGCTBG2))"
    ]


# --- SKUs --------------------------------------------------------------------------------------------


def test_each_bad_sku_is_reported_with_why() -> None:
    values = entries(
        "OK-1\n"
        "'quoted'\n"
        "“smart”\n"
        "two skus\n"
        "tab\there\n"
        "no\u00a0break\n"
        "zero\u200bwidth\n"
        "bell\u0007\n" + "L" * 40 + "\n" + "M" * 41 + "\n"
        "OK-1, ,OK-2\n"
        ";first, ,\n"
        "slash/ok\n"
    )
    assert values is not None
    good, found = check_skus(values)
    assert good == ["OK-1", "L" * 40, "OK-2", "first", "slash/ok"]
    assert [line(p) for p in found] == [
        "skus: \"'quoted'\" has quotes ('): paste SKUs without them",
        "skus: '“smart”' has quotes (“”): paste SKUs without them",
        "skus: 'two skus' has a space inside: if these are several SKUs, put each on its own line or "
        "separate them with commas",
        "skus: 'tab\\there' has a tab inside: if these are several SKUs, put each on its own line or "
        "separate them with commas",
        "skus: 'no\\xa0break' has a U+00A0 no-break space inside: if these are several SKUs, put each on its "
        "own line or separate them with commas",
        "skus: 'zero\\u200bwidth' has an invisible or control character (U+200B zero width space)",
        "skus: 'bell\\x07' has an invisible or control character (U+0007)",
        f"skus: '{'M' * 41}' is 41 characters long; Amazon takes at most 40",
        "skus: entry 12 is empty (after 'OK-1'): is a SKU missing there?",
    ]


def test_layout_is_not_a_mistake() -> None:
    assert entries("  A \n\n B,\r\n;C;D ;\n") == ["A", "B", "C", "D"]
    assert entries([" X ", "", None, "Y"]) == ["X", "Y"]  # Airflow's list field: one item per line
    assert entries(None) == []
    assert entries(5) is None
    assert check_skus(["A", "A", "B"]) == (["A", "B"], [])


def test_a_sku_the_warehouse_knows_passes_as_it_is() -> None:
    good, found = check_skus(["BAG 01", "BAG 02"], known={"BAG 01"})
    assert good == ["BAG 01"]
    assert [line(p) for p in found] == [
        "skus: 'BAG 02' has a space inside: if these are several SKUs, put each on its own line or separate "
        "them with commas"
    ]
    request = check_form(form(skus="BAG 01", product_type=None), known=(listing("BAG 01", "LUGGAGE"),))
    assert request.skus == ("BAG 01",)


# --- prices --------------------------------------------------------------------------------------------


def test_a_price_is_in_the_marketplaces_currency_and_its_coins() -> None:
    japan = {"seller_id": "A9JP", "marketplace_ids": [JP], "currency": "JPY"}
    assert problems(**japan, price=1500.5) == ["price: 1500.5 has 1 decimal place; JPY has no decimal places"]
    assert check_form(form(**japan, price=1500)).price == 1500
    assert str(check_form(form(price="19.90")).price) == "19.90"
    assert check_form(form(marketplace_ids=[CA], currency="CAD")).currency == "CAD"
    assert problems(currency="cad") == ["currency: 'cad' is not a currency code; did you mean CAD?"]


# --- product types from the warehouse -------------------------------------------------------------------


def test_the_warehouse_gives_known_skus_their_product_type() -> None:
    known = (listing("A", "LUGGAGE"), listing("B", "SHIRT"), listing("B", "SHIRT", CA), listing("C", None))
    request = check_form(form(skus="A,B", product_type=None), known=known)
    assert request.product_types == {"A": "LUGGAGE", "B": "SHIRT"}
    # a SKU the warehouse does not know (or knows without a product type) takes the form's
    request = check_form(form(skus="A,C,D", product_type="LUGGAGE"), known=known)
    assert request.product_types == {"A": "LUGGAGE", "C": "LUGGAGE", "D": "LUGGAGE"}


def test_a_product_type_that_contradicts_the_warehouse_is_a_problem() -> None:
    shirts = ("S1", "S2", "S3", "S4", "S5", "S6")
    known = (*(listing(sku, "SHIRT") for sku in shirts), listing("H1", "HEADPHONES"))
    assert problems(skus="S1,S2,S3,S4,S5,S6,H1,NEW", product_type="LUGGAGE", known=known) == [
        "product_type: LUGGAGE does not match the warehouse, which has 'S1', 'S2', 'S3', 'S4', 'S5' and 1 more "
        "as SHIRT (listings.product_type); leave the product type empty to use the warehouse's",
        "product_type: LUGGAGE does not match the warehouse, which has 'H1' as HEADPHONES "
        "(listings.product_type); leave the product type empty to use the warehouse's",
    ]
    assert problems(skus="S1,NEW", product_type=None, known=known) == [
        "product_type: is required for 'price' (Amazon's patch names it) and the warehouse does not know "
        "'NEW'; give it, e.g. LUGGAGE"
    ]
    # a delete needs no product type
    assert (
        check_form(
            form(skus="NEW", product_type=None, action="delete", price=None, currency=None, preview=False)
        ).product_types
        == {}
    )


# --- where the operator reads them ----------------------------------------------------------------------------


def test_the_note_is_markdown_within_airflows_limit() -> None:
    error = FormError(
        "hotfix", [problem("skus", "'A_1*' has quotes"), problem("", "connection 'x' field y: z")]
    )
    assert error.note() == (
        "Run outcome: the hotfix form has 2 problems; nothing was done.\n\n"
        "- skus: 'A\\_1\\*' has quotes\n"
        "- connection 'x' field y: z"
    )
    many = FormError("hotfix", [problem("skus", f"{i:03d} " + "x" * 90) for i in range(40)])
    note = many.note()
    assert len(note) <= NOTE_LIMIT
    shown = note.count("\n- ") - 1
    assert note.endswith(f"- … and {40 - shown} more: the failed task's log lists them all"), note
    assert str(many).count("\n- ") == 40  # the failure message has them all
    # a later try of the run replaces the note rather than adding to it
    assert merged_note("Triggered by Ann\n\n" + note, error.note()) == "Triggered by Ann\n\n" + error.note()


@pytest.mark.airflow
def test_refuse_leaves_the_note_and_fails_without_retry() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from listings_pipeline.run_notes import NOTE_KEY, refuse

    class TaskInstance:
        run_id = "manual__1"
        pushed: dict[str, Any] = {}

        def xcom_push(self, key: str, value: Any) -> None:
            self.pushed[key] = value

    ti = TaskInstance()
    error = FormError("hotfix", [problem("seller_id", "choose a seller"), problem("skus", "give one")])
    with pytest.raises(AirflowFailException) as info:
        try:
            raise error
        except FormError as err:  # as the DAG tasks call it
            refuse(ti, err)
    assert info.value.__suppress_context__  # the list once in the log, not again as the FormError's
    assert str(info.value) == (
        "The hotfix form has 2 problems; nothing was done:\n- seller_id: choose a seller\n- skus: give one"
    )
    assert ti.pushed == {NOTE_KEY: error.note()}


@pytest.mark.airflow
def test_refusing_refuses_a_form_error_and_fails_a_connection_error_without_retry() -> None:
    """The first task of every form DAG (``planning.targets.form_targets`` and the replay's select)."""
    from airflow.sdk.exceptions import AirflowFailException

    from listings_pipeline.connections import SpApiConnectionError
    from listings_pipeline.run_notes import NOTE_KEY, refusing
    from spapi.errors import ConnectionProblem

    class TaskInstance:
        run_id = "manual__1"

        def __init__(self) -> None:
            self.pushed: dict[str, Any] = {}

        def xcom_push(self, key: str, value: Any) -> None:
            self.pushed[key] = value

    ti = TaskInstance()
    assert refusing(ti, lambda: ["branch"]) == ["branch"] and ti.pushed == {}

    error = FormError("offers_inventory_sync", [problem("sellers", "no seller A9 in the config")])

    def bad_form() -> list[str]:
        raise error

    with pytest.raises(AirflowFailException) as info:
        refusing(ti, bad_form)
    assert str(info.value) == str(error) and info.value.__suppress_context__
    assert ti.pushed == {NOTE_KEY: error.note()}

    ti = TaskInstance()
    unusable = SpApiConnectionError([ConnectionProblem("spapi_a", "conn_id", "undefined")])

    def bad_connection() -> list[str]:
        raise unusable

    with pytest.raises(AirflowFailException) as info:
        refusing(ti, bad_connection)
    assert str(info.value) == str(unusable) and info.value.__suppress_context__
    assert ti.pushed == {}  # no form problem: the note is the outcome's, if any


# --- what the forms offer ----------------------------------------------------------------------------


def test_forms_offer_the_configured_sellers_and_marketplaces_by_name() -> None:
    choices = form_choices()
    assert choices.sellers == {
        "A1SANDBOXNA0001": "Demo Seller US/CA (A1SANDBOXNA0001)",
        "A3SANDBOXEU0003": "Demo Seller EU (A3SANDBOXEU0003)",
    }
    assert choices.marketplaces == {
        US: "United States (ATVPDKIKX0DER)",
        CA: "Canada (A2EUQ1WTGCTBG2)",
        DE: "Germany (A1PA6795UKMFR9)",
    }
    assert list(all_marketplaces().values())[:2] == ["Australia (A39IBJ37TRP1C6)", "Belgium (AMEN7PMS3EDWL)"]
    assert pick_one(choices.sellers)["enum"] == ["A1SANDBOXNA0001", "A3SANDBOXEU0003"]
    assert suggest(choices.sellers)["examples"] == ["A1SANDBOXNA0001", "A3SANDBOXEU0003"]
    assert pick_one({}) == suggest({}) == {}  # an empty picker would take nothing


def test_the_seller_questions_offer_the_choices_the_same_way() -> None:
    """One seller (drop-down or suggestions, required or not) and many sellers: the choices are
    offered by ``pick_one`` / ``suggest`` alone, and without choices every field takes any text."""
    sellers = {"A1": "One (A1)", "A2": "Two (A2)"}
    picked = seller_field(sellers, only_configured=True, section="Which")
    assert picked == {
        "default": None,
        "type": ["null", "string"],
        "title": "Seller",
        "section": "Which",
        "enum": ["A1", "A2"],
        "values_display": sellers,
    }
    required = seller_field(sellers, only_configured=False, required=True, title="Seller id")
    assert "default" not in required and required["type"] == "string" and required["minLength"] == 1
    assert required["examples"] == ["A1", "A2"] and "enum" not in required
    many = sellers_field(sellers, "sync")
    assert many["default"] == [] and many["examples"] == ["A1", "A2"] and many["values_display"] == sellers
    assert many["description_md"] == "Sellers to sync in this run; empty for all sellers in the config."
    for free in (
        seller_field({}, only_configured=True),
        seller_field({}, only_configured=False),
        sellers_field({}, "read"),
    ):
        assert not {"enum", "examples", "values_display"} & set(free)


def test_the_sku_and_marketplace_questions_take_what_the_checks_read() -> None:
    """The fields the hotfix, replay, drift and scaffold forms share (``skus_field``,
    ``marketplaces_field``): what Airflow's form lets through is what the runs' checks read, and
    what the form refuses (an empty required field, an unknown marketplace) never reaches them."""
    from airflow.sdk import Param
    from airflow.sdk.exceptions import ParamValidationError

    from listings_pipeline.to_amazon.replay import parse_request
    from spapi.regions import MARKETPLACES

    pasted = "HOT-1\nHOT-2, HOT-1"
    optional = skus_field(description_md="Any.", section="Which")
    assert (optional["title"], optional["format"], optional["section"]) == ("SKUs", "multiline", "Which")
    assert Param(**optional).resolve() is None  # empty: any SKU (replay) or the check's own message (drift)
    assert parse_request({"skus": Param(**optional).resolve(pasted)}).skus == ("HOT-1", "HOT-2")
    required = Param(**skus_field(description_md="Some.", required=True))
    for empty in (None, ""):
        with pytest.raises(ParamValidationError):
            required.resolve(empty)
    assert check_form(form(skus=required.resolve(pasted))).skus == ("HOT-1", "HOT-2")

    configured = form_choices().marketplaces
    question = marketplaces_field(configured, description_md="Where.")
    every = all_marketplaces()
    assert question["items"] == {"type": "string", "enum": list(every)} and set(every) == set(MARKETPLACES)
    assert question["values_display"] == every  # each id the form takes, labelled
    assert question["examples"] == list(configured)  # the configured ones suggested, in the config's order
    assert question["description_md"] == "Where." and "default" not in question
    marketplaces = Param(**question)
    taken = marketplaces.resolve([US, CA])
    restock = form(marketplace_ids=taken, action="quantity", quantity=3, price=None, currency=None)
    assert check_form(restock).marketplace_ids == (US, CA)  # one price's currency would refuse US with CA
    for refused in (None, [], ["NOPE"]):
        with pytest.raises(ParamValidationError):
            marketplaces.resolve(refused)


def test_an_unreadable_config_leaves_the_forms_free_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SPAPI_PIPELINE_CONFIG", str(tmp_path / "missing.yaml"))
    choices = form_choices()
    assert choices.sellers == {} and choices.marketplaces == all_marketplaces()
    assert "the forms offer no seller choice" in caplog.text


# --- the other forms ---------------------------------------------------------------------------------------


def test_the_replay_form_reports_every_problem_at_once() -> None:
    from listings_pipeline.to_amazon.replay import NO_FILTER, parse_request

    with pytest.raises(FormError) as info:
        parse_request({"skus": " \n ", "seller_id": "", "states": ["open", "lost"], "limit": 0})
    assert [line(p) for p in info.value.problems] == [
        NO_FILTER,
        "states: input should be 'open', 'replayed', 'resolved' or 'discarded'",
        "limit: input should be greater than or equal to 1",
    ]
    with pytest.raises(FormError) as info:
        parse_request({"created_after": "2026-03-02", "created_before": "2026-03-01"})
    assert [line(p) for p in info.value.problems] == [
        "created_before: 2026-03-01 must be after created_after (2026-03-02)"
    ]
    assert parse_request({"skus": "A, B\nA"}).skus == ("A", "B")


def test_a_narrowed_sync_names_known_sellers_and_good_skus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from listings_pipeline.planning.targets import targets
    from listings_pipeline.warehouse import db

    url = db.sqlite_url(tmp_path / "warehouse.db")
    db.upgrade(url)
    monkeypatch.setenv("SPAPI_WAREHOUSE_URL", url)
    config = tmp_path / "pipeline.yaml"
    raw = yaml.safe_load((Path(__file__).parents[2] / "include" / "pipeline.yaml").read_text())
    config.write_text(yaml.safe_dump({**raw, "var_dir": str(tmp_path / "var")}))
    with pytest.raises(FormError) as info:
        targets(str(config), ["A9NOBODY"], only_skus=["OK", "BAD SKU"], form="catalog_feed_sync")
    assert str(info.value) == "\n".join(
        [
            "The catalog_feed_sync form has 2 problems; nothing was done:",
            "- sellers: 'A9NOBODY' is not a seller of the pipeline config (its sellers: A1SANDBOXNA0001, "
            "A3SANDBOXEU0003)",
            "- skus: 'BAD SKU' has a space inside: if these are several SKUs, put each on its own line or "
            "separate them with commas",
        ]
    )
