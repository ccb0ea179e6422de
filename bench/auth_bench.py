"""Auth service benchmark: a real uvicorn (the image's command) on loopback, real PostgreSQL.

    make bench-auth    (or: .venv/bin/python bench/auth_bench.py --seconds 3 --concurrency 8)

Scenarios, each for a fixed time at a fixed number of keep-alive connections, run in
interleaved rounds:
  login    POST /v1/token (Argon2id verify at the configured parameters)
  refresh  POST /v1/token/refresh (each connection follows its own rotating token chain)
  jwks     GET /.well-known/jwks.json
and two floors measured in the same run:
  argon2   one PasswordHasher.verify at the configured parameters, in-process
  bare     a bare FastAPI endpoint served by the same uvicorn command line
Targets: login at concurrency 1 <= 1.15 x the Argon2 floor per request; refresh and JWKS
>= 40 % of the bare endpoint's req/s at the same concurrency.

The load generator is a small asyncio HTTP/1.1 client (prebuilt requests, keep-alive), so
that the client costs as little CPU as possible; on a small machine client and server still
share the cores, which caps every figure the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from argon2 import PasswordHasher, Type  # noqa: E402
from auth_service.core.config import Settings  # noqa: E402
from auth_service.core.security import generate_signing_key  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from devtools.postgres_server import PostgresServer  # noqa: E402
from tests.auth.live_server import LiveServer  # noqa: E402

PASSWORD = "benchmark passphrase 2026"
LOGIN_TARGET = 1.15
FLOOR_SHARE_TARGET = 0.40


def create_bare_app() -> FastAPI:
    """The floor: one trivial JSON endpoint, nothing else."""
    app = FastAPI()

    @app.get("/ping")
    @app.get("/health")  # what the server runner polls before the run starts
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    return app


# --- a minimal keep-alive HTTP/1.1 client ---------------------------------------------------


def build_request(method: str, path: str, body: dict | None = None) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\n"
    if body is None:
        return (head + "\r\n").encode()
    payload = json.dumps(body).encode()
    head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    return head.encode() + payload


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body


@dataclass
class Result:
    name: str
    concurrency: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    # CPU time used while the scenario ran (warm-up included), and the requests it served.
    requests: int = 0
    server_cpu: float = 0.0
    db_cpu: float = 0.0

    def cpu_us(self, seconds: float) -> float:
        return seconds / self.requests * 1e6 if self.requests else float("nan")

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.latencies) * 1000


# A scenario gives each connection a request factory: next_request(previous_body) -> bytes.
Factory = Callable[[int], Callable[[bytes | None], bytes]]


def cpu_seconds(pids: list[int]) -> float:
    """user + system CPU time of these processes, from /proc (Linux)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_pids(pg: PostgresServer) -> list[int]:
    """The postmaster and its children (the backends serving the pool's connections)."""
    postmaster = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return pids


