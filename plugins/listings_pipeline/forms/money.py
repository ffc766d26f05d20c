"""Prices in a form: in the marketplace's own currency, above 0, no finer than that currency's coins.

Amazon's rule is the one its product type schema states for ``purchasable_offer.our_price``'s
``value_with_tax``: "A price greater than 0" (include/spapi-models/schemas/definitions/Product.json,
its ``$comment``); the schema sets no maximum and no step. The step is the currency's minor unit
(ISO 4217, ``spapi.regions.CURRENCY_DECIMALS``): 0.01 USD, 1 JPY. The upper bound is ours, against
a price typed with a few zeros too many. A currency is never re-cased: ``usd`` is pointed out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from listings_pipeline.forms.problems import FormProblem, problem
from spapi.regions import CURRENCY_DECIMALS, MARKETPLACE_CURRENCIES, MARKETPLACES, marketplace_name

MAX_PRICE = Decimal(1_000_000)


def marketplace_currencies(marketplace_ids: Sequence[str]) -> dict[str, str]:
    """Each known marketplace's currency, in the form's order."""
    return {m: MARKETPLACE_CURRENCIES[m] for m in marketplace_ids if m in MARKETPLACES}


def check_currency(
    given: str | None, marketplace_ids: Sequence[str], *, field: str = "currency"
) -> tuple[str | None, list[FormProblem]]:
    """The currency the form's amounts are checked in (the marketplaces' own, whatever ``given``
    says), and what is wrong with ``given``: it must be that currency, and there must be one."""
    by_marketplace = marketplace_currencies(marketplace_ids)
    expected = list(dict.fromkeys(by_marketplace.values()))
    problems = []
    if len(expected) > 1:
        listed = ", ".join(f"{marketplace_name(m)} {c}" for m, c in by_marketplace.items())
        problems.append(
            problem(
                "marketplace_ids",
                f"a price is in one currency, and these marketplaces price in {len(expected)}: {listed}; "
                "change each currency's marketplaces in a run of its own",
            )
        )
    own = expected[0] if len(expected) == 1 else None
    names = ", ".join(marketplace_name(m) for m in by_marketplace)
    if given is None:
        wanted = f": {own}, the currency of {names}" if own else " (ISO 4217, e.g. USD)"
        problems.append(problem(field, f"is required with a price{wanted}"))
        return own, problems
    if not re.fullmatch(r"[A-Z]{3}", given):
        if given.upper() in CURRENCY_DECIMALS:
            problems.append(
                problem(field, f"{given!r} is not a currency code; did you mean {given.upper()}?")
            )
        else:
            problems.append(problem(field, f"{given!r} is not an ISO 4217 currency code such as USD"))
        return own, problems
    if own and given != own:
        problems.append(problem(field, f"{given} is not the currency of {names}, which prices in {own}"))
        return own, problems
    if given not in CURRENCY_DECIMALS:
        problems.append(problem(field, f"{given} is not the currency of any Amazon marketplace"))
        return None, problems
    return given, problems


def check_amount(field: str, amount: Decimal, currency: str | None) -> list[FormProblem]:
    """``amount`` as a price in ``currency`` (``None`` when the currency is itself wrong: then only
    the sign and size are checked)."""
    if amount <= 0:
        return [problem(field, f"{amount} is not a price: Amazon takes a price greater than 0")]
    if amount > MAX_PRICE:
        return [problem(field, f"{amount} is above {MAX_PRICE}, the most this form takes (a typo?)")]
    if currency is None:
        return []
    exponent = amount.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    allowed = CURRENCY_DECIMALS[currency]
    if places > allowed:
        return [problem(field, f"{amount} has {_places(places)}; {currency} has {_places(allowed)}")]
    return []


def _places(count: int) -> str:
    return "no decimal places" if not count else f"{count} decimal place{'' if count == 1 else 's'}"
