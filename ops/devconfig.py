"""What `billing dev` runs with: ports, kept secrets, the database, child command lines and
the environment of the service processes."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.constants import SEARCH_ATTRIBUTES
from ops.demo_seed import new_demo_ids
from ops.postgres import drop_database, ensure_database, start_embedded, with_database
from ops.processes import choose_port

logger = logging.getLogger("billing.dev")
EMULATOR_SECRET_KEY = "sk_test_emulator"
# Files of the local stack under the data directory.
EMULATOR_STATE = "stripe-emulator.json"
TEMPORAL_DB = "temporal.db"
STACK_FILE = "dev-stack.json"


@dataclass(frozen=True)
class Ports:
    api: int
    emulator: int
    temporal: int
    temporal_ui: int

    @classmethod
    def from_env(cls) -> Ports:
        def pick(name: str, default: int) -> int:
            return choose_port(int(os.environ.get(name, default)))

        return cls(
            api=pick("API_PORT", 8000),
            emulator=pick("EMULATOR_PORT", 12111),
            temporal=pick("TEMPORAL_PORT", 7233),
            temporal_ui=pick("TEMPORAL_UI_PORT", 8233),
        )


def local_secrets(data_dir: Path) -> dict[str, str]:
    """Secrets and demo ids made once and kept, so tokens survive a restart."""
    path = data_dir / "dev-secrets.json"
    values: dict[str, str] = json.loads(path.read_text()) if path.exists() else {
        "jwt_secret": secrets.token_urlsafe(32),
        "webhook_secret": "whsec_" + secrets.token_hex(24),
        "admin_token": secrets.token_urlsafe(24),
        "demo_owner_id": str(uuid.uuid4()),
    }
    # A file from before a demo workspace existed gets its id added, the rest kept.
    if new_demo_ids(values) or not path.exists():
        path.write_text(json.dumps(values, indent=2))
        path.chmod(0o600)
    return values


def database(data_dir: Path, *, reset: bool) -> tuple[str, Any]:
    """`DATABASE_URL` as given, or the embedded server's `billing` database (emptied on
    reset); the second value is the embedded server to stop at the end, if any."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        if reset:
            raise SystemExit(
                "billing dev --reset empties only the embedded PostgreSQL; DATABASE_URL names "
                "a database you manage: empty it yourself, or unset DATABASE_URL"
            )
        return configured, None
    server, admin_url = start_embedded(data_dir / "postgres")
    if reset:
        drop_database(admin_url, "billing")
    ensure_database(admin_url, "billing")
    return with_database(admin_url, "billing"), server


def reset_files(data_dir: Path) -> None:
    """Forget Stripe's and Temporal's side of the local stack (secrets and ids are kept)."""
    for name in (EMULATOR_STATE, TEMPORAL_DB, f"{TEMPORAL_DB}-wal", f"{TEMPORAL_DB}-shm"):
        (data_dir / name).unlink(missing_ok=True)
    logger.info("reset: emulator state and Temporal history removed from %s", data_dir)


def temporal_argv(data_dir: Path, ports: Ports) -> list[str]:
    binary = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    argv = [
        binary,
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(ports.temporal),
        "--ui-port",
        str(ports.temporal_ui),
        "--db-filename",
        str(data_dir / TEMPORAL_DB),
        "--log-level",
        "warn",
    ]
    for key in SEARCH_ATTRIBUTES:
        argv += ["--search-attribute", f"{key.name}=Keyword"]
    return argv


def emulator_argv(data_dir: Path, ports: Ports, env: dict[str, str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "stripe_emulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(ports.emulator),
        "--webhook-url",
        f"http://127.0.0.1:{ports.api}/api/v1/stripe/webhook",
        "--webhook-secret",
        env["STRIPE_WEBHOOK_SIGNING_SECRET"],
        "--seed-catalog",
        env["STRIPE_CATALOG_ENV"],
        # Stripe's truth outlives a restart: objects, events and idempotency keys are kept.
        "--state-file",
        str(data_dir / EMULATOR_STATE),
    ]


def service_env(
    base: dict[str, str], database_url: str, values: dict[str, str], ports: Ports, data_dir: Path
) -> dict[str, str]:
    api_url = f"http://127.0.0.1:{ports.api}"
    env = dict(base)
    env.setdefault("STRIPE_SECRET_KEY", EMULATOR_SECRET_KEY)
    if env["STRIPE_SECRET_KEY"] == EMULATOR_SECRET_KEY:
        env["STRIPE_API_BASE"] = f"http://127.0.0.1:{ports.emulator}"
        env["STRIPE_WEBHOOK_SIGNING_SECRET"] = values["webhook_secret"]
    env.setdefault("STRIPE_WEBHOOK_SIGNING_SECRET", values["webhook_secret"])
    env.update(
        DATABASE_URL=database_url,
        TEMPORAL_ADDRESS=f"127.0.0.1:{ports.temporal}",
        TEMPORAL_UI_URL=f"http://127.0.0.1:{ports.temporal_ui}",
        BILLING_DEV_STACK_FILE=str(data_dir / STACK_FILE),
    )
    env.setdefault("AUTH_JWT_SECRET", values["jwt_secret"])
    env.setdefault("STRIPE_INTERNAL_ADMIN_TOKEN", values["admin_token"])
    # The demo page at `/` is the return page of checkout and the portal.
    env.setdefault(
        "CHECKOUT_SUCCESS_URL", f"{api_url}/?checkout=success&session_id={{CHECKOUT_SESSION_ID}}"
    )
    env.setdefault("CHECKOUT_CANCEL_URL", f"{api_url}/?checkout=canceled")
    env.setdefault("BILLING_PORTAL_RETURN_URL", f"{api_url}/?portal=returned")
    env.setdefault("CONTACT_SALES_URL", "mailto:sales@example.com")
    env.setdefault("STRIPE_CATALOG_ENV", "dev")
    return env
