"""Listening-port oracle: which sockets the candidate (and its children) listens on, and what answers.

``listeners`` parses ``ss`` (iproute2); the process tree comes from /proc (psutil is not required).
Probes only ever touch loopback: a wildcard listener (0.0.0.0 / ::) is probed via 127.0.0.1 / ::1 and
any other address is refused with ValueError, so the suite never sends traffic beyond the terminal.

A candidate in the terminal's network namespace has its own sockets and its own loopback: the cases run the
listing and the probes inside the namespace of the process looked at (``terminal_netns.in_netns_of``).
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.environment.procs import require_tool
from conformance.errors import HarnessError

_USER = re.compile(r'\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=\d+\)')


@dataclass(frozen=True)
class Listener:
    proto: str  # "tcp" or "udp"
    address: str  # as bound: "127.0.0.1", "0.0.0.0", "::", "::1", ...
    port: int
    pid: int | None  # None when ss shows no owner (e.g. another user's socket without privileges)
    process: str | None

    @property
    def is_loopback_only(self) -> bool:
        try:
            return ipaddress.ip_address(self.address).is_loopback
        except ValueError:
            return False


def _split_address(local: str) -> tuple[str, int] | None:
    host, sep, port_text = local.rpartition(":")
    if not sep or not port_text.isdigit():
        return None
    host = host.strip("[]")
    host = host.split("%", 1)[0]  # drop an interface scope: 127.0.0.53%lo, fe80::1%eth0
    if host == "*":
        host = "::"  # ss prints the IPv6 wildcard (dual-stack) as "*"
    return host, int(port_text)


def parse_ss(output: str, proto: str) -> list[Listener]:
    """Parse ``ss -H -l{t,u}np`` output: one Listener per (socket, owning process)."""
    result: list[Listener] = []
    for line in output.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        parsed = _split_address(fields[3])
        if parsed is None:
            continue
        address, port = parsed
        owners = _USER.findall(" ".join(fields[5:]))
        if not owners:
            result.append(Listener(proto, address, port, None, None))
        seen: set[int] = set()
        for name, pid_text in owners:
            pid = int(pid_text)
            if pid not in seen:
                seen.add(pid)
                result.append(Listener(proto, address, port, pid, name))
    return result


def _parent_map(proc_root: Path = Path("/proc")) -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in proc_root.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat_line = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        # "pid (comm) state ppid ...": comm may contain spaces and parentheses, so split after the last ")".
        after = stat_line.rpartition(")")[2].split()
        if len(after) >= 2 and after[1].isdigit():
            children.setdefault(int(after[1]), []).append(int(entry.name))
    return children


def descendants(pids: Iterable[int], proc_root: Path = Path("/proc")) -> set[int]:
    """``pids`` plus all their children, grandchildren, ... (from /proc/*/stat; works without
    CONFIG_PROC_CHILDREN, which this machine's kernel lacks)."""
    wanted = set(pids)
    children = _parent_map(proc_root)
    stack = list(wanted)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in wanted:
                wanted.add(child)
                stack.append(child)
    return wanted


def _run_ss(flags: str) -> str:
    ss = require_tool("ss", "ss")
    result = subprocess.run([ss, "-H", flags], capture_output=True, text=True, timeout=10, check=False)
    if result.returncode != 0:
        raise HarnessError("ss", f"ss -H {flags} failed rc={result.returncode}: {result.stderr.strip()}")
    return result.stdout


def listeners(pids: Iterable[int] | None = None, *, udp: bool = True) -> list[Listener]:
    """Listening TCP (and bound UDP) sockets, optionally only those of ``pids`` and their descendants."""
    found = parse_ss(_run_ss("-ltnp"), "tcp")
    if udp:
        found += parse_ss(_run_ss("-lunp"), "udp")
    if pids is None:
        return found
    family = descendants(pids)
    return [item for item in found if item.pid is not None and item.pid in family]


def probe_address(host: str) -> str:
    """The loopback address to probe for ``host``; ValueError for anything beyond the terminal itself."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError as exc:
        raise ValueError(f"refusing to probe {host!r}: not an IP address") from exc
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr.is_unspecified:
        return "127.0.0.1" if addr.version == 4 else "::1"
    if addr.is_loopback:
        return str(addr)
    raise ValueError(f"refusing to probe {host!r}: only loopback and wildcard listeners are probed")


def _connect(host: str, port: int, timeout: float) -> socket.socket | None:
    target = probe_address(host)
    try:
        return socket.create_connection((target, port), timeout=timeout)
    except OSError:
        return None  # refused / nothing there: an observation, not a harness failure


def _recv_all(sock: socket.socket, deadline: float, limit: int) -> bytes:
    data = b""
    while len(data) < limit:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(min(65536, limit - len(data)))
        except (TimeoutError, OSError):
            break
        if not chunk:
            break
        data += chunk
        if _http_complete(data):
            break
    return data


def _http_complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return match is not None and len(body) >= int(match.group(1))


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            return out
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


def probe_cdp(host: str, port: int, timeout: float = 1.0) -> dict[str, Any] | None:
    """``GET /json/version`` on a plain socket; the parsed JSON when it is a DevTools endpoint.

    The Host header is an IP literal on purpose: Chromium's DevTools server rejects other host names.
    """
    target = probe_address(host)
    sock = _connect(target, port, timeout)
    if sock is None:
        return None
    host_header = f"[{target}]:{port}" if ":" in target else f"{target}:{port}"
    request = (f"GET /json/version HTTP/1.1\r\nHost: {host_header}\r\nAccept: application/json\r\n"
               "Connection: close\r\n\r\n").encode("ascii")
    with sock:
        try:
            sock.sendall(request)
        except OSError:
            return None
        data = _recv_all(sock, time.monotonic() + timeout, 1024 * 1024)
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"HTTP/1."):
        return None
    if re.search(rb"(?im)^transfer-encoding:\s*chunked", head):
        body = _dechunk(body)
    try:
        info = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if isinstance(info, dict) and "webSocketDebuggerUrl" in info:
        return info
    return None


def probe_banner(host: str, port: int, timeout: float = 1.0, max_bytes: int = 256) -> bytes | None:
    """First bytes the server sends by itself (VNC "RFB 003.008", SSH "SSH-2.0-..."), else its answer to
    ``HEAD / HTTP/1.1``. b"" when it stays silent, None when nothing accepts the connection."""
    sock = _connect(host, port, timeout)
    if sock is None:
        return None
    with sock:
        greeting = _recv_first(sock, timeout, max_bytes)
        if greeting:
            return greeting
        target = probe_address(host)
        host_header = f"[{target}]:{port}" if ":" in target else f"{target}:{port}"
        # HTTP/1.1 with an IP Host header: Chromium's DevTools server silently drops HTTP/1.0 requests.
        request = f"HEAD / HTTP/1.1\r\nHost: {host_header}\r\nConnection: close\r\n\r\n".encode("ascii")
        try:
            sock.sendall(request)
        except OSError:
            return b""
        return _recv_first(sock, timeout, max_bytes)


def _recv_first(sock: socket.socket, timeout: float, max_bytes: int) -> bytes:
    """The first chunk the peer sends within ``timeout`` (b"" on silence, reset or close)."""
    sock.settimeout(timeout)
    try:
        return sock.recv(max_bytes)
    except (TimeoutError, OSError):
        return b""


def classify_banner(banner: bytes | None) -> str:
    """"vnc", "ssh", "http", "rdp-or-binary", "silent", "closed" or "unknown" for a probe_banner result."""
    if banner is None:
        return "closed"
    if not banner:
        return "silent"
    if banner.startswith(b"RFB "):
        return "vnc"
    if banner.startswith(b"SSH-"):
        return "ssh"
    if banner.startswith(b"HTTP/"):
        return "http"
    if banner[:1] == b"\x03":
        return "rdp-or-binary"
    return "unknown"
