"""A product type the pipeline has never seen, added to the sandbox, mapped from scratch by the scaffold.

The sandbox serves a new product type, BACKPACK (written here in Amazon's format; among its rules an
``allOf`` one: an expandable backpack needs its expanded capacity). The seller's catalog names its
columns in German and in abbreviations, with units in the names (``Titel``, ``Werkstoff``,
``Volumen_l``, ``qty``, ``Masse_cm``). The scaffold fetches the schema through the Product Type
Definitions API (cached by checksum), drafts the mapping and measures it; the TODOs the mapping
loader names are filled (and only those); the filled draft then passes the product type's schema
and every good row maps. Its coverage figure is what the pipeline's own validate and map tasks
give for the same draft and catalog (extract, split, check_chunk, join).
"""

from __future__ import annotations

import copy
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from listings_pipeline.catalog import chunks, steps
from listings_pipeline.catalog.mapping import (
    MappingError,
    check_against_product_type,
    load_mapping,
    parse_mapping,
)
from listings_pipeline.catalog.validation import load_policy
from listings_pipeline.scaffold.coverage import passing_rows
from listings_pipeline.scaffold.run import ScaffoldRequest, scaffold
from listings_pipeline.scaffold.sample import read_sample
from listings_pipeline.scaffold.schemas import schema_set
from listings_pipeline.warehouse import db
from listings_pipeline.warehouse.records import ensure_seller
from sandbox.settings import DEFAULT_PRODUCT_TYPES_DIR
from sandbox.testing import serve
from spapi.auth import clear_process_cache
from tests.fixtures.sandbox import SELLER, connection_json, sandbox_settings

REPO = Path(__file__).resolve().parents[2]
US, DE = "ATVPDKIKX0DER", "A1PA6795UKMFR9"
CONN = "spapi_scaffold"

#: LUGGAGE's attributes a backpack has no use for
_DROPPED = ("luggage_size", "number_of_wheels", "wheel_type", "item_dimensions", "lock_type")


def backpack_schema() -> dict[str, Any]:
    """LUGGAGE's schema made into BACKPACK: its luggage-only attributes and rules gone, capacity required."""
    schema = copy.deepcopy(json.loads((DEFAULT_PRODUCT_TYPES_DIR / "LUGGAGE.json").read_text()))
    schema["$id"] = schema["$id"].rsplit("/", 1)[0] + "/BACKPACK"
    schema["title"] = "Backpack"
    for name in _DROPPED:
        del schema["properties"][name]
    schema["required"] = sorted(
        {*(r for r in schema["required"] if r not in _DROPPED), "capacity", "product_description"}
    )
    schema["allOf"] = [
        rule for rule in schema["allOf"] if not set(json.dumps(rule).split('"')) & set(_DROPPED)
    ]
    for group in schema.get("x-property-groups", {}).values():
        group["propertyNames"] = [n for n in group["propertyNames"] if n not in _DROPPED]
    return schema


HEADER = [
    "sku", "marketplace_id", "product_type", "Titel", "Marke", "Beschreibung", "Farbe", "Werkstoff",
    "Volumen_l", "erweiterbar", "Volumen_erweitert_l", "Herkunftsland", "Preis", "Waehrung", "qty",
    "Bild_URL", "UPC", "EAN", "Gewicht", "Gewicht_Einheit", "Masse_cm",
]  # fmt: skip
_COLORS = {"BLK": "Black", "NVY": "Navy", "GRN": "Green", "RED": "Red"}
_MATERIALS = ("NYL", "PES", "CORD")  # CORD (Cordura) is in no code list: a TODO


def _upc(n: int) -> str:
    digits = f"08412{n:06d}"
    odd = sum(int(d) for d in digits[0::2])
    even = sum(int(d) for d in digits[1::2])
    return digits + str((10 - (odd * 3 + even) % 10) % 10)


