"""A fresh moto server on loopback for one emulated AWS account.

Started from the dev dependencies (moto.server, with the fixes in `moto_server`) on a free port,
with `MOTO_ACCOUNT_ID` set to the account the stacks allow, so the provider's
`allowed_account_ids` check passes against what STS answers, and AWS's managed IAM policies
loaded (moto leaves them out unless asked; the stacks attach some, e.g. RDS Enhanced
Monitoring's). One server per account: stacks
that name the same account share it (a name that collides between them fails their apply).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_MODULE = "devtools.terraform.moto_server"  # moto.server with the verification's fixes


class MotoUnavailable(RuntimeError):
    """moto's server cannot be started from this Python environment."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    def __init__(self, account_id: str, log_dir: Path) -> None:
        self.account_id = account_id
        self.log_path = log_dir / f"moto-{account_id}.log"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> MotoServer:
        try:
            import moto.server  # noqa: F401 - only to fail early with a clear reason
        except ImportError as exc:
            raise MotoUnavailable(f"moto's server is not installed ({exc})") from exc
        self.port = _free_port()
        env = {
            **os.environ,
            "MOTO_ACCOUNT_ID": self.account_id,
            "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
            # The fixes module lives in this repository, wherever the run was started from.
            "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO_ROOT), os.getenv("PYTHONPATH")))),
        }
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", SERVER_MODULE, "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise MotoUnavailable(f"moto server exited: {self.log_tail()}")
            url = f"{self.endpoint}/moto-api/"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2):  # noqa: S310
                return self
            time.sleep(0.2)
        self.stop()
        raise MotoUnavailable(f"moto server did not answer within {timeout:.0f} s")

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
