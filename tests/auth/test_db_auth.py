"""Database authentication: the pool asks a password provider for every new connection.

Against a PostgreSQL server of this module's own, set up like RDS in the ways that matter here:
TLS with a certificate from a private CA (the client verifies it: ``verify-full``), and the
service's roles must log in over TLS with a SCRAM password; only the harness' superuser keeps
trust authentication. The session's shared server is left as it is.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import psycopg
import pytest
from auth_service import migrate
from auth_service.api.deps import get_pool
from auth_service.core.config import DatabaseSettings, load_settings
from auth_service.store.db import ALIVE_BYPASS_SECONDS, create_pool
from auth_service.store.db_auth import (
    IamTokenProvider,
    PasswordProvider,
    StaticPassword,
    password_provider,
)
from botocore.stub import Stubber
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from psycopg import sql
from psycopg_pool import AsyncConnectionPool
from service_kit.settings import ConfigError

from devtools.postgres_server import PostgresServer, PostgresUnavailable
from tests.auth.conftest import PASSWORD, new_email, sign_up

pytestmark = pytest.mark.postgres

REGION = "eu-west-1"
HOST = "127.0.0.1"
# Made-up credentials: signing is local, no AWS account is involved.
FAKE_KEYS = {
    "aws_access_key_id": "TESTACCESSKEYID00000",
    "aws_secret_access_key": "test-secret-access-key-for-local-signing",
}
HBA = """\
local   all  all                     trust
host    all  postgres  127.0.0.1/32  trust
hostssl all  all       127.0.0.1/32  scram-sha-256
"""


# --- the server -------------------------------------------------------------------------------


def _tls_files(data_dir: Path, ca_file: Path) -> None:
    """A private CA (the stand-in for the RDS CA bundle) and a server certificate for 127.0.0.1."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test RDS root CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    owner = data_dir.stat()  # the server's user (postgres when the tests run as root)
    for name, content in (
        ("server.crt", cert.public_bytes(serialization.Encoding.PEM)),
        (
            "server.key",
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        ),
    ):
        path = data_dir / name
        path.write_bytes(content)
        path.chmod(0o600)
        if owner.st_uid != path.stat().st_uid:
            os.chown(path, owner.st_uid, owner.st_gid)


