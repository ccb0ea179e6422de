"""A real single-node Apache Cassandra for the tests, started from Maven Central jars.

No Debian or PyPI package runs a Cassandra server, so the harness asks Maven for
`org.apache.cassandra:cassandra-all` and its runtime dependencies (cached between runs), writes
a minimal `cassandra.yaml` into a temporary directory and starts `CassandraDaemon` on Java 17
with the JVM options Cassandra 5.0 ships in `conf/jvm17-server.options`.

`CASSANDRA_CONTACT_POINTS` (and `CASSANDRA_PORT`) point the tests at an existing cluster
instead; nothing is started then.

This module has no pytest dependency: the fixtures in `cassandra_fixtures.py` decide what a
missing tool (skip) or a failed start (error) means for a test.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

# The newest 5.0.x release on Maven Central when this was written; override with
# CASSANDRA_VERSION to try another one (the cache is per version).
DEFAULT_VERSION = "5.0.9"
# A single-node cluster with SimpleSnitch reports this data centre name.
SIMPLE_SNITCH_DC = "datacenter1"
DEFAULT_NATIVE_PORT = 9042

_HERE = Path(__file__).resolve().parent / "cassandra"
_POM = _HERE / "pom.xml"
_YAML_TEMPLATE = _HERE / "cassandra.yaml.template"
_LOGBACK = _HERE / "logback-test-node.xml"

# Java 17 module flags, copied from Cassandra 5.0's conf/jvm17-server.options (the "JPMS" and
# "Netty" blocks). Without them the daemon fails on reflective access to JDK internals.
JVM17_OPTIONS: tuple[str, ...] = (
    "-Djdk.attach.allowAttachSelf=true",
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports=java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
    "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports=java.rmi/sun.rmi.server=ALL-UNNAMED",
    "--add-exports=java.sql/java.sql=ALL-UNNAMED",
    "--add-exports=java.base/java.lang.ref=ALL-UNNAMED",
    "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-exports=jdk.attach/sun.tools.attach=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.module=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.loader=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.reflect=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.math=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.module=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.util.jar=ALL-UNNAMED",
    "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dio.netty.allocator.useCacheForAllThreads=true",
    "-Dio.netty.allocator.maxOrder=11",
)

# A throw-away node: small heap, no pre-touch, no waiting for a ring that has one member.
TEST_NODE_JVM_OPTIONS: tuple[str, ...] = (
    "-ea",
    "-da:net.openhft...",
    "-Xss256k",
    "-XX:+UseSerialGC",
    # Crash loudly instead of limping on: the tests then fail with the log tail.
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:+PerfDisableSharedMem",
    "-Djava.net.preferIPv4Stack=true",
    "-Dcassandra-foreground=yes",
    "-Dcassandra.skip_wait_for_gossip_to_settle=0",
    "-Dcassandra.ring_delay_ms=100",
    "-Dcassandra.join_ring=true",
    "-Dcassandra.load_ring_state=false",
    "-Dcassandra.superuser_setup_delay_ms=0",
    "-Dcassandra.available_processors=2",
    # No fsync of the system tables: schema changes (a keyspace per test) become cheap.
    "-Dcassandra.unsafesystem=true",
)


class NodeInfo(NamedTuple):
    """Where the Cassandra listens; unpacks as (contact_points, port, local_dc, description)."""

    contact_points: tuple[str, ...]
    port: int
    local_dc: str
    description: str


class CassandraUnavailable(RuntimeError):
    """No usable Java or Maven on this machine: the Cassandra tests cannot run here (a skip)."""


class CassandraStartError(RuntimeError):
    """The tools are present but the node did not come up (a failure, never a skip)."""


@dataclass(frozen=True)
class HarnessSettings:
    """What the environment asks of the harness."""

    version: str
    cache_dir: Path
    start_timeout_s: float
    heap: str

    @classmethod
    def from_env(cls) -> HarnessSettings:
        version = os.environ.get("CASSANDRA_VERSION", DEFAULT_VERSION)
        default_cache = Path.home() / ".cache" / "platform-tests" / f"cassandra-{version}"
        return cls(
            version=version,
            cache_dir=Path(os.environ.get("CASSANDRA_CACHE_DIR", str(default_cache))),
            start_timeout_s=float(os.environ.get("CASSANDRA_START_TIMEOUT", "150")),
            heap=os.environ.get("CASSANDRA_HEAP", "1g"),
        )


def external_node_from_env() -> NodeInfo | None:
    """The cluster named by CASSANDRA_CONTACT_POINTS, if any."""
    raw = os.environ.get("CASSANDRA_CONTACT_POINTS", "").strip()
    if not raw:
        return None
    points = tuple(p.strip() for p in raw.split(",") if p.strip())
    port = int(os.environ.get("CASSANDRA_PORT", str(DEFAULT_NATIVE_PORT)))
    local_dc = os.environ.get("CASSANDRA_LOCAL_DC", SIMPLE_SNITCH_DC)
    desc = f"external Cassandra at {','.join(points)}:{port} (CASSANDRA_CONTACT_POINTS)"
    return NodeInfo(points, port, local_dc, desc)


def java_executable() -> str:
    """A Java 11 or 17 runtime (the versions Cassandra 5.0 supports), or CassandraUnavailable."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not candidate or not Path(candidate).exists():
        raise CassandraUnavailable("no `java` found (Cassandra 5.0 needs Java 17 or 11)")
    out = subprocess.run(
        [candidate, "-version"], capture_output=True, text=True, timeout=60, check=False
    )
    match = re.search(r'version "(\d+)', out.stderr + out.stdout)
    major = int(match.group(1)) if match else 0
    if major not in (11, 17):
        raise CassandraUnavailable(
            f"{candidate} is Java {major or 'unknown'}; Cassandra 5.0 runs on Java 17 or 11"
        )
    return candidate


