"""``python -m listings_pipeline.warehouse``: migrate the warehouse and inspect its revision.

    python -m listings_pipeline.warehouse upgrade [--url URL] [--revision head]
    python -m listings_pipeline.warehouse downgrade --revision REV [--url URL]
    python -m listings_pipeline.warehouse current [--url URL]
    python -m listings_pipeline.warehouse url

Without ``--url`` the URL is :func:`listings_pipeline.warehouse.db.warehouse_url` (Airflow connection
``warehouse_default``, ``$SPAPI_WAREHOUSE_URL``, or ``var/warehouse.db``). Output masks passwords.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from listings_pipeline.warehouse import db


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m listings_pipeline.warehouse", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("upgrade", help="migrate up (default: to the newest revision)")
    up.add_argument("--revision", default="head")
    down = commands.add_parser("downgrade", help="migrate down ('base' drops every table and view)")
    down.add_argument("--revision", required=True)
    current = commands.add_parser("current", help="print the database's revision and the newest one")
    for sub in (up, down, current):
        sub.add_argument("--url", help="SQLAlchemy URL (default: the warehouse_default connection, ...)")
    commands.add_parser("url", help="print the warehouse URL that would be used (password masked)")
    args = parser.parse_args(argv)

    if args.command == "url":
        print(db.safe_url(db.warehouse_url()))
        return 0
    url = db.normalize_url(args.url) if args.url else db.warehouse_url()
    if args.command == "upgrade":
        db.upgrade(url, args.revision)
    elif args.command == "downgrade":
        db.downgrade(url, args.revision)
    print(f"{db.safe_url(url)}: at {db.current_revision(url) or 'base'} (newest: {db.head_revision()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
