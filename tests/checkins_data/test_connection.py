"""Connection settings and the one code path to Cassandra (locally) and Keyspaces (on AWS)."""

from __future__ import annotations

import re
import socket
import ssl

import pytest
from cassandra import ConsistencyLevel, WriteType
from cassandra.cluster import EXEC_PROFILE_DEFAULT
from cassandra.connection import ConnectionException
from cassandra.policies import (
    ConstantSpeculativeExecutionPolicy,
    DCAwareRoundRobinPolicy,
    RetryPolicy,
    TokenAwarePolicy,
)
from cassandra.protocol import OverloadedErrorMessage, ServerError
from cassandra.query import SimpleStatement
from cassandra_sigv4.auth import SigV4AuthProvider
from checkins_data.connection import (
    KEYSPACES_PORT,
    PROTOCOL_VERSION,
    KeyspacesRetryPolicy,
    KeyspacesSettings,
    amazon_root_cas_pem,
    build_cluster,
    connect,
)
from pydantic import ValidationError

AWS = {"use_aws": True, "region": "eu-west-1"}


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"unexpected network call: {args[1:]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def fake_aws_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


# ---- settings ----


def test_settings_come_from_keyspaces_environment_variables(monkeypatch):
    monkeypatch.setenv("KEYSPACES_CONTACT_POINTS", "10.0.0.1, 10.0.0.2")
    monkeypatch.setenv("KEYSPACES_PORT", "9043")
    monkeypatch.setenv("KEYSPACES_KEYSPACE", "checkins_dev")
    monkeypatch.setenv("KEYSPACES_REQUEST_TIMEOUT_S", "2.5")
    s = KeyspacesSettings()
    assert s.contact_points == ("10.0.0.1", "10.0.0.2")
    assert (s.port, s.keyspace, s.request_timeout_s, s.use_aws) == (
        9043,
        "checkins_dev",
        2.5,
        False,
    )


def test_aws_without_region_is_refused_with_the_variable_named(monkeypatch):
    monkeypatch.setenv("KEYSPACES_USE_AWS", "true")
    monkeypatch.delenv("KEYSPACES_REGION", raising=False)
    with pytest.raises(ValidationError, match="KEYSPACES_REGION"):
        KeyspacesSettings()


@pytest.mark.parametrize("field", ["port", "request_timeout_s", "fetch_size"])
def test_out_of_range_numbers_are_refused(field):
    with pytest.raises(ValidationError, match=field):
        KeyspacesSettings(**{field: 0})


def test_aws_endpoint_port_and_dc_follow_the_region():
    s = KeyspacesSettings(**AWS, contact_points=("ignored",), port=1)
    assert s.effective_contact_points == ("cassandra.eu-west-1.amazonaws.com",)
    assert s.effective_port == KEYSPACES_PORT == 9142
    assert s.effective_local_dc == "eu-west-1"


# ---- the execution profile, the same on both paths ----


@pytest.mark.parametrize("extra", [{}, AWS], ids=["local", "aws"])
def test_profile_is_local_quorum_token_aware_with_timeouts_and_speculation(
    extra, no_network, fake_aws_credentials
):
    settings = KeyspacesSettings(
        local_dc="dc-x", request_timeout_s=3.0, speculative_delay_s=0.15, **extra
    )
    cluster = build_cluster(settings)
    profile = cluster.profile_manager.profiles[EXEC_PROFILE_DEFAULT]
    assert profile.consistency_level == ConsistencyLevel.LOCAL_QUORUM
    assert profile.serial_consistency_level == ConsistencyLevel.LOCAL_SERIAL
    assert profile.request_timeout == 3.0
    lbp = profile.load_balancing_policy
    assert isinstance(lbp, TokenAwarePolicy)
    assert isinstance(lbp._child_policy, DCAwareRoundRobinPolicy)
    assert lbp._child_policy.local_dc == settings.effective_local_dc
    assert isinstance(profile.retry_policy, KeyspacesRetryPolicy)
    spec = profile.speculative_execution_policy
    assert isinstance(spec, ConstantSpeculativeExecutionPolicy)
    assert (spec.delay, spec.max_attempts) == (0.15, 1)
    assert cluster.protocol_version == PROTOCOL_VERSION == 4


# ---- the AWS path, assembled without a network call ----


def _endpoints(cluster):
    return [(ep.address, ep.port) for ep in cluster.contact_points]


