"""The production compose file and the CLI agree with the settings object."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml

from core.config import Settings
from core.constants import SEARCH_ATTRIBUTES
from core.tokens import user_id_from_token

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_compose_has_the_production_services() -> None:
    services = _compose()["services"]
    assert {"postgres", "temporal", "temporal-ui", "api", "worker", "migrate"} <= set(services)
    assert "8000:8000" in services["api"]["ports"]
    assert "8080:8080" in services["temporal-ui"]["ports"]
    # Workers scale with --scale: no fixed container name or published port.
    assert "container_name" not in services["worker"]
    assert "ports" not in services["worker"]
    assert services["temporal"]["environment"]["DB"].startswith("postgres")


def test_compose_environment_matches_settings() -> None:
    services = _compose()["services"]
    fields = {name.upper() for name in Settings.model_fields}
    required = {
        name.upper() for name, field in Settings.model_fields.items() if field.is_required()
    }
    for name in ("api", "worker", "migrate"):
        env = set(services[name]["environment"])
        assert env <= fields, f"{name} sets unknown variables: {env - fields}"
        assert required <= env, f"{name} lacks required variables: {required - env}"


def test_compose_registers_every_search_attribute() -> None:
    command = " ".join(_compose()["services"]["temporal-setup"]["command"])
    for key in SEARCH_ATTRIBUTES:
        assert key.name in command


def test_token_command_mints_a_valid_token(monkeypatch: Any) -> None:
    env = {
        "DATABASE_URL": "postgresql://postgres@127.0.0.1/billing",
        "AUTH_JWT_SECRET": "s" * 40,
        "STRIPE_SECRET_KEY": "sk_test_x",
        "STRIPE_WEBHOOK_SIGNING_SECRET": "whsec_x",
        "CHECKOUT_SUCCESS_URL": "http://a",
        "CHECKOUT_CANCEL_URL": "http://a",
        "BILLING_PORTAL_RETURN_URL": "http://a",
        "CONTACT_SALES_URL": "http://a",
        "PATH": "/usr/bin:/bin",
    }
    user = uuid.uuid4()
    done = subprocess.run(
        [sys.executable, "-m", "ops.cli", "token", "--user", str(user)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert user_id_from_token("s" * 40, done.stdout.strip()) == user