async def run_scenario(
    name: str,
    port: int,
    factory: Factory,
    concurrency: int,
    seconds: float,
    warmup: float,
    server_pid: int,
    db_pids: Callable[[], list[int]],
) -> Result:
    result = Result(name, concurrency, seconds)
    server_before, db_before = cpu_seconds([server_pid]), cpu_seconds(db_pids())

    async def connection(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        next_request = factory(index)
        previous: bytes | None = None
        start = time.perf_counter()
        measure_from, stop_at = start + warmup, start + warmup + seconds
        try:
            while (now := time.perf_counter()) < stop_at:
                writer.write(next_request(previous))
                status, previous = await read_response(reader)
                done = time.perf_counter()
                result.requests += 1
                if now >= measure_from:
                    if 200 <= status < 300:
                        result.latencies.append(done - now)
                    else:
                        result.errors += 1
                if not 200 <= status < 300:
                    raise RuntimeError(f"{name}: HTTP {status}: {previous[:200]!r}")
        finally:
            writer.close()

    await asyncio.gather(*(connection(i) for i in range(concurrency)))
    result.server_cpu = cpu_seconds([server_pid]) - server_before
    result.db_cpu = cpu_seconds(db_pids()) - db_before
    return result


# --- scenarios ------------------------------------------------------------------------------


def login_factory(emails: list[str]) -> Factory:
    def per_connection(index: int) -> Callable[[bytes | None], bytes]:
        request = build_request(
            "POST",
            "/v1/token",
            {"grant_type": "password", "email": emails[index % len(emails)], "password": PASSWORD},
        )
        return lambda _previous: request

    return per_connection


def refresh_factory(initial_tokens: list[str]) -> Factory:
    def per_connection(index: int) -> Callable[[bytes | None], bytes]:
        first = initial_tokens[index]

        def next_request(previous: bytes | None) -> bytes:
            token = json.loads(previous)["refresh_token"] if previous else first
            return build_request("POST", "/v1/token/refresh", {"refresh_token": token})

        return next_request

    return per_connection


def static_factory(path: str) -> Factory:
    request = build_request("GET", path)
    return lambda _index: lambda _previous: request


async def call_once(port: int, method: str, path: str, body: dict | None) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(build_request(method, path, body))
        return await read_response(reader)
    finally:
        writer.close()


async def prepare_users(port: int, count: int) -> tuple[list[str], list[str]]:
    emails = []
    for i in range(count):
        email = f"bench-{i}-{time.time_ns()}@example.com"
        status, body = await call_once(
            port, "POST", "/v1/users", {"email": email, "password": PASSWORD}
        )
        assert status == 201, body
        emails.append(email)
    return emails, await fresh_tokens(port, emails)


async def fresh_tokens(port: int, emails: list[str]) -> list[str]:
    tokens = []
    for email in emails:
        status, body = await call_once(
            port,
            "POST",
            "/v1/token",
            {"grant_type": "password", "email": email, "password": PASSWORD},
        )
        assert status == 200, body
        tokens.append(json.loads(body)["refresh_token"])
    return tokens


def argon2_floor(settings: Settings) -> Callable[[float], Result]:
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        type=Type.ID,
    )
    stored = hasher.hash(PASSWORD)
    hasher.verify(stored, PASSWORD)  # warm-up

    def measure(seconds: float) -> Result:
        result = Result("argon2 verify (floor)", 1, seconds)
        cpu_before = time.process_time()
        stop_at = time.perf_counter() + seconds
        while (start := time.perf_counter()) < stop_at:
            hasher.verify(stored, PASSWORD)
            result.latencies.append(time.perf_counter() - start)
        result.requests = len(result.latencies)
        result.server_cpu = time.process_time() - cpu_before
        return result

    return measure


def merge(parts: list[Result]) -> Result:
    merged = Result(parts[0].name, parts[0].concurrency, sum(p.seconds for p in parts))
    for part in parts:
        merged.latencies.extend(part.latencies)
        merged.errors += part.errors
        merged.requests += part.requests
        merged.server_cpu += part.server_cpu
        merged.db_cpu += part.db_cpu
    return merged


# --- main -----------------------------------------------------------------------------------


def print_table(results: list[Result]) -> None:
    print(
        f"{'scenario':<24}{'conc':>5}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}"
        f"{'app CPU us/req':>16}{'db CPU us/req':>15}"
    )
    for r in results:
        cpu = f"{r.cpu_us(r.server_cpu):>16.0f}{r.cpu_us(r.db_cpu):>15.0f}" if r.requests else ""
        print(
            f"{r.name:<24}{r.concurrency:>5}{r.rps:>8.0f}{r.pct(0.50):>9.2f}"
            f"{r.pct(0.99):>9.2f}{r.mean_ms:>9.2f}{cpu}"
        )


