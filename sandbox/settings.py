"""Sandbox configuration: one frozen dataclass, filled from arguments, environment or defaults.

Every option can be set from the environment as ``SPAPI_SANDBOX_<NAME>`` (upper case), e.g.
``SPAPI_SANDBOX_RATE_SCALE=100``; ``python -m sandbox --help`` lists the command-line flags.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODELS_DIR = REPO / "include" / "spapi-models"
DEFAULT_PRODUCT_TYPES_DIR = REPO / "include" / "product_types"
DEFAULT_SELLERS_FILE = Path(__file__).resolve().parent / "sellers.example.yaml"


@dataclass(frozen=True)
class Settings:
    # where state lives: <data_dir>/sandbox.sqlite3 unless db_path is given
    data_dir: Path = Path("var/sandbox")
    db_path: Path | None = None
    # apps and sellers (YAML or JSON); loaded at start, merged into the database
    sellers_file: Path | None = DEFAULT_SELLERS_FILE
    models_dir: Path = DEFAULT_MODELS_DIR
    product_types_dirs: tuple[Path, ...] = (DEFAULT_PRODUCT_TYPES_DIR,)
    # the address the server listens on (``python -m sandbox --host/--port``, ``testing.serve``)
    host: str = "127.0.0.1"
    port: int = 8900
    # externally visible base URL for presigned and schema links; default: the address above, or
    # where that is a wildcard (0.0.0.0, ::), the host the request was sent to
    public_url: str | None = None
    # LWA
    token_lifetime: float = 3600.0
    # rate limits: Amazon's documented rates times rate_scale (100 = a hundred times faster)
    rate_limits: bool = True
    rate_scale: float = 1.0
    # bursts times burst_scale, rounded down, at least 1: below 1, a seller whose real bursts are
    # lower than documented (Amazon's 429s are the only sign of it)
    burst_scale: float = 1.0
    # presigned document URLs (Amazon: 5 minutes) and schema links (Amazon: 7 days)
    presign_ttl: float = 300.0
    schema_link_ttl: float = 7 * 24 * 3600.0
    # feed processing: seconds a feed waits IN_QUEUE, then IN_PROGRESS, and the poll interval
    feed_queue_seconds: float = 1.0
    feed_processing_seconds: float = 2.0
    processor_interval: float = 0.2
    # report processing: seconds a report waits IN_QUEUE, then IN_PROGRESS (same poll interval)
    report_queue_seconds: float = 1.0
    report_processing_seconds: float = 2.0
    processor_enabled: bool = True
    # notifications: the SQS endpoint destinations' queues live at (moto in server mode locally;
    # None: createDestination refuses, nothing is delivered)
    sqs_endpoint_url: str | None = None
    # optional SigV4 verification: {access_key_id: secret_access_key}
    sigv4: bool = False
    aws_keys: dict[str, str] = field(default_factory=dict)
    # brands that need Amazon's approval (brand gating): listings naming them are rejected with
    # issue 5665 (QUALIFICATION_REQUIRED), a rejection no catalog-side schema check can foresee
    restricted_brands: tuple[str, ...] = ("Gated Brand Co",)
    # fault injection: the seed of the fault RNG and the initial rules (see sandbox.faults)
    seed: int = 0
    faults: tuple[dict[str, Any], ...] = ()
    # HMAC key for presigned URLs; a fixed default keeps URLs valid across restarts
    signing_key: str = "spapi-sandbox-presign-key"

    @property
    def database(self) -> Path:
        return Path(self.db_path) if self.db_path else Path(self.data_dir) / "sandbox.sqlite3"

    @property
    def meta_schema_path(self) -> Path:
        return Path(self.models_dir) / "schemas" / "definitions" / "meta-schema.json"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f"SPAPI_SANDBOX_{f.name.upper()}")
            if raw is None:
                continue
            values[f.name] = _parse(f.name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


_BOOL = {"rate_limits", "sigv4", "processor_enabled"}
_FLOAT = {
    "token_lifetime",
    "rate_scale",
    "burst_scale",
    "presign_ttl",
    "schema_link_ttl",
    "feed_queue_seconds",
    "feed_processing_seconds",
    "processor_interval",
    "report_queue_seconds",
    "report_processing_seconds",
}
_PATH = {"data_dir", "db_path", "sellers_file", "models_dir"}


def _parse(name: str, raw: str) -> Any:
    import json

    if name in _BOOL:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if name in _FLOAT:
        return float(raw)
    if name in ("seed", "port"):
        return int(raw)
    if name in _PATH:
        return Path(raw) if raw else None
    if name == "product_types_dirs":
        return tuple(Path(p) for p in raw.split(os.pathsep) if p)
    if name == "aws_keys":
        # "AKID:secret,AKID2:secret2"
        return dict(pair.split(":", 1) for pair in raw.split(",") if ":" in pair)
    if name == "faults":
        return tuple(json.loads(raw))
    return raw
