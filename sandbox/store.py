"""The sandbox's state in one SQLite file, so it survives a restart.

Plain ``sqlite3`` with one connection guarded by a lock (the app's handlers, the feed processor
thread and admin calls share it). JSON columns hold attribute sets, issues and fault rules.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS apps (
    client_id TEXT PRIMARY KEY, client_secret TEXT NOT NULL, name TEXT,
    scopes TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS sellers (
    seller_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, refresh_token TEXT NOT NULL UNIQUE,
    region TEXT NOT NULL DEFAULT 'na', marketplaces TEXT NOT NULL DEFAULT '[]',
    revoked INTEGER NOT NULL DEFAULT 0, name TEXT
);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, client_id TEXT NOT NULL, seller_id TEXT, scope TEXT,
    issued_at REAL NOT NULL, expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS listings (
    seller_id TEXT NOT NULL, sku TEXT NOT NULL, marketplace_id TEXT NOT NULL,
    product_type TEXT NOT NULL, requirements TEXT NOT NULL, attributes TEXT NOT NULL,
    issues TEXT NOT NULL DEFAULT '[]', asin TEXT, created REAL NOT NULL, updated REAL NOT NULL,
    PRIMARY KEY (seller_id, sku, marketplace_id)
);
CREATE TABLE IF NOT EXISTS fba_inventory (
    seller_id TEXT NOT NULL, marketplace_id TEXT NOT NULL, sku TEXT NOT NULL, asin TEXT, fn_sku TEXT,
    condition TEXT, product_name TEXT, quantities TEXT NOT NULL, updated REAL NOT NULL,
    changed REAL NOT NULL, PRIMARY KEY (seller_id, marketplace_id, sku)
);
CREATE TABLE IF NOT EXISTS submissions (
    submission_id TEXT PRIMARY KEY, seller_id TEXT NOT NULL, sku TEXT NOT NULL, operation TEXT NOT NULL,
    marketplaces TEXT NOT NULL, status TEXT NOT NULL, body TEXT, issues TEXT NOT NULL, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    document_id TEXT PRIMARY KEY, seller_id TEXT NOT NULL, kind TEXT NOT NULL, content_type TEXT NOT NULL,
    content BLOB, compression TEXT, created REAL NOT NULL, uploaded REAL
);
CREATE TABLE IF NOT EXISTS feeds (
    feed_id TEXT PRIMARY KEY, seller_id TEXT NOT NULL, region TEXT NOT NULL, feed_type TEXT NOT NULL,
    marketplaces TEXT NOT NULL, input_document_id TEXT NOT NULL, options TEXT,
    status TEXT NOT NULL, created REAL NOT NULL, started REAL, ended REAL,
    result_document_id TEXT, fault TEXT, seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    report_id TEXT PRIMARY KEY, seller_id TEXT NOT NULL, region TEXT NOT NULL, report_type TEXT NOT NULL,
    marketplaces TEXT NOT NULL, options TEXT, data_start REAL NOT NULL, data_end REAL NOT NULL,
    status TEXT NOT NULL, created REAL NOT NULL, started REAL, ended REAL, document_id TEXT,
    fault TEXT, seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, operation TEXT NOT NULL, seller_id TEXT,
    status INTEGER NOT NULL, throttled INTEGER NOT NULL DEFAULT 0, fault TEXT, request_id TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notification_destinations (
    destination_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, name TEXT NOT NULL, arn TEXT NOT NULL,
    created REAL NOT NULL, UNIQUE (client_id, arn)
);
CREATE TABLE IF NOT EXISTS notification_subscriptions (
    subscription_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, seller_id TEXT NOT NULL,
    notification_type TEXT NOT NULL, payload_version TEXT NOT NULL, destination_id TEXT NOT NULL,
    created REAL NOT NULL, UNIQUE (client_id, seller_id, notification_type, payload_version)
);
CREATE TABLE IF NOT EXISTS notification_listing_state (
    seller_id TEXT NOT NULL, sku TEXT NOT NULL, marketplace_id TEXT NOT NULL, status TEXT NOT NULL,
    severities TEXT NOT NULL, actions TEXT NOT NULL, updated REAL,
    PRIMARY KEY (seller_id, sku, marketplace_id)
);
CREATE TABLE IF NOT EXISTS notification_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, event_key TEXT NOT NULL UNIQUE, notification_id TEXT NOT NULL,
    notification_type TEXT NOT NULL, seller_id TEXT, arn TEXT NOT NULL, body TEXT NOT NULL,
    created REAL NOT NULL, sent REAL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT
);
"""

