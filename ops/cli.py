"""The `billing` command: the local stack, API, worker, migrations, schedules, traces, tokens,
the ledger's unfinished events, entitlement notices, and the benchmarks."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

from core.config import StartupError, get_settings


def _api(args: argparse.Namespace) -> int:
    import uvicorn

    from core.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        workers=args.workers,
    )
    return 0


def _codec_server(args: argparse.Namespace) -> int:
    import uvicorn

    from core.logging import configure_logging, register_secret
    from core.production_checks import codec_bind_refusal

    settings = get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    for secret in settings.secret_values():
        register_secret(secret)
    host = args.host or settings.codec_server_host
    if refusal := codec_bind_refusal(settings, host):
        raise StartupError(refusal)
    uvicorn.run(
        "api.codec_app:create_codec_app",
        factory=True,
        host=host,
        port=args.port or settings.codec_server_port,
        log_config=None,
        access_log=False,
    )
    return 0


def _worker(_: argparse.Namespace) -> int:
    import worker

    worker.main()
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from ops import migrate

    settings = get_settings()
    # Schema changes run as the migration role; the service's own role only reads and writes.
    url = settings.migration_database_url or settings.database_url
    migrate.upgrade(url, args.revision, billing_env=settings.billing_env)
    return 0


def _token(args: argparse.Namespace) -> int:
    from core.tokens import mint_token

    settings = get_settings()
    token = mint_token(
        settings.auth_jwt_secret,
        uuid.UUID(args.user),
        ttl=timedelta(days=args.days),
        audience=settings.auth_jwt_audience,
        issuer=settings.auth_jwt_issuer,
    )
    sys.stdout.write(token + "\n")
    return 0


def _setup_temporal(_: argparse.Namespace) -> int:
    import asyncio

    from core.search_attributes import ensure_search_attributes
    from core.temporal_client import connect_temporal

    settings = get_settings()

    async def setup() -> list[str]:
        client = await connect_temporal(settings)
        return await ensure_search_attributes(client, client.namespace)

    added = asyncio.run(setup())
    sys.stdout.write(
        f"search attributes added: {', '.join(added)}\n"
        if added
        else "search attributes already registered\n"
    )
    return 0


def _dev(args: argparse.Namespace) -> int:
    from ops.devstack import run_dev_stack

    return run_dev_stack(args.data_dir, reset=args.reset)


def _schedules(args: argparse.Namespace) -> int:
    import asyncio

    from core.schedules import schedules_command

    return asyncio.run(schedules_command(get_settings(), sys.stdout, trigger=args.trigger))


def _trace(args: argparse.Namespace) -> int:
    import asyncio

    from ops.trace import WorkspaceNotFound, trace_command

    try:
        workspace_id = uuid.UUID(args.workspace)
    except ValueError:
        workspace_id = None
    try:
        if workspace_id is not None:
            sys.stdout.write(asyncio.run(trace_command(get_settings(), workspace_id, args.json)))
            return 0
    except WorkspaceNotFound:
        pass
    sys.stderr.write(f"billing: no such workspace: {args.workspace}\n")
    return 1


def _events(args: argparse.Namespace) -> int:
    import asyncio

    from ops.events import events_command, retry_command

    settings = get_settings()
    if args.action == "retry":
        if not args.ids and not args.all_dead:
            sys.stderr.write("billing: events retry needs event ids or --all-dead\n")
            return 2
        return asyncio.run(retry_command(settings, sys.stdout, args.ids, all_dead=args.all_dead))
    try:
        workspace = uuid.UUID(args.workspace) if args.workspace else None
    except ValueError:
        sys.stderr.write(f"billing: not a workspace id: {args.workspace}\n")
        return 2
    return asyncio.run(
        events_command(
            settings,
            sys.stdout,
            statuses=args.status or (),
            event_type=args.type,
            workspace_id=workspace,
        )
    )


def _entitlements(args: argparse.Namespace) -> int:
    import asyncio

    from ops.entitlements import notices_command, resend_command

    settings = get_settings()
    if args.action == "resend":
        return asyncio.run(resend_command(settings, sys.stdout, args.notice_id))
    try:
        workspace_id = uuid.UUID(args.workspace) if args.workspace else None
    except ValueError:
        sys.stderr.write(f"billing: not a workspace id: {args.workspace}\n")
        return 1
    return asyncio.run(
        notices_command(
            settings,
            sys.stdout,
            failed_only=args.failed,
            workspace_id=workspace_id,
            limit=args.limit,
        )
    )


def _bench(args: argparse.Namespace) -> int:
    # bench/ sits beside ops/ in a source checkout; the service image leaves it out.
    root = Path(__file__).resolve().parents[1]
    if not (root / "bench" / "runner.py").is_file():
        sys.stderr.write("billing: bench runs from a source checkout (bench/ is not installed)\n")
        return 2
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    # The benchmarks' own child processes (bare workers, the bench API) import bench/ too.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p
    )
    from bench.runner import run_all, selected

    try:
        benchmarks = selected(args.only)
    except ValueError as exc:
        sys.stderr.write(f"billing: {exc}\n")
        return 2
    json_path = Path(args.json).resolve() if args.json else None
    return run_all(benchmarks, args.quick, args.steady_rate, json_path)


def _add_bench(commands: Any) -> None:
    bench = commands.add_parser(
        "bench",
        help="run every benchmark in turn (a source checkout only) and print one table",
        description="Runs each benchmark of bench/ in turn, each on its own in-memory "
        "Temporal dev server, fresh database and Stripe emulator, and prints one markdown "
        "table: every measure next to the limit measured in the same run. Progress goes to "
        "stderr, the table to stdout.",
    )
    bench.add_argument(
        "--quick", action="store_true", help="small counts everywhere: a smoke in minutes"
    )
    bench.add_argument(
        "--only",
        metavar="NAME,...",
        help="only these: webhook, checkout, replay, emulator, entitlements",
    )
    bench.add_argument("--json", metavar="PATH", help="also write every raw result here")
    bench.add_argument(
        "--steady-rate",
        type=float,
        default=15.0,
        help="events/s offered for the webhook's event -> plan latency (default 15)",
    )
    bench.set_defaults(handler=_bench)


def _add_events(commands: Any) -> None:
    events = commands.add_parser(
        "events", help="list the ledger's unfinished events; `events retry` re-runs them"
    )
    events.add_argument(
        "--status",
        action="append",
        choices=["pending", "processing", "failed", "dead"],
        help="only this status (repeatable); all unfinished ones when absent",
    )
    events.add_argument("--type", help="only this Stripe event type")
    events.add_argument("--workspace", help="only events of this workspace (UUID)")
    events.set_defaults(handler=_events, action=None)
    actions = events.add_subparsers(dest="action")
    retry = actions.add_parser(
        "retry", help="re-run events through the normal workflow id policies (dead ones too)"
    )
    retry.add_argument("ids", nargs="*", metavar="EVENT_ID")
    retry.add_argument("--all-dead", action="store_true", help="every dead event")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="billing", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help="run the whole local stack (DB, Temporal, Stripe, API)")
    dev.add_argument("--data-dir", default=".data", help="where local state lives")
    dev.add_argument(
        "--reset",
        action="store_true",
        help="start empty: forget the emulator's Stripe account, Temporal's history and the "
        "embedded database (secrets and demo ids are kept)",
    )
    dev.set_defaults(handler=_dev)

    api = commands.add_parser("api", help="serve the HTTP API")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=1)
    api.set_defaults(handler=_api)

    commands.add_parser("worker", help="run a Temporal worker").set_defaults(handler=_worker)

    codec = commands.add_parser(
        "codec-server", help="serve /encode and /decode for the Temporal UI and CLI"
    )
    codec.add_argument("--host", default=None, help="default: CODEC_SERVER_HOST")
    codec.add_argument("--port", type=int, default=None, help="default: CODEC_SERVER_PORT")
    codec.set_defaults(handler=_codec_server)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("--revision", default="head")
    migrate.set_defaults(handler=_migrate)

    commands.add_parser(
        "setup-temporal", help="register the custom search attributes on the namespace"
    ).set_defaults(handler=_setup_temporal)

    token = commands.add_parser("token", help="mint a bearer token for a user (local use)")
    token.add_argument("--user", required=True, help="user id (UUID), the token's sub")
    token.add_argument("--days", type=int, default=30)
    token.set_defaults(handler=_token)
    schedules = commands.add_parser("schedules", help="list the Temporal Schedules, or run one")
    schedules.add_argument("--trigger", metavar="SCHEDULE_ID", help="run this schedule now")
    schedules.set_defaults(handler=_schedules)
    trace = commands.add_parser("trace", help="a workspace's purchases as one timeline (support)")
    trace.add_argument("--workspace", required=True, help="workspace id (UUID)")
    trace.add_argument("--json", action="store_true", help="JSON instead of text")
    trace.set_defaults(handler=_trace)
    _add_events(commands)
    entitlements = commands.add_parser(
        "entitlements", help="entitlement change notices: the delivery log, resend"
    )
    actions = entitlements.add_subparsers(dest="action", required=True)
    notices = actions.add_parser("notices", help="the delivery log, newest first")
    notices.add_argument("--failed", action="store_true", help="only notices given up")
    notices.add_argument("--workspace", help="only this workspace's (UUID)")
    notices.add_argument("--limit", type=int, default=50)
    notices.set_defaults(handler=_entitlements)
    resend = actions.add_parser(
        "resend", help="send a notice again (its workspace's newest) with a fresh retry window"
    )
    resend.add_argument("notice_id", metavar="ID", help="ent_<workspace>_<version>")
    resend.set_defaults(handler=_entitlements)
    _add_bench(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except StartupError as exc:  # a setting, or Temporal unreachable as configured
        sys.stderr.write(f"billing: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """The `billing` command: exits without interpreter finalization, which can race the
    Temporal client's native threads and abort a finished command (SIGABRT at exit)."""
    code = main(argv)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