def catalog_rows() -> list[dict[str, str]]:
    """Twelve backpacks for the US and Germany; two US rows bad on purpose (no title; an http image)."""
    rows = []
    for n in range(12):
        color, material = list(_COLORS)[n % 4], _MATERIALS[n % 3]
        expandable = n % 2 == 0
        sku = f"BP-{n:02d}-{color}"
        for mid in (US, DE):
            german = mid == DE
            rows.append(
                {
                    "sku": sku,
                    "marketplace_id": mid,
                    "product_type": "BACKPACK",
                    "Titel": (
                        f"Summit Daypack {n}, {_COLORS[color]}" if not german else f"Summit Tagesrucksack {n}"
                    ),
                    "Marke": "Summit Gear",
                    "Beschreibung": "A light daypack." if not german else "Ein leichter Tagesrucksack.",
                    "Farbe": color,
                    "Werkstoff": material,
                    "Volumen_l": str(20 + n),
                    "erweiterbar": "ja" if expandable else "nein",
                    "Volumen_erweitert_l": str(25 + n) if expandable else "",
                    "Herkunftsland": "VN",
                    "Preis": f"{49 + n}.99",
                    "Waehrung": "EUR" if german else "USD",
                    "qty": str(10 + n),
                    "Bild_URL": f"https://images.summit.example/{sku}.jpg",
                    "UPC": _upc(n),
                    "EAN": "0" + _upc(n),
                    "Gewicht": str(600 + 10 * n),
                    "Gewicht_Einheit": "G",
                    "Masse_cm": "50x30x20",
                }
            )
    rows[2]["Titel"] = ""  # (BP-01, US) a required column left empty: quarantined by the suite
    rows[6]["Bild_URL"] = rows[6]["Bild_URL"].replace("https:", "http:")  # (BP-03, US) the image rule
    return rows


#: what a person answers to each TODO the loader names (and nothing else may be TODO)
ANSWERS = {
    "attributes.item_type_keyword.value.const": "backpacks",
    "attributes.material.value.values.CORD": "Cordura Nylon",
}


def _fill(text: str, problems: list[Any]) -> str:
    """Each TODO the loader named, set at its key (a dotted path) to the answer for that key."""
    data = yaml.safe_load(text)
    for problem in problems:
        node = data
        *parents, last = problem.key.split(".")
        for part in parents:
            node = node[part]
        node[last] = ANSWERS[problem.key]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The sandbox with BACKPACK added, a pipeline config and the seller's catalog."""
    tmp = tmp_path_factory.mktemp("scaffold")
    types = tmp / "new_product_types"
    types.mkdir()
    (types / "BACKPACK.json").write_text(json.dumps(backpack_schema(), indent=1))
    catalog = tmp / "catalog.csv"
    with catalog.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, HEADER)
        writer.writeheader()
        writer.writerows(catalog_rows())
    settings = sandbox_settings(tmp, product_types_dirs=(DEFAULT_PRODUCT_TYPES_DIR, types))
    clear_process_cache()
    with pytest.MonkeyPatch.context() as mp, serve(settings) as sandbox_url:
        mp.setenv(f"AIRFLOW_CONN_{CONN.upper()}", connection_json(sandbox_url))
        mp.delenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", raising=False)
        raw = yaml.safe_load((REPO / "include" / "pipeline.yaml").read_text())
        mappings = tmp / "mappings"
        mappings.mkdir()
        raw.update(
            var_dir=str(tmp / "var"),
            mappings_dir=str(mappings),
            # the pipeline must get BACKPACK from the API: the shipped folder does not have it
            product_types_dir=str(REPO / "include" / "product_types"),
            content_policy=str(REPO / "include" / "content_policy.yaml"),
            max_failing_share=1.0,
            sellers=[
                {
                    "seller_id": SELLER,
                    "spapi_conn_id": CONN,
                    "region": "na",
                    "marketplaces": [US],
                    "catalog": str(catalog),
                },
                {  # the German rows are this seller's: the US branch skips them
                    "seller_id": "A3SANDBOXEU0003",
                    "spapi_conn_id": "spapi_scaffold_eu",
                    "region": "eu",
                    "marketplaces": [DE],
                    "catalog": str(catalog),
                },
            ],
        )
        config = tmp / "pipeline.yaml"
        config.write_text(yaml.safe_dump(raw))
        yield {"tmp": tmp, "catalog": catalog, "config": config, "mappings": mappings}
    clear_process_cache()


