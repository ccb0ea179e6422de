"""One way to reach the check-ins keyspace, for the app and the cleanup job.

`use_aws=False` (local, tests): plain contact points and port. `use_aws=True`: TLS 1.2+ to
`cassandra.<region>.amazonaws.com:9142`, verified against the Amazon root CAs, authenticated
with SigV4 from the default boto3 credentials (the ECS task role or the Lambda role). Everything
else (consistency, routing, retries, speculative execution, timeouts) is the same on both paths.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Annotated, Any

from cassandra import ConsistencyLevel, WriteType
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.connection import DefaultEndPoint
from cassandra.policies import (
    ConstantReconnectionPolicy,
    ConstantSpeculativeExecutionPolicy,
    DCAwareRoundRobinPolicy,
    RetryPolicy,
    TokenAwarePolicy,
)
from cassandra.protocol import IsBootstrappingErrorMessage, OverloadedErrorMessage
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from checkins_data.schema import DEFAULT_KEYSPACE

KEYSPACES_PORT = 9142
# Keyspaces speaks native protocol v4; pinning it avoids a downgrade handshake on every
# connection, and Cassandra 5.0 speaks it too, so tests exercise the production protocol.
PROTOCOL_VERSION = 4
# The labels, in certifi's Mozilla bundle, of the roots Amazon Keyspaces' endpoint certificates
# chain to: the Amazon Trust Services roots, and the Starfield root that cross-signs them.
AMAZON_ROOT_CA_LABELS = (
    "Amazon Root CA 1",
    "Amazon Root CA 2",
    "Amazon Root CA 3",
    "Amazon Root CA 4",
    "Starfield Services Root Certificate Authority - G2",
)


class KeyspacesSettings(BaseSettings):
    """Connection settings, read from `KEYSPACES_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="KEYSPACES_", frozen=True, extra="ignore")

    # Comma-separated in the environment: KEYSPACES_CONTACT_POINTS=10.0.0.1,10.0.0.2
    contact_points: Annotated[tuple[str, ...], NoDecode] = ("127.0.0.1",)
    port: int = Field(default=9042, ge=1, le=65535)
    local_dc: str = "datacenter1"
    keyspace: str = DEFAULT_KEYSPACE
    use_aws: bool = False
    region: str | None = None
    # A PEM bundle to trust instead of the Amazon roots taken from certifi.
    ca_bundle_path: Path | None = None
    request_timeout_s: float = Field(default=5.0, gt=0, le=120)
    connect_timeout_s: float = Field(default=5.0, gt=0, le=120)
    # Idempotent statements get a second attempt on another connection after this delay.
    speculative_delay_s: float = Field(default=0.2, gt=0)
    speculative_max_attempts: int = Field(default=1, ge=0, le=5)
    max_retries: int = Field(default=3, ge=0, le=10)
    # Rows per page; Keyspaces also caps a page at 1 MB.
    fetch_size: int = Field(default=500, ge=1, le=5000)

    @field_validator("contact_points", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return value

    @model_validator(mode="after")
    def _aws_needs_region(self) -> KeyspacesSettings:
        if self.use_aws and not self.region:
            raise ValueError("KEYSPACES_REGION is required when KEYSPACES_USE_AWS is true")
        if not self.use_aws and not self.contact_points:
            raise ValueError("KEYSPACES_CONTACT_POINTS must name at least one host")
        return self

    @property
    def endpoint_host(self) -> str:
        return f"cassandra.{self.region}.amazonaws.com"

    @property
    def effective_contact_points(self) -> tuple[str, ...]:
        return (self.endpoint_host,) if self.use_aws else self.contact_points

    @property
    def effective_port(self) -> int:
        return KEYSPACES_PORT if self.use_aws else self.port

    @property
    def effective_local_dc(self) -> str:
        # Keyspaces reports the region as the data centre name.
        return str(self.region) if self.use_aws else self.local_dc


_REFUSED_UNAPPLIED = (OverloadedErrorMessage, IsBootstrappingErrorMessage)


class KeyspacesRetryPolicy(RetryPolicy):
    """Retries what Keyspaces reports under load, without ever repeating a non-idempotent write.

    Keyspaces signals throttling and transient trouble as read/write timeouts, unavailable or
    server errors. Reads and statements marked idempotent are retried on the next host up to
    `max_retries` times; other writes are left to the caller, which then sees the error.
    """

    def __init__(self, max_retries: int = 3) -> None:
        self.max_retries = max_retries

    def _retry_next(self, consistency: Any, retry_num: int) -> tuple[int, Any]:
        if retry_num < self.max_retries:
            return self.RETRY_NEXT_HOST, consistency
        return self.RETHROW, None

    def on_read_timeout(self, query, consistency, required_responses, received_responses,
                        data_retrieved, retry_num):  # fmt: skip
        return self._retry_next(consistency, retry_num)

    def on_write_timeout(self, query, consistency, write_type, required_responses,
                         received_responses, retry_num):  # fmt: skip
        idempotent = bool(getattr(query, "is_idempotent", False))
        if idempotent or write_type == WriteType.BATCH_LOG:
            return self._retry_next(consistency, retry_num)
        return self.RETHROW, None

    def on_unavailable(self, query, consistency, required_replicas, alive_replicas,
                       retry_num):  # fmt: skip
        return self._retry_next(consistency, retry_num)

    def on_request_error(self, query, consistency, error, retry_num):
        # Overloaded / bootstrapping: the node refused the request, nothing was applied. A server
        # error or a broken connection may have applied it: only idempotent statements retry.
        idempotent = bool(getattr(query, "is_idempotent", False))
        if idempotent or isinstance(error, _REFUSED_UNAPPLIED):
            return self._retry_next(consistency, retry_num)
        return self.RETHROW, None


def amazon_root_cas_pem() -> str:
    """The Amazon root certificates as PEM, taken from certifi's CA bundle (a hashed, locked
    dependency), so no image or package has to download them."""
    import certifi

    bundle = Path(certifi.where()).read_text(encoding="ascii")
    found: list[str] = []
    for label in AMAZON_ROOT_CA_LABELS:
        marker = f'# Label: "{label}"'
        start = bundle.find(marker)
        if start < 0:
            continue
        begin = bundle.index("-----BEGIN CERTIFICATE-----", start)
        end = bundle.index("-----END CERTIFICATE-----", begin) + len("-----END CERTIFICATE-----")
        found.append(bundle[begin:end])
    if len(found) != len(AMAZON_ROOT_CA_LABELS):
        raise RuntimeError("certifi's bundle lacks some of the Amazon root CAs")
    return "\n".join(found) + "\n"


def tls_context(settings: KeyspacesSettings) -> ssl.SSLContext:
    """TLS 1.2 or newer, certificate and host name verified."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_hostname = True
    if settings.ca_bundle_path is not None:
        ctx.load_verify_locations(cafile=str(settings.ca_bundle_path))
    else:
        ctx.load_verify_locations(cadata=amazon_root_cas_pem())
    return ctx


def execution_profile(settings: KeyspacesSettings) -> ExecutionProfile:
    return ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(
            DCAwareRoundRobinPolicy(local_dc=settings.effective_local_dc)
        ),
        retry_policy=KeyspacesRetryPolicy(settings.max_retries),
        consistency_level=ConsistencyLevel.LOCAL_QUORUM,
        serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL,
        request_timeout=settings.request_timeout_s,
        # Applies only to statements marked idempotent (the driver checks).
        speculative_execution_policy=ConstantSpeculativeExecutionPolicy(
            delay=settings.speculative_delay_s, max_attempts=settings.speculative_max_attempts
        ),
    )


def build_cluster(settings: KeyspacesSettings) -> Cluster:
    """A configured, not yet connected, Cluster (no network call)."""
    kwargs: dict[str, Any] = {}
    if settings.use_aws:
        # Imported here: boto3 is only needed on AWS.
        import boto3
        from cassandra_sigv4.auth import SigV4AuthProvider

        kwargs["ssl_context"] = tls_context(settings)
        # Every Keyspaces node presents the endpoint's certificate, while the driver knows
        # peers by IP address: verify all of them against the endpoint name.
        kwargs["ssl_options"] = {"server_hostname": settings.endpoint_host}
        kwargs["auth_provider"] = SigV4AuthProvider(boto3.Session(region_name=settings.region))
    # Endpoints rather than host names: the driver then resolves DNS when it connects (and on
    # every reconnection, following the Keyspaces endpoint's DNS), not while being configured.
    endpoints = [
        DefaultEndPoint(h, settings.effective_port) for h in settings.effective_contact_points
    ]
    return Cluster(
        contact_points=endpoints,
        port=settings.effective_port,
        protocol_version=PROTOCOL_VERSION,
        execution_profiles={EXEC_PROFILE_DEFAULT: execution_profile(settings)},
        connect_timeout=settings.connect_timeout_s,
        control_connection_timeout=settings.connect_timeout_s,
        reconnection_policy=ConstantReconnectionPolicy(delay=1.0, max_attempts=None),
        **kwargs,
    )


def connect(settings: KeyspacesSettings, *, keyspace: str | None = None) -> tuple[Cluster, Session]:
    """Connect and return the Cluster (shut it down on exit) and a Session on the keyspace.

    `keyspace` overrides `settings.keyspace`; pass "" for a session without a keyspace.
    """
    cluster = build_cluster(settings)
    target = settings.keyspace if keyspace is None else keyspace
    try:
        session = cluster.connect(target or None)
    except Exception:
        cluster.shutdown()
        raise
    session.default_fetch_size = settings.fetch_size
    return cluster, session
