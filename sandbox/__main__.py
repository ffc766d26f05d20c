"""``python -m sandbox --port 8900 --data-dir var/sandbox``: run the sandbox with uvicorn."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8900)")
    parser.add_argument("--data-dir", type=Path, help="state directory (default var/sandbox)")
    parser.add_argument("--db-path", type=Path, help="SQLite file (default <data-dir>/sandbox.sqlite3)")
    parser.add_argument("--sellers-file", type=Path, help="apps and sellers, YAML or JSON")
    parser.add_argument(
        "--public-url",
        help="base URL for presigned and schema links (default: http://<host>:<port>, or the request's "
        "Host header when listening on 0.0.0.0 or ::)",
    )
    parser.add_argument(
        "--rate-scale", type=float, help="multiply Amazon's rates (100 = a hundred times faster)"
    )
    parser.add_argument(
        "--burst-scale",
        type=float,
        help="multiply Amazon's bursts, rounded down, at least 1 (0.4: a seller granted less)",
    )
    parser.add_argument("--no-rate-limits", action="store_true", help="turn token buckets off")
    parser.add_argument(
        "--token-lifetime", type=float, help="access token lifetime in seconds (default 3600)"
    )
    parser.add_argument("--feed-queue-seconds", type=float, help="time a feed spends IN_QUEUE (default 1)")
    parser.add_argument(
        "--feed-processing-seconds", type=float, help="time a feed spends IN_PROGRESS (default 2)"
    )
    parser.add_argument("--sigv4", action="store_true", help="verify SigV4 signatures")
    parser.add_argument(
        "--aws-key", action="append", default=[], metavar="AKID:SECRET", help="AWS key for --sigv4"
    )
    parser.add_argument(
        "--sqs-endpoint-url",
        help="the SQS that notification destinations live at, e.g. moto's server (default: none, "
        "createDestination refuses)",
    )
    parser.add_argument("--seed", type=int, help="fault RNG seed")
    parser.add_argument(
        "--faults", help='initial fault rules as JSON, e.g. \'[{"kind":"throttle","probability":0.1}]\''
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)

    overrides = {
        "data_dir": args.data_dir,
        "db_path": args.db_path,
        "sellers_file": args.sellers_file,
        "host": args.host,
        "port": args.port,
        "public_url": args.public_url,
        "rate_scale": args.rate_scale,
        "burst_scale": args.burst_scale,
        "token_lifetime": args.token_lifetime,
        "feed_queue_seconds": args.feed_queue_seconds,
        "feed_processing_seconds": args.feed_processing_seconds,
        "sqs_endpoint_url": args.sqs_endpoint_url,
        "seed": args.seed,
        "faults": tuple(json.loads(args.faults)) if args.faults else None,
    }
    if args.no_rate_limits:
        overrides["rate_limits"] = False
    if args.sigv4:
        overrides["sigv4"] = True
    if args.aws_key:
        overrides["aws_keys"] = dict(k.split(":", 1) for k in args.aws_key)
    settings = Settings.from_env(**overrides)

    import uvicorn

    from .app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