@pytest.fixture(scope="module")
def drafted(world: dict[str, Path]) -> Any:
    """The scaffold run for BACKPACK in the US and Germany, the schema fetched from the sandbox."""
    return scaffold(
        ScaffoldRequest(
            product_type="backpack",
            marketplaces=(US, DE),
            catalog=str(world["catalog"]),
            out_dir=world["tmp"] / "drafts",
            config_path=str(world["config"]),
            conn_id=CONN,
        )
    )


def _refused(path: Path) -> list[Any]:
    with pytest.raises(MappingError) as refused:
        load_mapping(path)
    return refused.value.problems


def _measure(world: dict[str, Path], mapping: Any, marketplaces: tuple[str, ...]) -> list[Any]:
    cache = world["tmp"] / "var" / "product_types"
    sets = {mid: schema_set(cache, mid, REPO / "include" / "product_types") for mid in marketplaces}
    sample = read_sample(
        world["catalog"], "BACKPACK", marketplaces, world["tmp"] / f"sample-{len(marketplaces)}"
    )
    return passing_rows(
        mapping, sample, load_policy(REPO / "include" / "content_policy.yaml"), sets.__getitem__
    )


def test_a_new_product_type_is_drafted_and_passes_once_its_todos_are_filled(
    world: dict[str, Path], drafted: Any
) -> None:
    files = drafted
    out = world["tmp"] / "drafts"
    # fetched through the Product Type Definitions API and kept by checksum
    cache = world["tmp"] / "var" / "product_types"
    assert (cache / US / "BACKPACK.json").exists() and (cache / DE / "BACKPACK.json").exists()
    assert list((cache / US / "by-checksum").glob("BACKPACK-*.json"))
    assert files.draft == out / "BACKPACK.yaml" and files.report == out / "BACKPACK.coverage.txt"
    assert files.report.read_text() == files.result.report.text()
    figures = json.loads(files.report.with_suffix(".json").read_text())
    assert figures["product_type"] == "BACKPACK" and figures["todos"] == len(ANSWERS)
    # item_type_keyword is TODO and required: no row can pass yet
    assert figures["passing_share"] == 0.0 and [s["rows"] for s in figures["shares"]] == [12, 12]

    draft = {a.name: a for a in files.result.draft.attributes}
    expected = {
        "item_name": ["Titel"],
        "brand": ["Marke"],
        "product_description": ["Beschreibung"],
        "color": ["Farbe"],
        "material": ["Werkstoff"],
        "capacity": ["Volumen_l"],
        "is_expandable": ["erweiterbar"],
        "expanded_capacity": ["Volumen_erweitert_l"],
        "country_of_origin": ["Herkunftsland"],
        "purchasable_offer": ["Waehrung", "Preis"],
        "fulfillment_availability": ["qty"],
        "main_product_image_locator": ["Bild_URL"],
        "externally_assigned_product_identifier": ["UPC"],
        "item_package_weight": ["Gewicht", "Gewicht_Einheit"],
        "item_package_dimensions": ["Masse_cm"],
    }
    for name, columns in expected.items():
        assert name in draft, name
        assert sorted(draft[name].columns()) == sorted(columns), name
    # required by allOf for the sample's values: an offer needs stock and a condition, an
    # expandable backpack its expanded capacity
    assert "allOf" in draft["expanded_capacity"].why and draft["expanded_capacity"].required
    assert draft["condition_type"].status == "defaulted"
    germany = next(m for m in files.result.draft.marketplaces if m.marketplace_id == DE)
    assert sorted(germany.attributes["externally_assigned_product_identifier"].columns()) == ["EAN"]
    assert germany.enums["Farbe"]["BLK"] == "Schwarz"

    # the draft is refused by the loader, which names exactly the TODOs; filled, it loads
    problems = _refused(files.draft)
    assert sorted(p.key for p in problems) == sorted(ANSWERS)
    mapping = parse_mapping(
        _fill(files.draft.read_text(), problems), "BACKPACK.yaml", expected_product_type="BACKPACK"
    )
    schema = json.loads((cache / US / "BACKPACK.json").read_text())
    assert check_against_product_type(mapping, schema) == []
    # every row but the two bad ones (both American) passes validate and map
    shares = _measure(world, mapping, (US, DE))
    assert [(s.marketplace_id, s.rows, s.passing) for s in shares] == [(US, 12, 10), (DE, 12, 12)]