def maven_executable() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise CassandraUnavailable("no `mvn` found (needed once to fetch the Cassandra jars)")
    return mvn


def fetch_jars(settings: HarnessSettings, mvn: str) -> Path:
    """The folder of Cassandra's jars, fetched with Maven on first use and reused afterwards."""
    lib = settings.cache_dir / "lib"
    done = settings.cache_dir / ".complete"
    if done.exists():
        return lib
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    # Parallel test sessions share the cache: one fetches, the others wait for it.
    with open(settings.cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return lib
        partial = settings.cache_dir / "lib.partial"
        shutil.rmtree(partial, ignore_errors=True)
        cmd = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(_POM),
            f"-Dcassandra.version={settings.version}",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={partial}",
            "dependency:copy-dependencies",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
        if proc.returncode != 0 or not any(partial.glob("cassandra-all-*.jar")):
            tail = (proc.stdout + proc.stderr)[-3000:]
            raise CassandraStartError(
                f"Maven could not fetch cassandra-all {settings.version} "
                f"(exit {proc.returncode}):\n{tail}"
            )
        shutil.rmtree(lib, ignore_errors=True)
        partial.rename(lib)
        done.write_text(settings.version + "\n")
    return lib


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A pre-exec hook that has the JVM receive SIGTERM when the test process dies (Linux).

    libc is loaded here, in the parent: between fork and exec the child only makes one call.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return hook


class LocalCassandra:
    """One throw-away Cassandra node in a temporary directory; `start()` then `stop()`."""

    def __init__(self, settings: HarnessSettings | None = None) -> None:
        self.settings = settings or HarnessSettings.from_env()
        self.workdir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.native_port = 0
        self.startup_seconds = 0.0

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "logs" / "node.log"

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log written)"
        return "\n".join(text.splitlines()[-lines:])

    def _write_config(self, workdir: Path, native_port: int, storage_port: int) -> Path:
        data = workdir / "data"
        for sub in ("data", "commitlog", "saved_caches", "hints", "cdc_raw"):
            (data / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("logs", "triggers"):
            (workdir / sub).mkdir(exist_ok=True)
        yaml_text = _YAML_TEMPLATE.read_text().format(
            native_port=native_port,
            storage_port=storage_port,
            data_dir=data / "data",
            commitlog_dir=data / "commitlog",
            saved_caches_dir=data / "saved_caches",
            hints_dir=data / "hints",
            cdc_raw_dir=data / "cdc_raw",
        )
        path = workdir / "cassandra.yaml"
        path.write_text(yaml_text)
        return path

    def command(self, java: str, lib: Path, config: Path) -> list[str]:
        jars = sorted(lib.glob("*.jar"))
        jamm = next((j for j in jars if j.name.startswith("jamm-")), None)
        if jamm is None:
            raise CassandraStartError(f"no jamm jar among the Cassandra jars in {lib}")
        assert self.workdir is not None
        heap = self.settings.heap
        return [
            java,
            f"-javaagent:{jamm}",
            "-Xms256m",
            f"-Xmx{heap}",
            *JVM17_OPTIONS,
            *TEST_NODE_JVM_OPTIONS,
            f"-Dcassandra.config={config.as_uri()}",
            f"-Dcassandra.storagedir={self.workdir / 'data'}",
            f"-Dcassandra.logdir={self.workdir / 'logs'}",
            f"-Dcassandra.triggers_dir={self.workdir / 'triggers'}",
            f"-Dlogback.configurationFile={_LOGBACK.as_uri()}",
            "-cp",
            os.pathsep.join(str(j) for j in jars),
            "org.apache.cassandra.service.CassandraDaemon",
        ]

    def start(self) -> NodeInfo:
        java = java_executable()
        mvn = maven_executable()
        lib = fetch_jars(self.settings, mvn)
        began = time.monotonic()
        # The free ports are picked before Cassandra binds them; if another process takes one
        # in between, start again on new ports.
        for attempt in range(3):
            try:
                self._launch(java, lib)
                self._wait_until_ready(began)
                break
            except CassandraStartError:
                if attempt == 2 or "Address already in use" not in self.log_tail(200):
                    raise
                self.stop()
        self.startup_seconds = time.monotonic() - began
        desc = (
            f"Apache Cassandra {self.settings.version} started from Maven jars "
            f"on 127.0.0.1:{self.native_port} in {self.startup_seconds:.1f}s"
        )
        return NodeInfo(("127.0.0.1",), self.native_port, SIMPLE_SNITCH_DC, desc)

    def _launch(self, java: str, lib: Path) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="cassandra-test-node-"))
        self.native_port = free_port()
        storage_port = free_port()
        config = self._write_config(self.workdir, self.native_port, storage_port)
        cmd = self.command(java, lib, config)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                preexec_fn=_die_with_parent_hook(),
            )

    def _wait_until_ready(self, began: float) -> None:
        assert self.process is not None
        deadline = began + self.settings.start_timeout_s
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise CassandraStartError(
                    f"Cassandra exited with code {code} during start-up; "
                    f"last lines of {self.log_path}:\n{self.log_tail()}"
                )
            if _port_open(self.native_port):
                return
            time.sleep(0.25)
        tail = self.log_tail()
        self.stop(keep_files=True)
        raise CassandraStartError(
            f"Cassandra did not open its native port {self.native_port} within "
            f"{self.settings.start_timeout_s:.0f}s; last lines of {self.log_path}:\n{tail}"
        )

    def stop(self, *, keep_files: bool = False) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            # The data is thrown away: no need for a graceful drain.
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        if self.workdir is not None and not keep_files:
            shutil.rmtree(self.workdir, ignore_errors=True)


def main() -> None:
    """Run a node in the foreground for local development and benchmarks (Ctrl-C stops it)."""
    # Stop the node on `kill` too (a background job ignores Ctrl-C).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    node = LocalCassandra()
    try:
        info = node.start()
        print(info.description, flush=True)
        print(f"export CASSANDRA_CONTACT_POINTS=127.0.0.1 CASSANDRA_PORT={info.port}", flush=True)
        assert node.process is not None
        node.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        node.stop()


if __name__ == "__main__":
    main()
