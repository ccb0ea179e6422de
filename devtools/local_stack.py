"""The whole local set-up in one command, on loopback: ``python -m devtools.local_stack``.

Starts a throwaway PostgreSQL and a single-node Cassandra (both on free loopback ports, data
deleted on exit), creates the ``checkins`` keyspace, then the auth service on 127.0.0.1:8001
(issuer ``http://127.0.0.1:8001``, migrations on start, fresh signing keys) and the app on
127.0.0.1:8000 (its JWKS from the auth service, a fresh cursor key). Ctrl-C stops everything.
The same set-up as the services' READMEs describe step by step.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.request

from devtools.cassandra_keyspaces import create_test_keyspace
from devtools.cassandra_server import LocalCassandra
from devtools.postgres_server import PostgresServer

AUTH_PORT = 8001
APP_PORT = 8000
ISSUER = f"http://127.0.0.1:{AUTH_PORT}"


def _wait_ready(name: str, port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{name} was not ready within {timeout:.0f} s")


def main() -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "APP_"))}
    procs: list[subprocess.Popen] = []
    with PostgresServer().start() as postgres:
        cassandra = LocalCassandra()
        node = cassandra.start()
        try:
            from cassandra.cluster import Cluster

            cluster = Cluster(list(node.contact_points), port=node.port)
            create_test_keyspace(cluster.connect(), "checkins")
            cluster.shutdown()
            keys = subprocess.run(
                [sys.executable, "-m", "auth_service.keygen"],
                check=True, capture_output=True, text=True,
            ).stdout.strip()  # fmt: skip
            auth_env = base | {
                "AUTH_DATABASE_URL": postgres.dsn(),
                "AUTH_DB_REQUIRE_TLS": "false",
                "AUTH_DB_SSLMODE": "disable",
                "AUTH_ISSUER": ISSUER,
                "AUTH_SIGNING_KEYS": keys,
                "AUTH_MIGRATE_ON_START": "true",
                "AUTH_HOST": "127.0.0.1",
                "AUTH_PORT": str(AUTH_PORT),
            }
            procs.append(subprocess.Popen([sys.executable, "-m", "auth_service"], env=auth_env))
            _wait_ready("auth", AUTH_PORT, procs[-1])
            app_env = base | {
                "KEYSPACES_CONTACT_POINTS": ",".join(node.contact_points),
                "KEYSPACES_PORT": str(node.port),
                "KEYSPACES_LOCAL_DC": node.local_dc,
                "KEYSPACES_KEYSPACE": "checkins",
                "APP_AUTH_JWKS_URL": f"{ISSUER}/.well-known/jwks.json",
                "APP_AUTH_JWKS_ALLOW_HTTP": "true",
                "APP_AUTH_ISSUER": ISSUER,
                "APP_CURSOR_KEYS": secrets.token_urlsafe(32),
                "APP_HOST": "127.0.0.1",
                "APP_PORT": str(APP_PORT),
            }
            procs.append(subprocess.Popen([sys.executable, "-m", "checkins_app"], env=app_env))
            _wait_ready("app", APP_PORT, procs[-1])
            print(
                f"auth: {ISSUER}/docs  app: http://127.0.0.1:{APP_PORT}/docs  (Ctrl-C stops)",
                flush=True,
            )
            while all(p.poll() is None for p in procs):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            for proc in reversed(procs):
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
            cassandra.stop()


if __name__ == "__main__":
    main()
