"""Cleanup job benchmark: rows/s archived and peak memory for 10k, 100k and 1M rows.

    python bench/cleanup_bench.py [--sizes 10000,100000,1000000] [--rows-per-partition 1000]

Starts a real single-node Cassandra through the test harness (or uses CASSANDRA_CONTACT_POINTS),
loads each size into a fresh keyspace the way the app writes (active_days, day_partitions, rows),
then runs the real job (archive, verify by HEAD and read-back, delete) in a child process against
S3 emulated by moto in-process. The child measures its own wall time and peak RSS, so each size
starts from the same baseline; moto is told to spill every stored object to disk so the archive
it holds does not count as the job's memory. Target: >= 20k rows/s, peak RSS within 10% across
the sizes. Results also go to bench/results/cleanup.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TODAY = dt.date(2026, 6, 1)
DAYS = 4
LOAD_BUDGET_S = float(os.environ.get("CLEANUP_BENCH_LOAD_BUDGET_S", "900"))


def _node():
    from tests.support.cassandra_server import LocalCassandra, external_node_from_env

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
    from moto import mock_aws

    with mock_aws():
        settings = CleanupSettings(
            archive_bucket="bench-archive",
            kms_key_id="arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-4000-8000-000000000000",
            retention_days=30,
            s3_region="eu-west-1",
            fetch_size=1000,
            verify_reread=not args.no_reread,
        )
        s3 = make_s3_client(settings)
        s3.create_bucket(
            Bucket="bench-archive", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        keyspaces = KeyspacesSettings(
            contact_points=(args.host,),
            port=args.port,
            keyspace=args.keyspace,
            request_timeout_s=60,
        )
        cluster, session = connect(keyspaces)
        # Load moto's S3 backend before the clock starts (its first call imports a lot).
        s3.put_object(Bucket="bench-archive", Key="warm-up", Body=b"")
        s3.delete_object(Bucket="bench-archive", Key="warm-up")
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
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0

    from checkins_data.connection import connect

    from tests.support.cassandra_fixtures import (
        create_test_keyspace,
        drop_test_keyspace,
        node_settings,
    )

    info, node = _node()
    print(f"cassandra: {info.description}")
    print("S3: moto in-process (moto.mock_aws) in the measured child process")
    results = []
    try:
        cluster, session = connect(node_settings(info, ""), keyspace="")
        for size in (int(s) for s in args.sizes.split(",")):
            keyspace = create_test_keyspace(session, f"bench_{size}")
            try:
                try:
                    load_s = load(session, keyspace, size, args.rows_per_partition)
                except TimeoutError as exc:
                    print(f"{size:>9} rows: load stopped at the {LOAD_BUDGET_S:.0f}s budget: {exc}")
                    break
                env = {**os.environ, "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE": "1"}
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
                    ]
                    + (["--no-reread"] if args.no_reread else []),
                    env=env,
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