TABLES = (
    "apps",
    "sellers",
    "tokens",
    "listings",
    "fba_inventory",
    "submissions",
    "documents",
    "feeds",
    "reports",
    "calls",
    "meta",
    "notification_destinations",
    "notification_subscriptions",
    "notification_listing_state",
    "notification_outbox",
)


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, tuple(params))

    def one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(sql, tuple(params)).fetchone()
        return dict(row) if row is not None else None

    def all(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._db.execute(sql, tuple(params)).fetchall()]

    def reset(self, *, keep_sellers: bool = True) -> None:
        with self.transaction() as db:
            for table in TABLES:
                if keep_sellers and table in ("apps", "sellers"):
                    continue
                db.execute(f"DELETE FROM {table}")

    # -- apps and sellers --------------------------------------------------------------------

    def upsert_app(
        self, client_id: str, client_secret: str, name: str | None = None, scopes: list[str] | None = None
    ) -> None:
        self.execute(
            "INSERT INTO apps(client_id, client_secret, name, scopes) VALUES (?,?,?,?) "
            "ON CONFLICT(client_id) DO UPDATE SET client_secret=excluded.client_secret, name=excluded.name, "
            "scopes=excluded.scopes",
            (client_id, client_secret, name, json.dumps(scopes or [])),
        )

    def upsert_seller(
        self,
        seller_id: str,
        client_id: str,
        refresh_token: str,
        region: str = "na",
        marketplaces: list[str] | None = None,
        name: str | None = None,
        revoked: bool = False,
    ) -> None:
        self.execute(
            "INSERT INTO sellers(seller_id, client_id, refresh_token, region, marketplaces, name, revoked) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT(seller_id) DO UPDATE SET client_id=excluded.client_id, "
            "refresh_token=excluded.refresh_token, region=excluded.region, marketplaces=excluded.marketplaces, "
            "name=excluded.name, revoked=excluded.revoked",
            (seller_id, client_id, refresh_token, region, json.dumps(marketplaces or []), name, int(revoked)),
        )

    def app(self, client_id: str) -> dict[str, Any] | None:
        return self.one("SELECT * FROM apps WHERE client_id=?", (client_id,))

    def seller(self, seller_id: str) -> dict[str, Any] | None:
        row = self.one("SELECT * FROM sellers WHERE seller_id=?", (seller_id,))
        if row:
            row["marketplaces"] = json.loads(row["marketplaces"])
        return row

    def seller_by_refresh_token(self, refresh_token: str) -> dict[str, Any] | None:
        row = self.one("SELECT * FROM sellers WHERE refresh_token=?", (refresh_token,))
        if row:
            row["marketplaces"] = json.loads(row["marketplaces"])
        return row

    def sellers(self) -> list[dict[str, Any]]:
        rows = self.all("SELECT * FROM sellers ORDER BY seller_id")
        for row in rows:
            row["marketplaces"] = json.loads(row["marketplaces"])
        return rows

    # -- tokens ----------------------------------------------------------------------------

    def add_token(
        self, token: str, client_id: str, seller_id: str | None, scope: str | None, lifetime: float
    ) -> None:
        now = time.time()
        self.execute(
            "INSERT INTO tokens(token, client_id, seller_id, scope, issued_at, expires_at) VALUES (?,?,?,?,?,?)",
            (token, client_id, seller_id, scope, now, now + lifetime),
        )

    def token(self, token: str) -> dict[str, Any] | None:
        return self.one("SELECT * FROM tokens WHERE token=?", (token,))

    # -- calls -----------------------------------------------------------------------------

    def record_call(
        self,
        operation: str,
        seller_id: str | None,
        status: int,
        throttled: bool,
        fault: str | None,
        request_id: str,
    ) -> None:
        self.execute(
            "INSERT INTO calls(ts, operation, seller_id, status, throttled, fault, request_id) VALUES (?,?,?,?,?,?,?)",
            (time.time(), operation, seller_id, status, int(throttled), fault, request_id),
        )

    def meta_get(self, key: str, default: Any = None) -> Any:
        row = self.one("SELECT value FROM meta WHERE key=?", (key,))
        return json.loads(row["value"]) if row else default

    def meta_set(self, key: str, value: Any) -> None:
        self.execute(
            "INSERT INTO meta(key, value) VALUES (?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, json.dumps(value)),
        )

    def next_seq(self, name: str) -> int:
        with self.transaction():
            value = int(self.meta_get(f"seq:{name}", 0)) + 1
            self.meta_set(f"seq:{name}", value)
        return value