def test_aws_path_uses_tls12_sigv4_and_the_keyspaces_endpoint(no_network, fake_aws_credentials):
    cluster = build_cluster(KeyspacesSettings(**AWS))
    assert _endpoints(cluster) == [("cassandra.eu-west-1.amazonaws.com", 9142)]
    assert cluster.port == 9142
    ctx = cluster.ssl_context
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname is True
    # Peers are known by IP: every connection is verified against the endpoint's name.
    assert cluster.ssl_options == {"server_hostname": "cassandra.eu-west-1.amazonaws.com"}
    trusted = {dict(x[0] for x in c["subject"]).get("commonName") for c in ctx.get_ca_certs()}
    assert trusted == {
        "Amazon Root CA 1",
        "Amazon Root CA 2",
        "Amazon Root CA 3",
        "Amazon Root CA 4",
        "Starfield Services Root Certificate Authority - G2",
    }
    auth = cluster.auth_provider
    assert isinstance(auth, SigV4AuthProvider)
    assert auth.session.region_name == "eu-west-1"
    # The authenticator signs the server's nonce with the default credential chain (here: the
    # environment), as it will with the task role.
    answer = auth.new_authenticator("10.0.0.1").evaluate_challenge(b"nonce=0123456789abcdef")
    fields = dict(part.split("=", 1) for part in answer.split(","))
    assert fields["access_key"] == "AKIDEXAMPLE"
    assert re.fullmatch(r"[0-9a-f]{64}", fields["signature"])


def test_local_path_has_no_tls_and_no_authentication(no_network):
    cluster = build_cluster(KeyspacesSettings(contact_points=("127.0.0.2",), port=9999))
    assert _endpoints(cluster) == [("127.0.0.2", 9999)]
    assert cluster.ssl_context is None
    assert cluster.auth_provider is None


def test_a_ca_bundle_path_replaces_the_built_in_roots(tmp_path, no_network, fake_aws_credentials):
    only_one = (
        amazon_root_cas_pem().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    )
    bundle = tmp_path / "roots.pem"
    bundle.write_text(only_one)
    cluster = build_cluster(KeyspacesSettings(**AWS, ca_bundle_path=bundle))
    assert len(cluster.ssl_context.get_ca_certs()) == 1


# ---- retry policy ----


def _stmt(idempotent: bool) -> SimpleStatement:
    return SimpleStatement("UPDATE t SET a = 1 WHERE k = 1", is_idempotent=idempotent)


def test_non_idempotent_writes_are_never_retried():
    policy = KeyspacesRetryPolicy(max_retries=3)
    lq = ConsistencyLevel.LOCAL_QUORUM
    decision, _ = policy.on_write_timeout(_stmt(False), lq, WriteType.SIMPLE, 2, 1, 0)
    assert decision == RetryPolicy.RETHROW
    for ambiguous in (ServerError(0, "boom", {}), ConnectionException("reset")):
        decision, _ = policy.on_request_error(_stmt(False), lq, ambiguous, 0)
        assert decision == RetryPolicy.RETHROW


def test_a_refused_request_is_retried_even_when_not_idempotent():
    policy = KeyspacesRetryPolicy(max_retries=1)
    lq = ConsistencyLevel.LOCAL_QUORUM
    overloaded = OverloadedErrorMessage(0, "overloaded", {})
    assert (
        policy.on_request_error(_stmt(False), lq, overloaded, 0)[0] == RetryPolicy.RETRY_NEXT_HOST
    )
    assert policy.on_request_error(_stmt(False), lq, overloaded, 1)[0] == RetryPolicy.RETHROW


def test_idempotent_statements_retry_on_the_next_host_up_to_the_limit():
    policy = KeyspacesRetryPolicy(max_retries=2)
    lq = ConsistencyLevel.LOCAL_QUORUM
    tries = [
        policy.on_write_timeout(_stmt(True), lq, WriteType.SIMPLE, 2, 1, n)[0] for n in range(3)
    ]
    assert tries == [RetryPolicy.RETRY_NEXT_HOST, RetryPolicy.RETRY_NEXT_HOST, RetryPolicy.RETHROW]
    assert (
        policy.on_read_timeout(_stmt(False), lq, 2, 1, False, 0)[0] == RetryPolicy.RETRY_NEXT_HOST
    )
    assert policy.on_unavailable(_stmt(False), lq, 2, 1, 2)[0] == RetryPolicy.RETHROW
    assert policy.on_request_error(_stmt(True), lq, ConnectionException("reset"), 1) == (
        RetryPolicy.RETRY_NEXT_HOST,
        lq,
    )


# ---- the local path against the real node ----


def test_connect_opens_a_session_on_the_configured_keyspace(cassandra_settings):
    cluster, session = connect(cassandra_settings)
    try:
        assert session.keyspace == cassandra_settings.keyspace
        assert session.default_fetch_size == cassandra_settings.fetch_size
        assert cluster.protocol_version == 4
        row = session.execute("SELECT data_center FROM system.local").one()
        assert row.data_center == cassandra_settings.local_dc
        # Tables of the keyspace are reachable without qualification.
        assert session.execute("SELECT * FROM active_days LIMIT 1").one() is None
    finally:
        cluster.shutdown()


def test_connect_to_a_closed_port_fails_with_the_driver_error():
    from cassandra.cluster import NoHostAvailable

    from devtools.cassandra_server import free_port

    settings = KeyspacesSettings(
        contact_points=("127.0.0.1",), port=free_port(), connect_timeout_s=2
    )
    with pytest.raises(NoHostAvailable):
        connect(settings)
