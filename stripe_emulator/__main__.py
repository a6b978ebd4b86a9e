"""Command line: `python -m stripe_emulator --port P --webhook-url URL --webhook-secret S
[--state-file PATH]`."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import uvicorn

from . import create_app
from .config import DEFAULT_SECRET_KEY, DEFAULT_WEBHOOK_SECRET, EmulatorConfig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="stripe_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--webhook-secret", default=DEFAULT_WEBHOOK_SECRET)
    parser.add_argument(
        "--seed-catalog",
        metavar="ENV",
        default=None,
        help="create the pro/business catalog with lookup keys for ENV",
    )
    parser.add_argument(
        "--secret-key",
        default=os.environ.get("STRIPE_EMULATOR_SECRET_KEY", DEFAULT_SECRET_KEY),
        help="the key control routes require as a bearer token (env STRIPE_EMULATOR_SECRET_KEY)",
    )
    parser.add_argument("--retry-base-delay", type=float, default=1.0)
    parser.add_argument("--delivery-concurrency", type=int, default=4)
    parser.add_argument(
        "--public-url", default=None, help="base URL of hosted pages (default: the request's Host)"
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        help="keep the account (objects, events, idempotency keys) in this JSON file "
        "across restarts (default: in memory only)",
    )
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper())
    config = EmulatorConfig(
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        retry_base_delay=args.retry_base_delay,
        delivery_concurrency=args.delivery_concurrency,
        public_url=args.public_url,
        secret_key=args.secret_key,
    )
    app = create_app(config, seed_env=args.seed_catalog, state_file=args.state_file)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        lifespan="on",
        interface="asgi3",
    )


if __name__ == "__main__":
    main()
