"""Issue 11: the app under hostile input. Cursors are tamper-evident, every read is bounded in
partitions and time whatever its input, and contracts are as strict as the README says."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from checkins_app.core.config import Settings
from checkins_app.main import create_app
from checkins_app.store.repository import Repository
from fastapi.testclient import TestClient
from service_kit.settings import ConfigError

from tests.app.conftest import app_settings
from tests.app.test_checkins import item, read_all, url


def _edit(cursor: str, **changes: object) -> str:
    """The cursor with its JSON fields changed, any signature kept as it was."""
    body, dot, signature = cursor.partition(".")
    doc = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    doc.update(changes)
    raw = json.dumps(doc, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + dot + signature


def _fields(cursor: str) -> dict:
    body = cursor.partition(".")[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def _stored_pair(client, caller, register) -> tuple[str, str]:
    device_id = register(caller)
    now = datetime.now(UTC)
    body = {"checkins": [item(now - timedelta(minutes=m)) for m in (1, 2)]}
    assert client.post(url(device_id), json=body, headers=caller.headers).status_code == 201
    page = client.get(url(device_id), params={"limit": 1}, headers=caller.headers).json()
    assert page["next_cursor"]
    return device_id, page["next_cursor"]


YEAR_9999_MS = int(datetime(9999, 1, 1, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    "changes",
    [
        {"t": YEAR_9999_MS},
        {"t": "plus-one-ms"},
        {"i": "new-id"},
        {"x": 1},
    ],
    ids=["year-9999", "ts-plus-1ms", "other-checkin-id", "added-field"],
)
def test_edited_cursor_is_400(client, caller, register, changes):
    device_id, cursor = _stored_pair(client, caller, register)
    fields = _fields(cursor)
    if changes.get("t") == "plus-one-ms":
        changes = {"t": fields["t"] + 1}
    if changes.get("i") == "new-id":
        changes = {"i": str(uuid.uuid4())}
    response = client.get(url(device_id), params={"cursor": _edit(cursor, **changes)},
                          headers=caller.headers)  # fmt: skip
    assert response.status_code == 400, response.text
    assert "cursor" in response.json()["detail"]


def test_unsigned_cursor_is_400(client, caller, register):
    device_id, cursor = _stored_pair(client, caller, register)
    unsigned = cursor.partition(".")[0]
    response = client.get(url(device_id), params={"cursor": unsigned}, headers=caller.headers)
    assert response.status_code == 400, response.text


class CountingRepository(Repository):
    """Counts the day partitions a read visits."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.partition_reads: list[tuple] = []
        self._day_reads = {id(self._day_from_top), id(self._day_same_ts), id(self._day_older)}

    async def _run(self, statement, params=None):
        if id(statement) in self._day_reads:
            self.partition_reads.append((params[0], params[1]))
        return await super()._run(statement, params)


@pytest.fixture
def counting(app_session, app_keyspace, auth_jwks):
    def make(**overrides):
        repo = CountingRepository(app_session, app_keyspace)
        app = create_app(app_settings(**overrides), repository=repo,
                         jwks_client=auth_jwks.client())  # fmt: skip
        return repo, TestClient(app, raise_server_exceptions=False)

    return make


@pytest.mark.parametrize("since_back", [timedelta(days=10), timedelta(days=10, hours=23)],
                         ids=["window-start", "a-day-before-the-window"])  # fmt: skip
def test_every_page_visits_at_most_the_window_s_partitions(counting, caller, since_back):
    # A generous deadline, so the partition budget (not the clock) is what bounds each page.
    from checkins_app.api.routes.checkins import window_days

    repo, client = counting(max_age_days=10, default_lookback_days=10, read_deadline_seconds=30)
    settings = app_settings(max_age_days=10, default_lookback_days=10)
    with client:
        device_id = client.post(
            "/v1/devices", json={"name": "p", "platform": "ios"}, headers=caller.headers
        ).json()["device_id"]
        oldest = datetime.now(UTC) - timedelta(days=10) + timedelta(hours=1)
        body = {"checkins": [item(oldest)]}
        assert client.post(url(device_id), json=body, headers=caller.headers).status_code == 201
        query: dict = {"limit": 5, "since": (datetime.now(UTC) - since_back).isoformat()}
        rows: list = []
        visited: list[int] = []
        while True:
            repo.partition_reads.clear()
            budget = window_days(settings, datetime.now(UTC))
            response = client.get(url(device_id), params=query, headers=caller.headers)
            assert response.status_code == 200, response.text
            visited.append(len({day for _, day in repo.partition_reads}))
            assert visited[-1] <= budget, visited
            page = response.json()
            rows += page["checkins"]
            if page["next_cursor"] is None:
                break
            query = {"limit": 5, "cursor": page["next_cursor"]}
            assert len(visited) < 5, visited
    assert [r["checkin_id"] for r in rows] == [body["checkins"][0]["checkin_id"]]
    # The row sits in the window's oldest day or the one after: the first page reaches it.
    assert len(visited) == 1 or since_back > timedelta(days=10)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 12, 1, 12, 0, tzinfo=UTC), 11),
        (datetime(2026, 12, 1, 23, 58, tzinfo=UTC), 12),  # the skew reaches tomorrow
    ],
)
def test_page_budget_is_the_days_of_the_window(now, expected):
    from checkins_app.api.routes.checkins import window_days

    settings = app_settings(max_age_days=10, default_lookback_days=10)
    assert settings.max_future_skew_seconds == 300
    assert window_days(settings, now) == expected


