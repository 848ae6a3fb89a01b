"""Command line for the local services: ``start``, ``stop``, ``status``, ``fetch``.

``start --postgres`` also starts a throw-away PostgreSQL server (see
``ingestgen_services.postgres``); ``start --s3-only --postgres`` skips Nessie.

Used by ``start.sh``/``stop.sh``, by ``.ci/run`` and by developers. Prints plain messages; errors
exit with code 3 and say what to fix. It never prompts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingestgen_services import ServiceError
from ingestgen_services import stack as services
from ingestgen_services.jdk import find_java
from ingestgen_services.nessie import fetch_runner_jar
from ingestgen_services.postgres import load_postgres, start_postgres, stop_postgres, write_env

REPO = Path(__file__).resolve().parents[2]
EXIT_ERROR = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="servicectl", description=__doc__)
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=REPO / ".services",
        help="where env, state.json and logs/ go (default: .services/ in the repo)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=REPO / ".services" / "cache",
        help="where the Nessie runner jar is cached (default: .services/cache/)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start S3 and Nessie (idempotent)")
    start.add_argument(
        "--store",
        choices=["memory", "rocksdb"],
        default="rocksdb",
        help="Nessie version store: rocksdb keeps branches across restarts (dev), memory for tests",
    )
    start.add_argument("--s3-only", action="store_true", help="start only the S3 server")
    start.add_argument(
        "--tenant",
        action="append",
        dest="tenants",
        help="a tenant to give a Nessie warehouse (repeat it; default: every projects/<tenant>)",
    )
    start.add_argument(
        "--postgres", action="store_true", help="also start PostgreSQL (PG* keys in the env file)"
    )
    start.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for health")
    start.add_argument("--json", action="store_true", help="print the env and timings as JSON")
    sub.add_parser("stop", help="stop what start started (logs are kept)")
    sub.add_parser("status", help="show what runs; exit 1 when something is down")
    sub.add_parser("fetch", help="only fetch the runner jar and find a JDK (warm the cache)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; return the exit code."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _run(args: argparse.Namespace) -> int:
    if args.command == "fetch":
        t0 = time.monotonic()
        java = find_java()
        jar = fetch_runner_jar(args.cache_dir.resolve())
        print(f"java: {java.executable} (Java {java.version}, from {java.source})")
        print(f"jar:  {jar} ({time.monotonic() - t0:.1f} s)")
        return 0
    if args.command == "stop":
        stopped = services.stop(args.state_dir)
        if (pg := load_postgres(args.state_dir.resolve())) is not None:
            stop_postgres(pg, args.state_dir.resolve())
            stopped.append(f"postgres (pid {pg.pid})")
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return 0
    if args.command == "status":
        stack = services.load(args.state_dir.resolve())
        for line in services.describe(stack):
            print(line)
        pg = load_postgres(args.state_dir.resolve())
        if pg is not None:
            print(f"postgres: {'running' if pg.is_alive() else 'DEAD'} pid {pg.pid} port {pg.port}")
        pg_ok = pg is None or pg.is_alive()
        return 0 if pg_ok and services.healthy(stack, want_nessie=stack.nessie is not None) else 1
    store = "ROCKSDB" if args.store == "rocksdb" else "IN_MEMORY"
    stack = services.start(
        args.state_dir,
        args.cache_dir,
        store=store,
        with_nessie=not args.s3_only,
        tenants=args.tenants,
        timeout=args.timeout,
    )
    env_file = stack.state_dir / services.ENV_FILE
    pg = load_postgres(stack.state_dir)
    if args.postgres and (pg is None or not pg.is_alive()):
        if pg is not None:
            stop_postgres(pg, stack.state_dir)
        pg = start_postgres(state_dir=stack.state_dir)
    # The stack rewrites the env file when it (re)starts something: put the PG* keys back.
    write_env(env_file, pg if pg is not None and pg.is_alive() else None)
    if args.json:
        env = stack.env() | (pg.env() if pg is not None else {})
        print(json.dumps({"env": env, "timings": stack.timings, "reused": stack.reused}))
        return 0
    print("reused running services" if stack.reused else "started")
    for line in services.describe(stack):
        print(f"  {line}")
    if pg is not None:
        print(f"  postgres: running pid {pg.pid} on {pg.host}:{pg.port} user {pg.user}")
    if stack.timings:
        print("  timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in stack.timings.items()))
    print(f"env file: {env_file}  (source it: set -a; . {env_file}; set +a)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
