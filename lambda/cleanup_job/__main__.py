"""Run the cleanup job outside Lambda, with the same code as the handler.

    python -m cleanup_job [--dry-run] [--time-budget SECONDS]

Reads the same ``CLEANUP_*`` and ``KEYSPACES_*`` settings as the Lambda function and calls the
handler's :func:`~cleanup_job.handler.run_once`: the same days, leases, archive, verification
and deletes, the same JSON lines on stdout. Exit status: 0 done, 1 some partition or day
failed (left untouched for the next run), 2 bad settings or arguments (one line on stderr,
nothing touched).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from checkins_data.connection import connect

from cleanup_job.config import ConfigError
from cleanup_job.handler import CleanupFailed, configure, run_once
from cleanup_job.s3store import make_s3_client

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


class _Budget:
    """Stands in for the Lambda context: the time left of ``--time-budget``."""

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._end - time.monotonic()) * 1000))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cleanup_job",
        description="Archive check-ins older than the retention to S3, verify, then delete them.",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="read and report only; write and delete nothing"
    )
    parser.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="stop starting work when less than CLEANUP_TIME_MARGIN_SECONDS of this is left "
        "(as the Lambda timeout does); default: no limit",
    )
    args = parser.parse_args(argv)
    if args.time_budget is not None and args.time_budget <= 0:
        parser.error("--time-budget must be > 0")
    try:
        settings, keyspaces = configure()
    except ConfigError as exc:
        print(f"python -m cleanup_job: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    context = None if args.time_budget is None else _Budget(args.time_budget)
    cluster, session = connect(keyspaces)
    try:
        run_once(
            {"dry_run": args.dry_run},
            context,
            settings=settings,
            session=session,
            keyspace=keyspaces.keyspace,
            s3_client=make_s3_client(settings),
        )
    except CleanupFailed as exc:
        print(f"python -m cleanup_job: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        cluster.shutdown()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
