"""Finding and judging the network endpoints of a candidate's processes (MNT-01), for every kind.

Not a test module; the cases import from here, never from each other.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from conformance.environment.terminal_netns import in_netns_of, netns_of
from conformance.errors import HarnessError
from conformance.oracles import ports

PROBE_TIMEOUT = 3.0  # a loaded machine answers slowly; a DevTools server answers in milliseconds


DEBUG_ARG_PREFIXES = ("--remote-debugging", "--remote-allow-origins", "--enable-automation")


def listener_positive_control() -> dict[str, Any]:
    """Open a listener on 127.0.0.1:0 in this process; ``ports.listeners`` must attribute it to us."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        seen = [item for item in ports.listeners(pids=[os.getpid()], udp=False) if item.port == port]
    if not seen:
        raise HarnessError("ss", f"positive control: our own listener 127.0.0.1:{port} was not found by ss")
    return {"port": port, "found": [f"{item.address}:{item.port} pid={item.pid}" for item in seen]}


def endpoints_of(pids: list[int]) -> list[dict[str, Any]]:
    """Every listening socket of ``pids`` and their descendants; TCP ones probed (loopback only), each in
    the network namespace its processes live in (the terminal's, when the candidate runs in one)."""
    by_namespace: dict[str, list[int]] = {}
    for pid in pids:
        by_namespace.setdefault(netns_of(pid), []).append(pid)
    found = []
    for namespace, members in by_namespace.items():
        if namespace:  # "": the process has gone
            found += in_netns_of(members[0], lambda members=members: _endpoints(members))
    return found


def _endpoints(pids: list[int]) -> list[dict[str, Any]]:
    found = []
    for item in ports.listeners(pids=pids, udp=True):
        entry: dict[str, Any] = {
            "proto": item.proto,
            "address": item.address,
            "port": item.port,
            "pid": item.pid,
            "process": item.process,
            "loopback_only": item.is_loopback_only,
        }
        if item.proto == "tcp":
            entry.update(_probe(item))
        found.append(entry)
    return found


def _probe(item: ports.Listener) -> dict[str, Any]:
    try:
        target = ports.probe_address(item.address)
    except ValueError:
        return {"probed": None, "note": "bound to a specific non-loopback address: judged from ss, not probed"}
    cdp = ports.probe_cdp(item.address, item.port, timeout=PROBE_TIMEOUT)
    result: dict[str, Any] = {"probed": f"{target}:{item.port}", "devtools": cdp}
    if cdp is None:
        banner = ports.probe_banner(item.address, item.port, timeout=PROBE_TIMEOUT)
        result["banner"] = ports.classify_banner(banner)
        result["banner_bytes"] = (banner or b"")[:80].decode("latin-1")
    return result


def debug_arguments(pids: list[int]) -> dict[int, list[str]]:
    """Remote-debugging / automation switches on the candidate's command lines (context for a reader)."""
    found = {}
    for pid in pids:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        flags = [arg for arg in argv if arg.startswith(DEBUG_ARG_PREFIXES)]
        if flags:
            found[pid] = flags
    return found


def judge(endpoints: list[dict[str, Any]]) -> list[str]:
    """The findings that make MNT-01 fail, one readable line each."""
    findings = []
    for entry in endpoints:
        where = f"{entry['proto']} {entry['address']}:{entry['port']} ({entry['process']} pid {entry['pid']})"
        if entry.get("devtools"):
            browser = entry["devtools"].get("Browser", "?")
            findings.append(f"DevTools endpoint on {where}: {browser}, {entry['devtools'].get('webSocketDebuggerUrl')}")
        elif entry["proto"] == "tcp" and not entry["loopback_only"]:
            findings.append(f"listening on a non-loopback address: {where}, answers as {entry.get('banner', '?')}")
    return findings