async def main_async(args: argparse.Namespace) -> int:
    keys = json.dumps({"keys": [generate_signing_key("bench")]})
    with PostgresServer() as pg:
        url = pg.create_database("auth_bench")
        env = {
            "AUTH_DATABASE_URL": url,
            "AUTH_DB_REQUIRE_TLS": "false",
            "AUTH_DB_SSLMODE": "disable",
            "AUTH_SIGNING_KEYS": keys,
            "AUTH_ISSUER": "https://auth.bench.example",
            "AUTH_MIGRATE_ON_START": "true",
            "AUTH_DB_POOL_MIN_SIZE": str(args.concurrency),
            "AUTH_DB_POOL_MAX_SIZE": str(args.concurrency),
        }
        settings = Settings(signing_keys=keys, issuer="x", database_url=url)
        print(f"PostgreSQL: {pg.binaries.version}; load average {os.getloadavg()[0]:.1f}")
        print(
            f"Argon2id: m={settings.argon2_memory_kib} KiB, t={settings.argon2_time_cost}, "
            f"p={settings.argon2_parallelism}; {args.seconds:.0f} s per scenario, "
            f"concurrency {args.concurrency}\n"
        )
        floor = argon2_floor(settings)
        bare_app = "auth_bench:create_bare_app"
        bare_server = LiveServer({}, app=bare_app, extra_args=["--app-dir", str(ROOT / "bench")])
        with bare_server as bare, LiveServer(env) as server:
            emails, tokens = await prepare_users(server.port, args.concurrency)
            c = args.concurrency
            assert bare.process is not None and server.process is not None
            scenarios: list[tuple[str, LiveServer, Factory, int]] = [
                ("bare FastAPI (floor)", bare, static_factory("/ping"), c),
                ("login", server, login_factory(emails), 1),
                ("login", server, login_factory(emails), c),
                ("refresh", server, refresh_factory(tokens), c),
                ("jwks", server, static_factory("/.well-known/jwks.json"), c),
            ]
            # Rounds interleave the scenarios, so that a change in the machine's load during
            # the run weighs on every scenario alike instead of on whichever ran at that time.
            parts: dict[int, list[Result]] = {i: [] for i in range(len(scenarios) + 1)}
            slice_seconds = args.seconds / args.rounds
            for _ in range(args.rounds):
                parts[0].append(floor(slice_seconds))
                for i, (name, target, factory, conc) in enumerate(scenarios, start=1):
                    assert target.process is not None
                    part = await run_scenario(
                        name,
                        target.port,
                        factory,
                        conc,
                        slice_seconds,
                        args.warmup,
                        server_pid=target.process.pid,
                        db_pids=lambda: postgres_pids(pg),
                    )
                    parts[i].append(part)
                    # The refresh chains continue from the last token of the previous round.
                    if name == "refresh":
                        tokens[:] = await fresh_tokens(server.port, emails)
        results = [merge(parts[i]) for i in sorted(parts)]
    print_table(results)
    floor, bare_result, login1, _, refresh, jwks = results
    login_ratio = login1.mean_ms / floor.mean_ms
    print()
    print(
        f"login (c=1) / argon2 verify: {login_ratio:.2f}x "
        f"(target <= {LOGIN_TARGET}x): {'met' if login_ratio <= LOGIN_TARGET else 'NOT met'}"
    )
    login_cpu = login1.cpu_us(login1.server_cpu) + login1.cpu_us(login1.db_cpu)
    print(
        f"  by CPU per request (app + db / verify): "
        f"{login_cpu / floor.cpu_us(floor.server_cpu):.2f}x"
    )
    for r in (refresh, jwks):
        share = r.rps / bare_result.rps
        verdict = "met" if share >= FLOOR_SHARE_TARGET else "NOT met"
        print(f"{r.name} / bare req/s: {share:.0%} (target >= {FLOOR_SHARE_TARGET:.0%}): {verdict}")
    # Wall-clock shares depend on how busy the machine is; CPU per request does much less.
    print(
        f"CPU per request (app + db) against bare: refresh "
        f"{(refresh.cpu_us(refresh.server_cpu) + refresh.cpu_us(refresh.db_cpu)):.0f} us, "
        f"jwks {(jwks.cpu_us(jwks.server_cpu) + jwks.cpu_us(jwks.db_cpu)):.0f} us, "
        f"bare {bare_result.cpu_us(bare_result.server_cpu):.0f} us"
    )
    errors = sum(r.errors for r in results)
    if errors:
        print(f"non-2xx responses: {errors}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="measured time per scenario (all rounds)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved slices per scenario")
    parser.add_argument("--warmup", type=float, default=0.2, help="unmeasured lead-in per slice")
    parser.add_argument("--concurrency", type=int, default=8, help="connections per scenario")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
