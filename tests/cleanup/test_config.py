"""Settings: bad values refused before anything is touched, with one line naming the setting and
its range; the README's settings table documents every setting with the range the code enforces;
``python -m cleanup_job`` runs the handler's code (dry run included)."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cleanup_job.__main__ import main as job_main
from cleanup_job.config import CleanupSettings, ConfigError, allowed, load_settings

from tests.cleanup.conftest import BUCKET, KMS_KEY, device_ids
from tests.cleanup.helpers import archive_objects, archived_rows, make_checkins

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "lambda" / "README.md"
BASE = {"CLEANUP_ARCHIVE_BUCKET": BUCKET, "CLEANUP_APP_MAX_AGE_DAYS": "30"}
BOUNDED = {
    name: field
    for name, field in CleanupSettings.model_fields.items()
    if allowed(field) is not None and field.annotation is not str
}


def _env(monkeypatch, values: dict[str, str]) -> None:
    for name in list(os.environ):
        if name.startswith(("CLEANUP_", "KEYSPACES_")):
            monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def _below(field) -> str:
    low = next(m for m in field.metadata if hasattr(m, "ge")).ge
    return str(low - 1)


def test_a_fetch_size_below_ten_is_refused_with_its_range(monkeypatch):
    _env(monkeypatch, {**BASE, "CLEANUP_FETCH_SIZE": "5"})
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert str(refused.value) == "CLEANUP_FETCH_SIZE=5 is invalid (allowed: 10 to 10000)"


@pytest.mark.parametrize("name", sorted(BOUNDED))
def test_every_bounded_setting_names_its_range_when_refused(monkeypatch, name):
    variable = f"CLEANUP_{name.upper()}"
    _env(monkeypatch, {**BASE, variable: _below(BOUNDED[name])})
    with pytest.raises(ConfigError) as refused:
        load_settings()
    line = str(refused.value)
    assert "\n" not in line
    assert line.startswith(f"{variable}=") and f"(allowed: {allowed(BOUNDED[name])})" in line


@pytest.mark.parametrize(("retention", "max_age"), [("30", "30"), ("20", "30")])
def test_a_retention_at_or_below_the_apps_max_age_is_refused(monkeypatch, retention, max_age):
    _env(
        monkeypatch,
        {**BASE, "CLEANUP_RETENTION_DAYS": retention, "CLEANUP_APP_MAX_AGE_DAYS": max_age},
    )
    with pytest.raises(ConfigError) as refused:
        load_settings()
    line = str(refused.value)
    assert "\n" not in line
    assert f"CLEANUP_RETENTION_DAYS={retention}" in line
    assert f"CLEANUP_APP_MAX_AGE_DAYS={max_age}" in line and "APP_MAX_AGE_DAYS" in line
    _env(monkeypatch, {**BASE, "CLEANUP_RETENTION_DAYS": "31"})
    assert load_settings().retention_days == 31


def _readme_settings() -> dict[str, tuple[str, str]]:
    """variable -> (default, range) from the README's settings table."""
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `(CLEANUP_[A-Z0-9_]+)` \| ([^|]*) \| ([^|]*) \|", line)
        if match:
            rows[match[1]] = (match[2].strip(), match[3].strip())
    return rows


def test_the_readme_documents_every_setting_and_its_range():
    documented = _readme_settings()
    expected = {f"CLEANUP_{name.upper()}" for name in CleanupSettings.model_fields}
    assert set(documented) == expected
    for name, field in CleanupSettings.model_fields.items():
        rng = allowed(field)
        shown = documented[f"CLEANUP_{name.upper()}"][1]
        assert shown == (f"{rng}" if rng is not None else "—"), name


def _command(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    paths = [str(ROOT / "lambda"), str(ROOT / "libs" / "checkins_data"), str(ROOT)]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CLEANUP_", "KEYSPACES_"))}
    clean["PYTHONPATH"] = os.pathsep.join(paths)
    # An unreachable node: a bad setting must stop the command before any connection.
    clean.update({"KEYSPACES_CONTACT_POINTS": "192.0.2.1", "KEYSPACES_CONNECT_TIMEOUT_S": "1"})
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "cleanup_job", "--dry-run"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({**BASE, "CLEANUP_FETCH_SIZE": "5"}, ["CLEANUP_FETCH_SIZE", "10 to 10000"]),
        ({"CLEANUP_ARCHIVE_BUCKET": BUCKET}, ["CLEANUP_APP_MAX_AGE_DAYS", "1 to 365"]),
        (
            {**BASE, "CLEANUP_RETENTION_DAYS": "30"},
            ["CLEANUP_RETENTION_DAYS=30", "CLEANUP_APP_MAX_AGE_DAYS=30"],
        ),
        ({**BASE, "KEYSPACES_PORT": "0"}, ["KEYSPACES_PORT=0", "1 to 65535"]),
    ],
    ids=["fetch-size", "no-app-max-age", "retention-not-beyond-app", "keyspaces-port"],
)
def test_the_command_refuses_bad_settings_with_one_line_and_status_2(env, names):
    done = _command(env)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    for name in names:
        assert name in line


def test_the_command_dry_runs_then_runs_like_the_handler(
    seeder, s3, cassandra_node, monkeypatch, capsys
):
    old_day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=60)
    old = make_checkins(random.Random(3), [old_day], device_ids(2, 3), 8)
    seeder.write(old)
    _env(
        monkeypatch,
        {
            **BASE,
            "CLEANUP_KMS_KEY_ID": KMS_KEY,
            "CLEANUP_S3_REGION": "eu-west-1",
            "CLEANUP_RETENTION_DAYS": "31",
            "KEYSPACES_CONTACT_POINTS": ",".join(cassandra_node.contact_points),
            "KEYSPACES_PORT": str(cassandra_node.port),
            "KEYSPACES_LOCAL_DC": cassandra_node.local_dc,
            "KEYSPACES_KEYSPACE": seeder.keyspace,
            "KEYSPACES_REQUEST_TIMEOUT_S": "30",
        },
    )
    assert job_main(["--dry-run"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    planned = [e for e in events if e["event"] == "partition-would-archive"]
    assert len(planned) == 2 and sum(e["rows"] for e in planned) == len(old)
    assert archive_objects(s3, BUCKET) == {} and seeder.table_rows() == sorted(old)

    assert job_main(["--time-budget", "600"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[-2]["event"] == "run-finished" and events[-2]["rows_archived"] == len(old)
    assert set(archive_objects(s3, BUCKET)) == {e["key"] for e in planned}
    assert archived_rows(s3, BUCKET) == sorted(old) and seeder.table_rows() == []

    # A bad setting with everything else in place: status 2, one line, nothing touched.
    seeder.write(old)
    monkeypatch.setenv("CLEANUP_FETCH_SIZE", "5")
    assert job_main([]) == 2
    out = capsys.readouterr()
    assert out.out == "" and len(out.err.splitlines()) == 1
    assert seeder.table_rows() == sorted(old)
