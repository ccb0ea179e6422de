"""A loopback TCP proxy in front of Cassandra that can delay, swallow or cut the traffic.

The driver connects to the proxy; the node never notices. `blackhole()` makes every request
time out (like an overloaded or partitioned Keyspaces endpoint), `cut()` drops every connection
and refuses new ones (no host available), `delay()` slows every packet (writes in flight while
the app shuts down), `restore()` heals.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class FaultyProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._swallow = False
        self._refuse = False
        self._delay = 0.0
        threading.Thread(target=self._accept, name="faulty-proxy", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self._refuse:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                break
            if not data:
                break
            if self._swallow:
                continue
            if self._delay:
                time.sleep(self._delay)
            try:
                dst.sendall(data)
            except OSError:
                break
        self._close(src, dst)

    def _close(self, *socks: socket.socket) -> None:
        for sock in socks:
            with self._lock:
                self._sockets.discard(sock)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def blackhole(self) -> None:
        self._swallow = True

    def delay(self, seconds: float) -> None:
        self._delay = seconds

    def cut(self) -> None:
        self._refuse = True
        with self._lock:
            open_sockets = list(self._sockets)
        self._close(*open_sockets)

    def restore(self) -> None:
        self._swallow = False
        self._refuse = False
        self._delay = 0.0

    def close(self) -> None:
        self._server.close()
        self.cut()