def _eventually(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@dataclass(frozen=True)
class SecureServer:
    server: PostgresServer
    ca_file: Path
    dbname: str

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def admin_url(self) -> str:
        """The harness' superuser (trust), for setting up and inspecting."""
        return self.server.dsn(self.dbname)

    def create_role(self, password: str) -> str:
        """A login role of the service's kind: member of auth_app (its grants), password only."""
        role = f"svc_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE auth_app").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
        return role

    def set_password(self, role: str, password: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )

    def backends(self, role: str) -> set[int]:
        with psycopg.connect(self.admin_url) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE usename = %s", (role,)
            ).fetchall()
        return {pid for (pid,) in rows}

    def terminate_backends(self, role: str) -> int:
        """pg_terminate_backend on every session of ``role``, waiting until each has ended."""
        with psycopg.connect(self.admin_url) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = %s",
                (role,),
            ).fetchall()
        assert all(ended for (ended,) in rows)
        return len(rows)

    def can_log_in(self, role: str, password: str) -> bool:
        try:
            psycopg.connect(self.conninfo(role, password), connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    def conninfo(self, role: str, password: str) -> str:
        return psycopg.conninfo.make_conninfo(
            host=HOST,
            port=self.port,
            dbname=self.dbname,
            user=role,
            password=password,
            sslmode="verify-full",
            sslrootcert=str(self.ca_file),
        )

    def settings(self, role: str, **overrides: Any) -> DatabaseSettings:
        """Password mode, no password in the settings: the pool's provider gives it."""
        values: dict[str, Any] = {
            "database_url": f"postgresql://{role}@{HOST}:{self.port}/{self.dbname}",
            "db_sslmode": "verify-full",
            "db_sslrootcert": str(self.ca_file),
            "db_pool_min_size": 2,
            "db_pool_max_size": 4,
            "db_pool_timeout_seconds": 5.0,
            "db_connect_timeout_seconds": 2,
            **overrides,
        }
        return DatabaseSettings(**values)

    def iam_settings(self, role: str, **overrides: Any) -> DatabaseSettings:
        """Exactly what the task definition sets on AWS, pointed at this server."""
        values: dict[str, Any] = {
            "db_auth": "iam",
            "db_host": HOST,
            "db_port": self.port,
            "db_name": self.dbname,
            "db_user": role,
            "db_region": REGION,
            "db_sslmode": "verify-full",
            "db_sslrootcert": str(self.ca_file),
            "db_pool_min_size": 2,
            "db_pool_max_size": 4,
            "db_connect_timeout_seconds": 2,
            **overrides,
        }
        return DatabaseSettings(**values)


@pytest.fixture(scope="module")
def secure(tmp_path_factory) -> Iterator[SecureServer]:
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        ca_file = tmp_path_factory.mktemp("rds-ca") / "rds-global-bundle.pem"
        _tls_files(server.data_dir, ca_file)
        (server.data_dir / "pg_hba.conf").write_text(HBA)
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET ssl = on")
            conn.execute("SELECT pg_reload_conf()")
        url = server.create_database("auth_db_auth")
        migrate.apply(url)  # creates auth_app with its grants
        secure = SecureServer(server=server, ca_file=ca_file, dbname="auth_db_auth")
        probe = secure.create_role("probe-password")
        # The reload is asynchronous: wait until a wrong password is refused (the new rules)
        # and the right one is accepted over verified TLS.
        assert _eventually(
            lambda: (
                not secure.can_log_in(probe, "wrong") and secure.can_log_in(probe, "probe-password")
            )
        ), "pg_hba.conf/TLS settings not in effect"
        yield secure
    finally:
        server.stop()


# --- providers for the tests ------------------------------------------------------------------


class SwitchablePassword:
    """A provider whose answer the test changes, as a rotation changes the real one."""

    def __init__(self, password: str) -> None:
        self.current = password
        self.given: list[str] = []
        self.threads: set[int] = set()

    def password(self) -> str:
        self.given.append(self.current)
        self.threads.add(threading.get_ident())
        return self.current


class RecordingRds:
    """Stands in for the boto3 RDS client: records each signing request, answers ``token``."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[dict[str, Any]] = []

    def generate_db_auth_token(self, **kwargs: Any) -> str:
        self.calls.append(kwargs)
        return self.token


def _rds_client() -> Any:
    return boto3.session.Session(**FAKE_KEYS, region_name=REGION).client("rds")


def _query(pool: AsyncConnectionPool, statement: str) -> Any:
    async def run() -> Any:
        async with pool.connection() as conn:
            cur = await conn.execute(statement)
            return await cur.fetchone()

    return run()


# --- (a) a pool built with a provider connects with the provider's password --------------------


def test_the_pool_connects_with_the_providers_password(secure):
    role = secure.create_role("right-password")
    provider = SwitchablePassword("right-password")

    async def scenario() -> tuple[Any, int]:
        async with create_pool(secure.settings(role), password=provider) as pool:
            await pool.wait(timeout=10)
            return await _query(pool, "SELECT current_user AS user"), threading.get_ident()

    row, loop_thread = asyncio.run(scenario())
    assert row == {"user": role}
    assert provider.given == ["right-password", "right-password"]  # one per connection
    # Asked in a worker thread: a slow provider (a credentials refresh) never blocks the loop.
    assert loop_thread not in provider.threads


def test_a_wrong_password_from_the_provider_is_refused(secure):
    # The server really checks the password: the test above could not pass without it.
    role = secure.create_role("right-password")
    provider = SwitchablePassword("wrong-password")

    async def scenario() -> None:
        settings = secure.settings(role, db_pool_min_size=1, db_pool_timeout_seconds=1.0)
        async with create_pool(settings, password=provider) as pool:
            await _query(pool, "SELECT 1")

    with pytest.raises(psycopg.OperationalError):  # PoolTimeout: the service answers 503
        asyncio.run(scenario())
    assert provider.given and set(provider.given) == {"wrong-password"}


def test_the_password_setting_is_a_static_provider(secure):
    # Local runs and tests: AUTH_DB_PASSWORD goes through the same provider path.
    role = secure.create_role("static-password")
    settings = secure.settings(
        role,
        database_url=None,
        db_host=HOST,
        db_port=secure.port,
        db_name=secure.dbname,
        db_user=role,
        db_password="static-password",
    )
    provider = password_provider(settings)
    assert isinstance(provider, StaticPassword) and provider.password() == "static-password"
    assert "static-password" not in repr(provider)
    assert "static-password" not in settings.conninfo(password=False)

    async def scenario() -> Any:
        async with create_pool(settings) as pool:
            return await _query(pool, "SELECT current_user AS user")

    assert asyncio.run(scenario()) == {"user": role}


# --- (b) the pool recovers when the provider's password changes ---------------------------------


def _rotate(secure: SecureServer, role: str, provider: PasswordProvider, new: str) -> None:
    """The password changes on the server, then every open session of the role is cut."""
    secure.set_password(role, new)
    if isinstance(provider, SwitchablePassword):
        provider.current = new
    assert secure.terminate_backends(role) >= 1
    assert secure.backends(role) == set()
    # The pool's check on checkout skips connections returned in the last ALIVE_BYPASS_SECONDS
    # (db.py); past that window every checkout is checked, which is what must cover a cut.
    time.sleep(ALIVE_BYPASS_SECONDS * 2)


@pytest.fixture
def service_with_pool(client_factory, secure):
    """The service's app (routes, dependencies, error handling) served from a pool of the
    test's making, opened and closed on the app's own event loop."""
    opened: list[tuple[Any, AsyncConnectionPool]] = []

    def factory(pool: AsyncConnectionPool):
        client = client_factory(database_url=secure.admin_url)
        client.portal.call(lambda: pool.open(wait=True, timeout=10))

        async def the_pool() -> AsyncConnectionPool:
            return pool

        client.app.dependency_overrides[get_pool] = the_pool
        opened.append((client, pool))
        return client

    yield factory
    for client, pool in opened:
        client.portal.call(pool.close)


def test_the_pool_recovers_when_the_providers_password_changes(secure, service_with_pool):
    role = secure.create_role("password-A")
    provider = SwitchablePassword("password-A")
    pool = create_pool(secure.settings(role), password=provider)
    client = service_with_pool(pool)
    email = sign_up(client)["email"]
    assert client.get("/ready").json() == {"status": "ready"}
    before = secure.backends(role)
    assert len(before) == 2

    _rotate(secure, role, provider, "password-B")
    assert not secure.can_log_in(role, "password-A")  # the old password is really gone

    # What the load balancer's health check and the clients see: every request succeeds.
    statuses = []
    for _ in range(3):
        statuses.append(client.get("/ready").status_code)
        statuses.append(
            client.post(
                "/v1/token", json={"grant_type": "password", "email": email, "password": PASSWORD}
            ).status_code
        )
        statuses.append(
            client.post("/v1/users", json={"email": new_email(), "password": PASSWORD}).status_code
        )
    assert statuses == [200, 200, 201] * 3
    # Served by new sessions, opened with the new password the provider gave.
    after = secure.backends(role)
    assert after and not after & before
    assert provider.given[:2] == ["password-A", "password-A"]
    assert set(provider.given[2:]) == {"password-B"} and len(provider.given) >= 3


def test_a_pool_with_a_fixed_password_does_not_recover(secure, service_with_pool):
    # The same rotation without a provider that follows it: what the test above guards against.
    role = secure.create_role("password-A")
    fixed = StaticPassword("password-A")
    pool = create_pool(secure.settings(role, db_pool_timeout_seconds=1.0), password=fixed)
    client = service_with_pool(pool)
    assert client.get("/ready").status_code == 200

    _rotate(secure, role, fixed, "password-B")
    ready = client.get("/ready")
    assert ready.status_code == 503 and ready.json() == {"status": "database unavailable"}


# --- (c) IAM tokens -----------------------------------------------------------------------------


@pytest.fixture
def ca_file(tmp_path) -> Path:
    path = tmp_path / "rds-global-bundle.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return path


def _iam_settings(ca_file: Path, **overrides: Any) -> DatabaseSettings:
    values: dict[str, Any] = {
        "db_auth": "iam",
        "db_host": "checkins-prod-auth.abc123.eu-west-1.rds.amazonaws.com",
        "db_port": 5433,
        "db_name": "auth",
        "db_user": "auth_app",
        "db_region": REGION,
        "db_sslmode": "verify-full",
        "db_sslrootcert": str(ca_file),
        **overrides,
    }
    return DatabaseSettings(**values)


def test_iam_provider_asks_for_a_token_for_the_configured_endpoint(ca_file):
    rds = RecordingRds("a-token")
    provider = password_provider(_iam_settings(ca_file), rds_client=rds)
    assert isinstance(provider, IamTokenProvider)
    assert provider.password() == "a-token"
    assert rds.calls == [
        {
            "DBHostname": "checkins-prod-auth.abc123.eu-west-1.rds.amazonaws.com",
            "Port": 5433,
            "DBUsername": "auth_app",
            "Region": REGION,
        }
    ]


def test_iam_token_is_signed_locally_for_the_endpoint_user_and_region(ca_file):
    client = _rds_client()
    provider = password_provider(_iam_settings(ca_file), rds_client=client)
    with Stubber(client) as stub:  # any RDS API call would fail: none is made
        token = provider.password()
        stub.assert_no_pending_responses()
    assert token.startswith("checkins-prod-auth.abc123.eu-west-1.rds.amazonaws.com:5433/?")
    query = parse_qs(urlsplit(f"https://{token}").query)
    assert query["Action"] == ["connect"] and query["DBUser"] == ["auth_app"]
    assert query["X-Amz-Credential"][0].endswith(f"/{REGION}/rds-db/aws4_request")
    assert query["X-Amz-Credential"][0].startswith(FAKE_KEYS["aws_access_key_id"] + "/")
    assert query["X-Amz-Expires"] == ["900"]  # the 15 minutes an IAM token lives
    assert len(query["X-Amz-Signature"][0]) == 64


def test_iam_token_is_the_password_of_every_new_connection(secure):
    # The token as the real client shapes it (a presigned URL: `&`, `=`, `%`, `/`), made the
    # role's password, so the server checks exactly what the provider handed to libpq.
    role = secure.create_role("placeholder")
    token = _rds_client().generate_db_auth_token(
        DBHostname=HOST, Port=secure.port, DBUsername=role, Region=REGION
    )
    secure.set_password(role, token)
    rds = RecordingRds(token)
    settings = secure.iam_settings(role)
    provider = password_provider(settings, rds_client=rds)

    async def scenario() -> tuple[Any, Any]:
        async with create_pool(settings, password=provider) as pool:
            await pool.wait(timeout=10)
            first = await _query(
                pool,
                "SELECT current_user AS user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            )
            await asyncio.to_thread(secure.terminate_backends, role)
            await asyncio.sleep(ALIVE_BYPASS_SECONDS * 2)
            again = await _query(pool, "SELECT current_user AS user")
            return first, again

    first, again = asyncio.run(scenario())
    assert first == {"user": role, "ssl": True}
    assert again == {"user": role}
    expected = {"DBHostname": HOST, "Port": secure.port, "DBUsername": role, "Region": REGION}
    # Two connections at start, at least one more after the cut: a token for each.
    assert len(rds.calls) >= 3 and all(call == expected for call in rds.calls)


def test_iam_token_is_never_logged(secure, caplog):
    caplog.set_level(logging.DEBUG)  # the most a task could be configured to log
    role = secure.create_role("not-the-token")
    provider = IamTokenProvider(
        host=HOST, port=secure.port, user=role, region=REGION, client=_rds_client()
    )
    token = provider.password()
    signature = parse_qs(urlsplit(f"https://{token}").query)["X-Amz-Signature"][0]
    settings = secure.iam_settings(role, db_pool_min_size=1, db_pool_timeout_seconds=1.0)

    async def scenario() -> None:
        async with create_pool(settings, password=provider) as pool:  # refused: wrong password
            await _query(pool, "SELECT 1")

    with pytest.raises(psycopg.OperationalError) as info:
        asyncio.run(scenario())
    assert "botocore" in caplog.text  # the signing was logged about, at DEBUG...
    assert "psycopg.pool" in {record.name for record in caplog.records}
    for text in (caplog.text, str(info.value), repr(provider)):
        assert signature not in text  # ...but never the token or its signature
        assert "X-Amz-Signature" not in text


# --- (d) IAM mode refuses a password ------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "variable"),
    [
        ({"db_password": "a-password"}, "AUTH_DB_PASSWORD"),
        ({"database_url": "postgresql://auth_app:a-password@db/auth"}, "AUTH_DATABASE_URL"),
    ],
)
def test_iam_mode_refuses_a_password(ca_file, extra, variable):
    values = {
        "db_auth": "iam",
        "db_host": "db.internal",
        "db_name": "auth",
        "db_user": "auth_app",
        "db_region": REGION,
        "db_sslmode": "verify-full",
        "db_sslrootcert": str(ca_file),
    }
    with pytest.raises(ConfigError, match=f"{variable}: not allowed with AUTH_DB_AUTH=iam") as info:
        load_settings(DatabaseSettings, **values, **extra)
    assert "a-password" not in str(info.value)
    # Without it the same settings load, and the provider is the IAM one.
    settings = load_settings(DatabaseSettings, **values)
    assert isinstance(password_provider(settings), IamTokenProvider)