def test_read_deadline_answers_with_a_cursor_and_paging_stays_complete(counting, caller):
    # A deadline that every read hits after its first partition: each page visits one
    # partition and hands back a cursor; paging still returns every row once.
    _repo, client = counting(read_deadline_seconds=1e-9, max_age_days=5, default_lookback_days=5)
    with client:
        device_id = client.post(
            "/v1/devices", json={"name": "p", "platform": "ios"}, headers=caller.headers
        ).json()["device_id"]
        now = datetime.now(UTC)
        items = [item(now - timedelta(days=d, minutes=1)) for d in (0, 2, 4)]
        assert client.post(url(device_id), json={"checkins": items},
                           headers=caller.headers).status_code == 201  # fmt: skip
        rows, pages = read_all(client, device_id, caller.headers, limit=50)
    assert sorted(r["checkin_id"] for r in rows) == sorted(i["checkin_id"] for i in items)
    assert pages >= 3


def test_read_stops_when_the_client_is_gone(app_session, app_keyspace):
    import asyncio

    repo = CountingRepository(app_session, app_keyspace)
    now = datetime.now(UTC)

    async def gone() -> bool:
        return True

    page = asyncio.run(
        repo.recent_checkins(
            uuid.uuid4(), since=now - timedelta(days=30), newest=now, after=None, limit=10,
            stop=gone,
        )
    )  # fmt: skip
    assert len(repo.partition_reads) == 1
    assert page.resume_day is not None


def test_signed_cursor_outside_the_window_is_400(client, caller, register):
    from checkins_app.core.cursor import CheckinPosition, CursorSigner

    device_id, _ = _stored_pair(client, caller, register)
    signer = CursorSigner(app_settings().cursor_key_list())
    now = datetime.now(UTC)
    for ts in (now + timedelta(days=3), now - timedelta(days=60)):
        cursor = CheckinPosition(uuid.UUID(device_id), ts, uuid.uuid4(), ts).encode(signer)
        response = client.get(url(device_id), params={"cursor": cursor}, headers=caller.headers)
        assert response.status_code == 400, response.text


def test_cursor_signed_with_the_previous_key_is_accepted(
    repository, auth_jwks, caller, app_session
):
    old, new = "o" * 32, "n" * 32
    first = create_app(app_settings(cursor_keys=old), repository=repository,
                       jwks_client=auth_jwks.client())  # fmt: skip
    second = create_app(app_settings(cursor_keys=f"{new},{old}"), repository=repository,
                        jwks_client=auth_jwks.client())  # fmt: skip
    third = create_app(app_settings(cursor_keys=new), repository=repository,
                       jwks_client=auth_jwks.client())  # fmt: skip
    with TestClient(first) as a, TestClient(second) as b, TestClient(third) as c:
        device_id, cursor = _stored_pair(a, caller, _registrar(a))
        assert b.get(url(device_id), params={"cursor": cursor},
                     headers=caller.headers).status_code == 200  # fmt: skip
        assert c.get(url(device_id), params={"cursor": cursor},
                     headers=caller.headers).status_code == 400  # fmt: skip


def _registrar(client):
    def do(who):
        response = client.post("/v1/devices", json={"name": "p", "platform": "ios"},
                               headers=who.headers)  # fmt: skip
        assert response.status_code == 201, response.text
        return response.json()["device_id"]

    return do


def test_cursor_key_is_never_logged_or_shown():
    settings = app_settings(cursor_keys="k" * 40)
    assert "k" * 40 not in repr(settings)
    assert "k" * 40 not in str(settings.model_dump())


# --- finding 3: strict timestamps ---


@pytest.mark.parametrize("ts", [1796157000, "1796157000", 1796157000.5, "2026-01-01T00:00:00"])
def test_ts_must_be_iso_8601_with_offset(client, caller, register, ts):
    device_id = register(caller)
    body = {"checkins": [{"checkin_id": str(uuid.uuid4()), "ts": ts}]}
    response = client.post(url(device_id), json=body, headers=caller.headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][-1] == "ts"


# --- finding 4: settings that only work together ---


def test_cleanup_retention_at_or_below_max_age_is_refused():
    for retention in (30, 10):
        with pytest.raises(ConfigError) as raised:
            from checkins_app.core.config import load_settings

            load_settings(
                auth_jwks_url="https://auth.example.com/.well-known/jwks.json",
                auth_issuer="https://auth.example.com",
                cursor_keys="c" * 32,
                max_age_days=30,
                cleanup_retention_days=retention,
            )
        message = str(raised.value)
        assert "APP_CLEANUP_RETENTION_DAYS" in message and "APP_MAX_AGE_DAYS" in message
        assert "\n" not in message
    assert isinstance(app_settings(max_age_days=30, cleanup_retention_days=31), Settings)
