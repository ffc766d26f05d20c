"""``python -m listings_pipeline.scaffold PRODUCT_TYPE --marketplace ID --catalog PATH``.

Writes ``<out>/<PRODUCT_TYPE>.yaml`` (the draft, TODOs marked) and ``<PRODUCT_TYPE>.coverage.txt``
beside it, and prints the coverage report. The draft is not put among the live mappings: the
loader refuses it until its TODOs are filled, and a refused mapping stops every sync run.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from listings_pipeline.scaffold.run import ScaffoldRequest, marketplaces_of, scaffold


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m listings_pipeline.scaffold", description=__doc__)
    parser.add_argument("product_type", help="Amazon's product type, e.g. LUGGAGE")
    parser.add_argument(
        "--marketplace", action="append", required=True, help="marketplace id (repeat or comma-separate)"
    )
    parser.add_argument(
        "--catalog", required=True, help="the catalog file or glob (CSV or Parquet, local or s3://)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("var/scaffold"), help="where the draft goes (default var/scaffold)"
    )
    parser.add_argument(
        "--conn-id",
        help="an spapi Airflow connection to fetch the schema with; without it, the cached or shipped schema",
    )
    parser.add_argument("--config", help="the pipeline config (default include/pipeline.yaml)")
    parser.add_argument(
        "--seller", default="SCAFFOLD", help="the seller id, when the catalog has a seller_id column"
    )
    parser.add_argument("--rows", type=int, default=2000, help="sample rows per marketplace (default 2000)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    request = ScaffoldRequest(
        product_type=args.product_type,
        marketplaces=marketplaces_of(args.marketplace),
        catalog=args.catalog,
        out_dir=args.out,
        config_path=args.config,
        conn_id=args.conn_id,
        seller_id=args.seller,
        sample_rows=args.rows,
    )
    try:
        files = scaffold(request)
    except (ValueError, LookupError, OSError) as err:  # a wrong argument or file: say which, no traceback
        sys.stderr.write(f"error: {err}\n")
        return 2
    sys.stdout.write(files.result.report.text())
    sys.stdout.write(f"draft: {files.draft}\nreport: {files.report}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
