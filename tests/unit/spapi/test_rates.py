"""``spapi.rates`` against Amazon's own sources, re-derived from include/spapi-models.

Two sources state each operation's limit and they disagree for a few (docs/spapi-facts.md §1): the
model's operation description (a markdown table) and the SDK's ``rate-limits.yml``. Our table must
hold the lower rate and the lower burst of the two, so that a model update that tightens a limit
fails here instead of turning into 429s in production.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import yaml

from spapi.rates import FEED_TYPE_LIMITS, OPERATION_LIMITS, UNLIMITED, Limit, limit_for

# "| Rate (requests per second) | Burst |" with an optional leading "Usage Plan" column, as in the
# Product Type Definitions model ("|Default| 5 | 10 |").
_HEADER = re.compile(r"^\|(?P<cells>.*Rate \(requests per second\).*Burst.*)\|\s*$", re.MULTILINE)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def limit_from_description(description: str) -> Limit | None:
    """The first numeric row of the rate table in an operation's description."""
    match = _HEADER.search(description)
    if match is None:
        return None
    header = _cells(match.group(0))
    rate_col = next(i for i, c in enumerate(header) if c.startswith("Rate"))
    burst_col = next(i for i, c in enumerate(header) if c.startswith("Burst"))
    for line in description[match.end() :].lstrip("\n").splitlines():
        if not line.startswith("|"):
            break
        row = _cells(line)
        try:
            return Limit(float(row[rate_col]), int(row[burst_col]))
        except (ValueError, IndexError):
            continue  # the "| ---- | ---- |" separator, or a "Variable" row
    return None


def load_model_limits(models_dir: Path) -> dict[str, list[tuple[str, Limit]]]:
    """operationId -> [(model file, limit)] over every model; a list, to catch duplicates."""
    found: dict[str, list[tuple[str, Limit]]] = {}
    for path in sorted((models_dir / "models").glob("*/*.json")):
        model = json.loads(path.read_text())
        for item in model.get("paths", {}).values():
            for operation in item.values():
                if not isinstance(operation, dict) or "operationId" not in operation:
                    continue
                limit = limit_from_description(operation.get("description", ""))
                if limit is not None:
                    found.setdefault(operation["operationId"], []).append((path.name, limit))
    return found


def load_sdk_limits(models_dir: Path) -> dict[str, list[tuple[str, Limit]]]:
    """operationId -> [(yml key, limit)]; ``[amount, burst, interval]`` means amount per interval s."""
    raw = yaml.safe_load((models_dir / "rate-limits.yml").read_text())
    found: dict[str, list[tuple[str, Limit]]] = {}
    for name, values in raw.items():
        amount, burst, *interval = values
        rate = amount / interval[0] if interval else float(amount)
        found.setdefault(name.split("-", 1)[1], []).append((name, Limit(rate, int(burst))))
    return found


@pytest.fixture(scope="module")
def model_limits(models_dir: Path) -> dict[str, list[tuple[str, Limit]]]:
    return load_model_limits(models_dir)


@pytest.fixture(scope="module")
def sdk_limits(models_dir: Path) -> dict[str, list[tuple[str, Limit]]]:
    return load_sdk_limits(models_dir)


@pytest.mark.parametrize("operation", sorted(OPERATION_LIMITS))
def test_operation_limit_is_the_lower_of_amazons_two_sources(
    operation: str,
    model_limits: dict[str, list[tuple[str, Limit]]],
    sdk_limits: dict[str, list[tuple[str, Limit]]],
) -> None:
    in_model = model_limits.get(operation, [])
    in_sdk = sdk_limits.get(operation, [])
    assert len(in_model) == 1, f"{operation}: expected one model with a rate table, found {in_model}"
    assert len(in_sdk) == 1, f"{operation}: expected one rate-limits.yml entry, found {in_sdk}"
    (_, model), (_, sdk) = in_model[0], in_sdk[0]
    ours = OPERATION_LIMITS[operation]
    expected_rate = min(model.rate, sdk.rate)
    assert math.isclose(ours.rate, expected_rate, rel_tol=1e-3), (operation, ours, model, sdk)
    assert ours.burst == min(model.burst, sdk.burst), (operation, ours, model, sdk)


def test_the_sources_disagree_where_the_facts_say(
    model_limits: dict[str, list[tuple[str, Limit]]],
    sdk_limits: dict[str, list[tuple[str, Limit]]],
) -> None:
    """docs/spapi-facts.md §1: burst 10 in the model vs 5 in the SDK. If this changes, re-read both."""
    disagree = {op for op in OPERATION_LIMITS if model_limits[op][0][1].burst != sdk_limits[op][0][1].burst}
    assert disagree == {
        "getListingsItem",
        "putListingsItem",
        "searchDefinitionsProductTypes",
        "getDefinitionsProductType",
    }


def test_description_parser() -> None:
    two_col = (
        "Rate limits:\n\n| Rate (requests per second) | Burst |\n| ---- | ---- |\n| 0.0222 | 10 |\n\nMore."
    )
    assert limit_from_description(two_col) == Limit(0.0222, 10)
    three_col = (
        "| Usage Plan | Rate (requests per second) | Burst |\n| ---- | ---- | ---- |\n"
        "|Default| 5 | 10 |\n|Selling partner specific| Variable | Variable |\n"
    )
    assert limit_from_description(three_col) == Limit(5.0, 10)
    assert limit_from_description("no table here") is None


def test_feed_type_limit_and_unlimited() -> None:
    # 5 JSON_LISTINGS_FEED submissions per 5 minutes per region (changelog 2025-05-06; not in the models).
    assert FEED_TYPE_LIMITS["JSON_LISTINGS_FEED"] == Limit(5 / 300, 5)
    assert limit_for("getFeed") == OPERATION_LIMITS["getFeed"]
    assert limit_for("uploadToPresignedUrl") is UNLIMITED
