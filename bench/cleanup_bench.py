"""Cleanup job benchmark: rows/s archived and peak memory for 10k, 100k and 1M rows.

    python bench/cleanup_bench.py [--sizes 10000,100000,1000000] [--rows-per-partition 1000]

Starts a real single-node Cassandra through the test harness (or uses CASSANDRA_CONTACT_POINTS),
loads each size into a fresh keyspace the way the app writes (active_days, day_partitions, rows),
then runs the real job (archive, verify by HEAD and read-back, delete) in a child process against
S3 emulated by moto's server (``moto_server``) in a separate process on 127.0.0.1, reached through
the job's ``s3_endpoint_url`` setting. The child measures its own wall time and peak RSS, so each
size starts from the same baseline; moto's storage lives in its own process, so the archive it
holds does not count as the job's memory. The KMS key for SSE-KMS is created through the same
server. Target: >= 20k rows/s, peak RSS within 10% across the sizes. Results also go to
bench/results/cleanup.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import resource
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TODAY = dt.date(2026, 6, 1)
DAYS = 4
LOAD_BUDGET_S = float(os.environ.get("CLEANUP_BENCH_LOAD_BUDGET_S", "900"))
REGION = "eu-west-1"
S3_HOST = "127.0.0.1"
S3_START_BUDGET_S = 60.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((S3_HOST, 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def moto_server() -> Iterator[tuple[str, int]]:
    """Run moto's S3/KMS server in its own process; yields (endpoint URL, port).

    A separate process keeps moto's object storage out of the measured child's memory.
    """
    port = _free_port()
    # Request logs go nowhere: a full pipe would stall the server.
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", S3_HOST, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + S3_START_BUDGET_S
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"moto server exited with {server.returncode}")
            try:
                socket.create_connection((S3_HOST, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"moto server not listening on {S3_HOST}:{port}") from None
                time.sleep(0.2)
        yield f"http://{S3_HOST}:{port}", port
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _client(service: str, endpoint: str):
    import boto3

    return boto3.client(service, region_name=REGION, endpoint_url=endpoint)


def _node():
    from devtools.cassandra_server import LocalCassandra, external_node_from_env

    external = external_node_from_env()
    if external is not None:
        return external, None
    node = LocalCassandra()
    return node.start(), node


def load(session, keyspace: str, rows: int, per_partition: int) -> float:
    """Insert ``rows`` check-ins over DAYS old days; returns the seconds it took."""
    from cassandra.concurrent import execute_concurrent_with_args
    from checkins_data import schema

    began = time.monotonic()
    rng = random.Random(rows)
    insert_day = session.prepare(f"INSERT INTO {keyspace}.active_days (bucket, day) VALUES (?, ?)")
    insert_index = session.prepare(
        f"INSERT INTO {keyspace}.day_partitions (day, shard, device_id) VALUES (?, ?, ?)"
    )
    insert_row = session.prepare(
        f"INSERT INTO {keyspace}.checkins_by_device_day "
        "(device_id, day, ts, checkin_id, payload, received_at) VALUES (?, ?, ?, ?, ?, ?)"
    )
    partitions = max(1, rows // per_partition)
    days = [TODAY - dt.timedelta(days=100 + d) for d in range(DAYS)]
    for day in days:
        session.execute(insert_day, (schema.ACTIVE_DAYS_BUCKET, day))
    batch: list[tuple] = []
    written = 0
    for p in range(partitions):
        day = days[p % DAYS]
        device = uuid.UUID(int=rng.getrandbits(128), version=4)
        session.execute(insert_index, (day, schema.shard_for(device), device))
        count = per_partition if p < partitions - 1 else rows - written
        start = dt.datetime.combine(day, dt.time())
        for i in range(count):
            ts = start + dt.timedelta(milliseconds=i * 60_000 + rng.randrange(1000))
            payload = json.dumps(
                {"battery": rng.randint(0, 100), "acc": rng.random() * 50, "app": "3.14.1"}
            )
            batch.append((device, day, ts, uuid.UUID(int=rng.getrandbits(128)), payload, ts))
        written += count
        if len(batch) >= 20_000:
            execute_concurrent_with_args(session, insert_row, batch, concurrency=200)
            batch.clear()
            if time.monotonic() - began > LOAD_BUDGET_S:
                raise TimeoutError(f"loaded {written} rows in {time.monotonic() - began:.0f}s")
    if batch:
        execute_concurrent_with_args(session, insert_row, batch, concurrency=200)
    return time.monotonic() - began


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(args: argparse.Namespace) -> None:
    """Run the job once, print rows/s and peak RSS as JSON."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    from checkins_data.connection import KeyspacesSettings, connect
    from cleanup_job.config import CleanupSettings
    from cleanup_job.handler import run_once
    from cleanup_job.report import Reporter
    from cleanup_job.s3store import make_s3_client

    # No moto import here: the S3 emulation runs in its own process (see moto_server).
    settings = CleanupSettings(
        archive_bucket=args.bucket,
        kms_key_id=args.kms_key_id,
        retention_days=30,
        app_max_age_days=7,
        s3_endpoint_url=args.s3_endpoint,
        s3_region=REGION,
        fetch_size=1000,
        verify_reread=not args.no_reread,
    )
    s3 = make_s3_client(settings)
    keyspaces = KeyspacesSettings(
        contact_points=(args.host,),
        port=args.port,
        keyspace=args.keyspace,
        request_timeout_s=60,
    )
    cluster, session = connect(keyspaces)
    # Open the HTTP connection and warm moto's S3 backend before the clock starts.
    s3.put_object(Bucket=args.bucket, Key="warm-up", Body=b"")
    s3.delete_object(Bucket=args.bucket, Key="warm-up")
    # Time the statement preparation alone: a fixed cost per invocation, not per row.
    from cleanup_job.source import CheckinsSource

    prepared_at = time.monotonic()
    CheckinsSource(session, args.keyspace)
    prepare_s = time.monotonic() - prepared_at
    baseline = _rss_kib("VmRSS")
    profiler = None
    if os.environ.get("CLEANUP_BENCH_PROFILE"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    with open(os.devnull, "w") as sink:
        began = time.monotonic()
        summary = run_once(
            {},
            None,
            settings=settings,
            session=session,
            keyspace=args.keyspace,
            s3_client=s3,
            today=TODAY,
            reporter=Reporter("bench", "bench", stream=sink),
        )
        seconds = time.monotonic() - began
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    # VmHWM is reset by exec (unlike ru_maxrss, which a child inherits from its parent).
    peak = _rss_kib("VmHWM")
    cluster.shutdown()
    print(
        json.dumps(
            {
                "rows": summary.rows_archived,
                "partitions": summary.partitions_archived,
                "bytes": summary.bytes_archived,
                "seconds": round(seconds, 2),
                "rows_per_s": round(summary.rows_archived / seconds),
                "prepare_s": round(prepare_s, 2),
                "peak_rss_mib": round(peak / 1024, 1),
                "baseline_rss_mib": round(baseline / 1024, 1),
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--rows-per-partition", type=int, default=1000)
    parser.add_argument("--no-reread", action="store_true", help="verify by HEAD only")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--host", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--keyspace", help=argparse.SUPPRESS)
    parser.add_argument("--s3-endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--bucket", help=argparse.SUPPRESS)
    parser.add_argument("--kms-key-id", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0

    from checkins_data.connection import connect

    from devtools.cassandra_keyspaces import (
        create_test_keyspace,
        drop_test_keyspace,
        node_settings,
    )

    # Dummy credentials: the only endpoint is the local moto server.
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    os.environ.pop("AWS_SESSION_TOKEN", None)
    info, node = _node()
    print(f"cassandra: {info.description}")
    results = []
    stack = contextlib.ExitStack()
    try:
        endpoint, s3_port = stack.enter_context(moto_server())
        print(f"S3: moto server on {S3_HOST}:{s3_port}, separate process")
        kms_key_id = _client("kms", endpoint).create_key(Description="cleanup bench archive")[
            "KeyMetadata"
        ]["Arn"]
        s3 = _client("s3", endpoint)
        cluster, session = connect(node_settings(info, ""), keyspace="")
        for size in (int(s) for s in args.sizes.split(",")):
            keyspace = create_test_keyspace(session, f"bench_{size}")
            try:
                try:
                    load_s = load(session, keyspace, size, args.rows_per_partition)
                except TimeoutError as exc:
                    print(f"{size:>9} rows: load stopped at the {LOAD_BUDGET_S:.0f}s budget: {exc}")
                    break
                # A fresh bucket per size: the day manifests of one size never meet another's.
                bucket = f"bench-archive-{size}"
                s3.create_bucket(
                    Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
                )
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        "--host",
                        info.contact_points[0],
                        "--port",
                        str(info.port),
                        "--keyspace",
                        keyspace,
                        "--s3-endpoint",
                        endpoint,
                        "--bucket",
                        bucket,
                        "--kms-key-id",
                        kms_key_id,
                    ]
                    + (["--no-reread"] if args.no_reread else []),
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                result = json.loads(out.strip().splitlines()[-1])
                result["load_s"] = round(load_s, 1)
                results.append(result)
                print(
                    f"{size:>9} rows: {result['rows_per_s']:>7} rows/s archived "
                    f"({result['rows']} rows, {result['partitions']} partitions, "
                    f"{result['bytes'] / 2**20:.1f} MiB gzip, {result['seconds']} s), "
                    f"peak RSS {result['peak_rss_mib']} MiB "
                    f"(baseline {result['baseline_rss_mib']} MiB); load {load_s:.0f} s; "
                    f"preparing the statements once: {result['prepare_s']} s"
                )
            finally:
                drop_test_keyspace(session, keyspace)
        cluster.shutdown()
    finally:
        stack.close()
        if node is not None:
            node.stop()
    if results:
        peaks = [r["peak_rss_mib"] for r in results]
        spread = (max(peaks) - min(peaks)) / min(peaks) * 100
        print(f"peak RSS spread across sizes: {spread:.1f}% (target <= 10%)")
        print(f"slowest: {min(r['rows_per_s'] for r in results)} rows/s (target >= 20000)")
        out_dir = ROOT / "bench" / "results"
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "cleanup.json").write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
