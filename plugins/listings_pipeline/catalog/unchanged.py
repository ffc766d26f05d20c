"""Catalog rows that need no checking: their source is unchanged since Amazon accepted what it made.

An incremental run of a large catalog changes a few rows, yet validating and mapping cost the same
for every row. A row may skip both when everything that decided its payload is what it was when
Amazon accepted that payload: the row's own cells, and the recipe (the mappings, the content policy,
the product type schemas and the code of the catalog stages). Then checking it again can only give
the same answer, and plan would find the same payload and send nothing.

The row's key is the recipe's digest followed by a 64-bit hash of its cells (pandas' vectorised
``hash_pandas_object``, over the columns in name order; where the row sits in the file is not part
of it). ``listings.source_hash`` holds the key of the row behind the listing's payload; it is set by
plan and cleared by any payload that did not come from a catalog row (``warehouse.lifecycle``). A
row is skipped only when its listing is ``accepted`` or ``live`` with that payload, its key matches,
and its SKU is on no other row of the snapshot (duplicates are judged together, every time).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from listings_pipeline.config import PipelineConfig
from listings_pipeline.warehouse.db import session_scope, string_columns
from listings_pipeline.warehouse.models import Listing, ListingStatus

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]
    import pyarrow as pa  # type: ignore[import-untyped]
    from sqlalchemy import Engine

#: The code whose behaviour decides a payload: any edit to it makes every row a new row.
_STAGES = Path(__file__).resolve().parent
_POSITION_COLUMNS = ("_source_row", "_source_file", "_source_line")


def recipe_digest(config: PipelineConfig, marketplace_id: str) -> str:
    """What turns a row into a payload, as one digest: a change to any of it re-checks every row."""
    import pandas as pd

    digest = hashlib.sha256(f"pandas {pd.__version__}\n".encode())
    sources: list[Path] = sorted(_STAGES.rglob("*.py"))
    sources += sorted(Path(config.mappings_dir).glob("*.yaml"))
    sources.append(Path(config.content_policy))
    for schemas in (config.var_dir / "product_types" / marketplace_id, Path(config.product_types_dir)):
        sources += sorted(schemas.glob("*.json")) if schemas.is_dir() else []
    for path in sources:
        digest.update(f"{path.name}\n".encode())
        digest.update(path.read_bytes() if path.is_file() else b"(missing)")
    return digest.hexdigest()[:32]


def row_keys(frame: pd.DataFrame, recipe: str) -> pd.Series:
    """Each row's key (see the module docstring), vectorised."""
    import pandas as pd
    import pyarrow as pa

    cells = frame[sorted(c for c in frame.columns if c not in _POSITION_COLUMNS)]
    hashes = pd.util.hash_pandas_object(cells, index=False).to_numpy()
    keys = _hex_keys(recipe, hashes)
    return pd.Series(keys, index=frame.index, dtype=pd.ArrowDtype(pa.string()))


def _hex_keys(recipe: str, hashes: Any, rows_per_array: int = 1_000_000) -> Any:
    """``recipe`` followed by each 64-bit hash in 16 lower-case hex digits, as Arrow strings built from
    NumPy bytes: a million Python f-strings were 0.8 s of a split, this is a tenth of that (and a
    million keys as Python objects would be a hundred MiB)."""
    import numpy as np
    import pyarrow as pa

    prefix = np.frombuffer(recipe.encode("ascii"), dtype=np.uint8)
    width = len(prefix) + 16
    arrays = []
    for start in range(0, len(hashes), rows_per_array):  # int32 offsets: bounded arrays
        part = np.asarray(hashes[start : start + rows_per_array], dtype=np.uint64)
        n = len(part)
        digits = np.frombuffer(part.astype(">u8").tobytes().hex().encode("ascii"), dtype=np.uint8)
        data = np.concatenate([np.broadcast_to(prefix, (n, len(prefix))), digits.reshape(n, 16)], axis=1)
        offsets = np.arange(n + 1, dtype=np.int32) * width
        buffers = [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data))]
        arrays.append(pa.Array.from_buffers(pa.string(), n, buffers))
    return pa.chunked_array(arrays, type=pa.string())


def sku_text(frame: pd.DataFrame) -> pd.Series:
    """The SKU as validation reads it (trimmed; empty for a missing one)."""
    import pandas as pd
    import pyarrow as pa

    return frame["sku"].astype(pd.ArrowDtype(pa.string())).str.strip().fillna("")


def accepted_keys(engine: Engine, seller_id: str, marketplace_id: str) -> pa.Table:
    """The key of the row behind each listing Amazon holds exactly as we last made it: a table of
    ``sku`` and ``key``, Arrow strings read 50,000 at a time through the driver's cursor (a branch
    may hold a million, and a pandas index of them would make a Python string of each)."""
    import pyarrow as pa

    skus: list[Any] = []
    keys: list[Any] = []
    with session_scope(engine) as session:
        accepted = select(Listing.sku, Listing.source_hash).where(
            Listing.seller_id == seller_id,
            Listing.marketplace_id == marketplace_id,
            Listing.status.in_((ListingStatus.ACCEPTED.value, ListingStatus.LIVE.value)),
            Listing.accepted_hash == Listing.payload_hash,
            Listing.source_hash.is_not(None),
        )
        for sku, key in string_columns(session.connection(), accepted):
            skus.append(sku)
            keys.append(key)
    return pa.table(
        {
            "sku": pa.chunked_array(skus, type=pa.string()),
            "key": pa.chunked_array(keys, type=pa.string()),
        }
    )


def unchanged_rows(skus: pd.Series, keys: pd.Series, accepted: pa.Table) -> Any:
    """A boolean mask (NumPy) of the rows that may skip validation and mapping: joined and compared
    in Arrow, never a million Python strings."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    if not accepted.num_rows:
        return np.zeros(len(skus), dtype=bool)
    at = pc.index_in(pa.array(skus), value_set=accepted.column("sku"))
    known = pc.take(accepted.column("key"), at)
    same = pc.fill_null(pc.equal(known, pa.array(keys)), False).to_numpy(zero_copy_only=False)
    single = ~skus.duplicated(keep=False).to_numpy(dtype=bool)
    return np.asarray(same, dtype=bool) & single & (skus != "").to_numpy(dtype=bool)
