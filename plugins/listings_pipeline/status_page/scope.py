"""The page-wide filter: one seller, one marketplace, or both, applied to every section alike.

A section that forgot the filter would show another seller's rows under a heading that says it
shows one; so every query takes the same :class:`Scope` and asks it for its conditions, rather than
each reading ``seller_id`` and ``marketplace_id`` its own way.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, String, cast

# Amazon's marketplace ids are upper-case letters and digits; the pattern also keeps the id safe to
# look for inside a JSON list's text (see Scope.on_listed).
MARKETPLACE_ID = r"[A-Z0-9]{1,32}"


class Scope(BaseModel):
    """Whose rows the page shows: ``None`` is every seller (or marketplace)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seller_id: Annotated[str | None, Field(max_length=64)] = None
    marketplace_id: Annotated[str | None, Field(pattern=f"^{MARKETPLACE_ID}$")] = None

    @property
    def narrowed(self) -> bool:
        return self.seller_id is not None or self.marketplace_id is not None

    def on(self, seller: Any, marketplace: Any) -> list[ColumnElement[bool]]:
        """Conditions for a table with a seller and a marketplace column."""
        conditions = self._seller(seller)
        if self.marketplace_id is not None:
            conditions.append(marketplace == self.marketplace_id)
        return conditions

    def on_listed(self, seller: Any, marketplaces: Any) -> list[ColumnElement[bool]]:
        """Conditions for a table whose marketplaces are a JSON list (a feed's ``marketplace_ids``).

        JSON containment is spelt differently by SQLite and PostgreSQL; the list's text holds the
        id in double quotes on both, and an id is letters and digits only, so matching ``"<id>"``
        in the text finds exactly the lists that hold it.
        """
        conditions = self._seller(seller)
        if self.marketplace_id is not None:
            conditions.append(
                cast(marketplaces, String).contains(f'"{self.marketplace_id}"', autoescape=True)
            )
        return conditions

    def _seller(self, seller: Any) -> list[ColumnElement[bool]]:
        return [seller == self.seller_id] if self.seller_id is not None else []


EVERYWHERE = Scope()
