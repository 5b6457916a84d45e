"""NET-04's cut behaves as a broken line: it refuses new connections to the cut endpoint *and* breaks the
ones already open (a candidate's idle preconnect to its gateway must not carry the request made after the
cut), while a connection to another endpoint stays up."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest

from conformance.oracles.network import NetworkOracle


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture()
def echo_server() -> Iterator[tuple[str, int]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address  # type: ignore[misc]
    server.shutdown()
    server.server_close()


def _tunnel(proxy_port: int, host: str, port: int) -> socket.socket:
    """A CONNECT tunnel through the oracle's proxy listener, proven to carry bytes (raw TCP, echoed)."""
    sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=5)
    sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1024)
        assert chunk, f"the proxy closed the CONNECT to {host}:{port}"
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head
    sock.sendall(b"ping\n")
    assert sock.recv(16) == b"ping\n"
    return sock


def _closed(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(16) == b""
    except TimeoutError:
        return False
    except OSError:
        return True  # reset


def test_a_cut_breaks_open_connections_to_the_cut_endpoint_only(tmp_path: Path, echo_server: tuple[str, int]) -> None:
    with NetworkOracle(tmp_path / "mitm", Path(certifi.where())) as oracle:
        oracle.route("gateway.test", 3128, echo_server)
        oracle.route("other.test", 7000, echo_server)
        to_gateway = _tunnel(oracle.port, "gateway.test", 3128)
        to_other = _tunnel(oracle.port, "other.test", 7000)
        with oracle.cut([("gateway.test", 3128)]):
            assert _closed(to_gateway, 5), "the connection open before the cut survived it"
            assert not _closed(to_other, 0.5), "a connection to an endpoint that was not cut was broken"
            to_other.sendall(b"still\n")
            assert to_other.recv(16) == b"still\n"
            refused = socket.create_connection(("127.0.0.1", oracle.port), timeout=5)
            refused.sendall(b"CONNECT gateway.test:3128 HTTP/1.1\r\nHost: gateway.test:3128\r\n\r\n")
            assert not refused.recv(64).startswith(b"HTTP/1.1 200"), "a new connection was let through the cut"
            refused.close()
        # the route is back after the cut
        _tunnel(oracle.port, "gateway.test", 3128).close()
        to_gateway.close()
        to_other.close()
