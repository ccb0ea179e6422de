"""A throwaway PostgreSQL server for tests and benchmarks.

It runs the real server binaries (Debian's ``postgresql`` package, or any directory given by
``POSTGRES_BIN_DIR``) in a temporary directory: ``initdb``, a free loopback port, the unix
socket inside the temporary directory and durability switched off for speed (the data is
thrown away anyway). PostgreSQL refuses to run as root, so when the current user is root the
server runs as the unprivileged ``postgres`` user that the Debian package creates.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEBIAN_ROOT = Path("/usr/lib/postgresql")
RUN_AS_USER = "postgres"
SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No usable PostgreSQL binaries on this machine (the reason is the message)."""


@dataclass(frozen=True)
class PostgresBinaries:
    bin_dir: Path
    version: str

    def tool(self, name: str) -> str:
        return str(self.bin_dir / name)


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)


def find_binaries() -> PostgresBinaries:
    """POSTGRES_BIN_DIR, else pg_ctl on PATH, else the newest Debian /usr/lib/postgresql/*/bin."""
    candidates: list[Path] = []
    if env_dir := os.environ.get("POSTGRES_BIN_DIR"):
        candidates.append(Path(env_dir))
    elif on_path := shutil.which("pg_ctl"):
        candidates.append(Path(on_path).resolve().parent)
    else:
        candidates.extend(sorted(DEBIAN_ROOT.glob("*/bin"), key=_version_key, reverse=True))
    for bin_dir in candidates:
        if all((bin_dir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            out = subprocess.run(
                [str(bin_dir / "postgres"), "--version"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            return PostgresBinaries(bin_dir=bin_dir, version=out)
    searched = ", ".join(str(c) for c in candidates) or f"PATH and {DEBIAN_ROOT}/*/bin"
    raise PostgresUnavailable(
        f"no PostgreSQL server binaries (initdb, pg_ctl, postgres) found in {searched}; "
        "install Debian's 'postgresql' package or set POSTGRES_BIN_DIR"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory; ``start()`` then ``stop()``."""

    def __init__(self, binaries: PostgresBinaries | None = None) -> None:
        self.binaries = binaries or find_binaries()
        self.host = "127.0.0.1"
        self.port = 0
        self._tmp: Path | None = None
        self._run_as: list[str] = []

    @property
    def data_dir(self) -> Path:
        assert self._tmp is not None
        return self._tmp / "data"

    def _prepare_user(self) -> None:
        if os.geteuid() != 0:
            return
        try:
            user = pwd.getpwnam(RUN_AS_USER)
        except KeyError as exc:
            raise PostgresUnavailable(
                f"running as root and there is no '{RUN_AS_USER}' user to run PostgreSQL as"
            ) from exc
        assert self._tmp is not None
        os.chown(self._tmp, user.pw_uid, user.pw_gid)
        self._run_as = ["runuser", "-u", RUN_AS_USER, "--"]

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self._run_as, *args], capture_output=True, text=True, check=False, cwd=self._tmp
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:2])} failed ({result.returncode}):\n{result.stdout}\n"
                f"{result.stderr}\n{self._log_tail()}"
            )

    def _log_tail(self) -> str:
        log = (self._tmp / "server.log") if self._tmp else None
        if log and log.exists():
            return "server log:\n" + log.read_text(errors="replace")[-2000:]
        return ""

    def start(self) -> PostgresServer:
        # As root the server runs as another user, who must be able to reach the directory:
        # /tmp always allows that, a TMPDIR under a private home may not.
        base = "/tmp" if os.geteuid() == 0 else None
        self._tmp = Path(tempfile.mkdtemp(prefix="pgtest-", dir=base))
        atexit.register(self.stop)
        self._prepare_user()
        self._run(
            self.binaries.tool("initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self._tmp}",
                # Throwaway data: durability buys nothing here and costs seconds.
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        for attempt in range(3):
            self.port = _free_port()
            try:
                self._run(
                    self.binaries.tool("pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self._tmp / "server.log"),
                    "-o",
                    f"{options} -p {self.port}",
                    "-w",
                    "-t",
                    "60",
                    "start",
                )
                break
            except RuntimeError:
                # Another process may have taken the free port in between: try a new one.
                if attempt == 2:
                    raise
        return self

    def stop(self) -> None:
        if self._tmp is None:
            return
        tmp, self._tmp = self._tmp, None
        if (tmp / "data" / "postmaster.pid").exists():
            subprocess.run(
                [
                    *self._run_as,
                    self.binaries.tool("pg_ctl"),
                    "-D",
                    str(tmp / "data"),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                capture_output=True,
                check=False,
                cwd=tmp,
            )
        shutil.rmtree(tmp, ignore_errors=True)

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its connection URL."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"invalid database name: {name!r}")
        import psycopg  # imported here so that importing this module stays cheap

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
        return self.dsn(name)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.stop()


def main() -> None:
    """``python -m devtools.postgres_server``: a throwaway server until Ctrl-C."""
    import signal

    with PostgresServer() as server:
        print(f"{server.binaries.version} running; connection URL: {server.dsn()}", flush=True)
        print("press Ctrl-C to stop (the data is deleted)", flush=True)
        stop_signals = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        signal.sigwait(stop_signals)


if __name__ == "__main__":
    main()