def test_the_coverage_figure_is_what_the_pipeline_gives(
    world: dict[str, Path], drafted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report's own figure (the draft as written, TODOs left out) and the filled draft's, each
    against extract, split, check_chunk and join of the US branch: the rows that pass are the
    messages the pipeline writes."""
    report = {s.marketplace_id: s for s in drafted.result.report.shares}
    filled = _fill(drafted.draft.read_text(), _refused(drafted.draft))
    (filled_us,) = _measure(world, parse_mapping(filled, "BACKPACK.yaml"), (US,))
    assert filled_us.passing == 10
    for label, text, share in (
        ("runnable", drafted.result.runnable_text, report[US]),
        ("filled", filled, filled_us),
    ):
        run = world["tmp"] / f"pipeline-{label}"
        run.mkdir()
        (world["mappings"] / "BACKPACK.yaml").write_text(text)
        url = db.sqlite_url(run / "warehouse.db")
        db.upgrade(url)
        engine = db.make_engine(url)
        with db.session_scope(engine) as session:
            ensure_seller(session, SELLER, region="na", spapi_conn_id=CONN)
        engine.dispose()
        monkeypatch.setenv("SPAPI_WAREHOUSE_URL", url)
        branch: Any = {
            "seller_id": SELLER,
            "marketplace_id": US,
            "spapi_conn_id": CONN,
            "region": "na",
            "config_path": str(world["config"]),
            "claims_defects": True,
            "confirm_deletes": False,
        }
        joined = chunks.validate_and_map(steps.extract(branch, f"manual__scaffold_{label}"))
        assert (joined["extracted"], joined["messages"]) == (share.rows, share.passing), label


def test_the_dag_task_writes_the_draft_and_report_as_run_artifacts(world: dict[str, Path]) -> None:
    """The mapping_scaffold DAG's one task, as its form fills it: the seller's connection and catalog."""
    from listings_pipeline.run_files import safe_part
    from listings_pipeline.scaffold.task import draft_from_form

    params = {
        "product_type": "BACKPACK",
        "marketplace_ids": [US],
        "seller_id": None,
        "catalog": None,
        "sample_rows": 2000,
        "config_path": str(world["config"]),
    }
    run_id = "manual__2026-12-03T06:00:00+00:00"
    artifacts = draft_from_form(params, run_id)
    folder = world["tmp"] / "var" / "runs" / safe_part(run_id) / "scaffold"
    assert Path(artifacts["draft"]).parent == Path(artifacts["report"]).parent == folder
    assert Path(artifacts["draft"]).name == "BACKPACK.yaml" and Path(artifacts["draft"]).exists()
    assert Path(artifacts["report"]).read_text().startswith("Coverage of the draft mapping for BACKPACK")
    assert artifacts["todos"] == 2 and artifacts["missing"] == 2 and artifacts["passing_share"] == 0.0
    with pytest.raises(ValueError, match="at least one marketplace"):
        draft_from_form({**params, "marketplace_ids": []}, "manual__x")
