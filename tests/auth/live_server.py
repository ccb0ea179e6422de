"""The auth service under a real uvicorn process, started with the image's own command line
(``python -m auth_service``, which serves through ``service_kit.server``).

Shared by the process-level tests and the benchmark (bench/auth_bench.py).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[2] / "services" / "auth" / "Dockerfile"


def image_command() -> list[str]:
    """The exec-form CMD of the Dockerfile, as a list."""
    lines = DOCKERFILE.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("CMD "))
    parts: list[str] = []
    for line in lines[start:]:
        parts.append(line.rstrip().removesuffix("\\"))
        if not line.rstrip().endswith("\\"):
            break
    return json.loads(" ".join(parts).removeprefix("CMD "))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """The service as the image runs it, on a loopback port, with the given environment.

    ``app`` ("module:factory") serves another application under the very same server options
    (``python -m service_kit.server``); ``extra_args`` go to that command.
    """

    def __init__(
        self, env: dict[str, str], extra_args: list[str] | None = None, app: str | None = None
    ) -> None:
        self.port = free_port()
        command = image_command()
        assert command[0] == "python", command
        listen = ["--host", "127.0.0.1", "--port", str(self.port)]
        if app is None:
            self.command = [sys.executable, *command[1:], *(extra_args or [])]
        else:
            self.command = [sys.executable, "-m", "service_kit.server", app, *listen]
            self.command += extra_args or []
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("AUTH_")}
        self.env = {**inherited, "AUTH_HOST": "127.0.0.1", "AUTH_PORT": str(self.port), **env}
        self.process: subprocess.Popen[str] | None = None
        # A file, not a pipe: a busy server must never block on a full pipe nobody reads.
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in stop())
        self.output = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> LiveServer:
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self._read_log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not become healthy in {timeout} s:\n{self.output}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as ECS sends it; returns the exit code and keeps the output."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.output = self._read_log()
        self._log.close()
        return self.process.returncode

    def _read_log(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.stop()
