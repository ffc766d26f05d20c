"""Shared helpers for the benchmarks: deterministic test data, and running a variant in a fresh
subprocess so that each variant's peak RSS is its own."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MARKETPLACES = ("ATVPDKIKX0DER", "A2EUQ1WTGCTBG2")  # US, CA
LANGUAGES = {"ATVPDKIKX0DER": "en_US", "A2EUQ1WTGCTBG2": "en_CA"}
PRODUCT_TYPES = ("LUGGAGE", "SHOES", "KITCHEN")
COLOURS = ("black", "navy", "red", "green", "silver", "white", "charcoal", "teal", "olive", "sand")
MATERIALS = ("polycarbonate", "nylon", "leather", "stainless steel", "cotton", "aluminium", "ABS", "canvas")
WORDS = (
    "durable",
    "lightweight",
    "premium",
    "classic",
    "compact",
    "travel",
    "everyday",
    "water-resistant",
    "ergonomic",
    "modern",
    "spacious",
    "reinforced",
    "quiet",
    "smooth",
    "foldable",
    "expandable",
    "breathable",
    "non-slip",
    "dishwasher-safe",
)
PER_TYPE = {
    "LUGGAGE": ("number_of_wheels", lambda r: [{"value": r.choice((2, 4, 8))}]),
    "SHOES": (
        "footwear_size",
        lambda r: [{"size": str(r.randint(5, 13)), "size_system": "us_footwear_size_system"}],
    ),
    "KITCHEN": ("capacity", lambda r: [{"unit": "liters", "value": round(r.uniform(0.2, 6), 1)}]),
}


def _localised(rng: random.Random, value: Any, marketplaces: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"value": value, "language_tag": LANGUAGES[m], "marketplace_id": m} for m in marketplaces]


def _attribute_pool(
    rng: random.Random, product_type: str, size: int = 64
) -> list[dict[str, list[dict[str, Any]]]]:
    """Pre-built attribute blocks per product type: the rows reuse these objects (so generating a
    row is cheap) but the builder still serialises and validates every value of every row."""
    extra_name, extra = PER_TYPE[product_type]
    pool = []
    for _ in range(size):
        mps = MARKETPLACES if rng.random() < 0.5 else MARKETPLACES[:1]
        words = rng.sample(WORDS, 6)
        pool.append(
            {
                "brand": _localised(rng, f"Brand{rng.randint(1, 40)}", mps),
                "bullet_point": [
                    b
                    for _ in range(rng.randint(3, 5))
                    for b in _localised(rng, " ".join(rng.sample(WORDS, 7)).capitalize() + ".", mps)
                ],
                "product_description": _localised(rng, " ".join(words * 3).capitalize() + ".", mps),
                "color": _localised(rng, rng.choice(COLOURS), mps),
                "material": _localised(rng, rng.choice(MATERIALS), mps),
                "condition_type": [{"value": "new_new", "marketplace_id": m} for m in mps],
                "country_of_origin": [
                    {"value": rng.choice(("CN", "VN", "US", "DE", "IN")), "marketplace_id": m} for m in mps
                ],
                "item_weight": [
                    {"unit": "kilograms", "value": round(rng.uniform(0.1, 9), 2), "marketplace_id": m}
                    for m in mps
                ],
                "supplier_declared_dg_hz_regulation": [
                    {"value": "not_applicable", "marketplace_id": m} for m in mps
                ],
                "batteries_required": [{"value": False, "marketplace_id": m} for m in mps],
                extra_name: [dict(v, marketplace_id=m) for v in extra(rng) for m in mps],
            }
        )
    return pool


def generate_rows(count: int, seed: int = 20260807) -> Iterator[dict[str, Any]]:
    """``count`` feed messages (dicts, Amazon's camelCase), deterministic for a seed.

    3 product types, 12-14 attributes each with ``marketplace_id``/``language_tag`` selectors;
    about 85% UPDATE, 8% PARTIAL_UPDATE, 5% PATCH, 2% DELETE. ~1.5-2.5 KB per message serialised.
    """
    rng = random.Random(seed)
    pools = {pt: _attribute_pool(rng, pt) for pt in PRODUCT_TYPES}
    for i in range(count):
        product_type = PRODUCT_TYPES[i % 3]
        sku = f"{product_type[:3]}-{i:08d}-{rng.randrange(36**4):04x}"
        roll = rng.random()
        price = round(rng.uniform(5, 500), 2)
        quantity = rng.randint(0, 250)
        if roll < 0.02:
            yield {"sku": sku, "operationType": "DELETE"}
            continue
        if roll < 0.07:
            yield {
                "sku": sku,
                "operationType": "PATCH",
                "productType": product_type,
                "patches": [
                    {
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability",
                        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
                    },
                    {
                        "op": "replace",
                        "path": "/attributes/purchasable_offer",
                        "value": [
                            {
                                "currency": "USD",
                                "marketplace_id": MARKETPLACES[0],
                                "our_price": [{"schedule": [{"value_with_tax": price}]}],
                            }
                        ],
                    },
                ],
            }
            continue
        offer = {
            "purchasable_offer": [
                {
                    "currency": "USD",
                    "marketplace_id": MARKETPLACES[0],
                    "our_price": [{"schedule": [{"value_with_tax": price}]}],
                }
            ],
            "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
        }
        if roll < 0.15:
            yield {
                "sku": sku,
                "operationType": "PARTIAL_UPDATE",
                "productType": product_type,
                "attributes": offer,
            }
            continue
        attributes = dict(rng.choice(pools[product_type]))
        attributes["item_name"] = [
            {
                "value": f"{attributes['brand'][0]['value']} {product_type.title()} {i} "
                f"{attributes['color'][0]['value']}",
                "language_tag": "en_US",
                "marketplace_id": MARKETPLACES[0],
            }
        ]
        attributes["externally_assigned_product_identifier"] = [
            {"type": "ean", "value": f"{4000000000000 + i:013d}", "marketplace_id": MARKETPLACES[0]}
        ]
        attributes.update(offer)
        yield {
            "sku": sku,
            "operationType": "UPDATE",
            "productType": product_type,
            "requirements": "LISTING",
            "attributes": attributes,
        }


# --- running variants in fresh processes --------------------------------------------------------


@dataclass
class Measured:
    variant: str
    result: dict[str, Any]
    wall_s: float
    peak_rss_bytes: int

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_bytes / (1024 * 1024)


def run_variant(module: str, variant: str, args: list[str], env: dict[str, str] | None = None) -> Measured:
    """Run ``python -m <module> --worker <variant> <args>`` and measure its own peak RSS.

    ``os.wait4`` gives the rusage of exactly that child (``RUSAGE_CHILDREN`` would be the largest
    of all children so far); ``ru_maxrss`` is in KiB on Linux. The worker prints one JSON line.
    """
    command = [sys.executable, "-m", module, "--worker", variant, *args]
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, env={**os.environ, **(env or {})}, text=True
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed with exit code {proc.returncode}")
    lines = [line for line in output.splitlines() if line.startswith("{")]
    return Measured(variant, json.loads(lines[-1]), wall, usage.ru_maxrss * 1024)


def vm_hwm_bytes() -> int:
    """This process's peak RSS so far (``VmHWM``), for the worker's own report."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"
