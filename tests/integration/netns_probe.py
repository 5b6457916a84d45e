"""Run by test_terminal_namespace.py inside a network namespace of its own that has no route out
(``unshare --net``): the suite's terminal namespace and network oracle, and a "candidate" in the terminal
namespace that sends TCP, UDP and DNS to undeclared addresses of the documentation ranges.

The oracle of "nothing leaves": in this outer namespace the default route leads to one end of a veth
pair whose next hop has a static neighbour entry (so IPv4 packets go out at once, no ARP), and a packet
socket watches that end. Any packet the suite's process sent towards
those addresses would appear there; a datagram sent on purpose first proves the watcher sees it. The
sockets of this process are listed with ``ss`` while the candidate sends, as a second view.

Prints one JSON document on stdout.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import certifi

from conformance.environment.terminal_netns import RESOLVER_ADDRESS, TerminalNamespace, in_netns_of
from conformance.oracles.network import NetworkOracle

DOC_RANGES = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
EGRESS = "egress0"
TCP_TARGET, UDP_TARGET, OTHER_RESOLVER = ("192.0.2.10", 443), ("198.51.100.20", 3478), ("203.0.113.53", 53)
CONTROL_TARGET = ("203.0.113.99", 9)
NAME = "leak-probe.example"
UPSTREAM_CA = Path(certifi.where())  # verification stays on; no upstream is ever reached
PAYLOAD = b"UDP-PAYLOAD-FROM-TERMINAL"


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


class Watcher:
    """Every IPv4 packet leaving through the watched interface, by destination address."""

    def __init__(self) -> None:
        # ETH_P_ALL: a socket bound to ETH_P_IP alone is not handed the packets this host sends.
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.ntohs(0x0003))
        self.sock.bind((EGRESS, 0))
        self.sock.settimeout(0.2)
        self.seen: list[str] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                packet, (_, ethertype, *_) = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            if ethertype == 0x0800 and len(packet) >= 20:
                self.seen.append(socket.inet_ntoa(struct.unpack("!4s", packet[16:20])[0]))

    def stop(self) -> list[str]:
        self._stop = True
        self._thread.join(2)
        return self.seen


def dns_query(name: str) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + labels + struct.pack("!HH", 1, 1)


def candidate() -> dict:
    """What a misbehaving candidate does, run inside the terminal namespace."""
    done: dict = {}
    try:
        with socket.create_connection(TCP_TARGET, timeout=3) as tcp:
            tcp.sendall(b"GET / HTTP/1.1\r\nHost: undeclared\r\n\r\n")
            done["tcp"] = "connected (to the oracle's TUN stack)"
    except OSError as exc:
        done["tcp"] = str(exc)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(PAYLOAD, UDP_TARGET)
        udp.sendto(dns_query("other-resolver." + NAME), OTHER_RESOLVER)
        udp.sendto(dns_query(NAME), (RESOLVER_ADDRESS, 53))
        udp.settimeout(3)
        try:
            answer, sender = udp.recvfrom(4096)
            done["dns_answer_from"] = sender[0]
            done["dns_answer_bytes"] = len(answer)
        except TimeoutError:
            done["dns_answer_from"] = None
    return done


def suite_sockets_to_documentation_ranges() -> list[str]:
    listing = subprocess.run(["ss", "-H", "-tuanp"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) < 6 or f"pid={os.getpid()}," not in line:
            continue
        peer = fields[5].rsplit(":", 1)[0].strip("[]")
        try:
            if any(ipaddress.ip_address(peer) in net for net in DOC_RANGES):
                found.append(line)
        except ValueError:
            continue
    return found


def main(folder: Path) -> None:
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "link", "add", EGRESS, "type", "veth", "peer", "name", EGRESS + "p")
    sh("ip", "addr", "add", "10.99.0.1/24", "dev", EGRESS)
    sh("ip", "link", "set", EGRESS, "up")
    sh("ip", "link", "set", EGRESS + "p", "up")
    sh("ip", "neigh", "add", "10.99.0.2", "lladdr", "02:00:00:00:00:02", "dev", EGRESS)
    sh("ip", "route", "add", "default", "via", "10.99.0.2", "dev", EGRESS)
    watcher = Watcher()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as control:  # positive control of the watcher
        control.sendto(b"control", CONTROL_TARGET)
    time.sleep(0.3)
    result: dict = {"control_seen": CONTROL_TARGET[0] in watcher.seen}
    with TerminalNamespace(folder / "netns") as terminal, NetworkOracle(folder / "mitm", UPSTREAM_CA,
                                                                        terminal) as oracle:  # fmt: skip
        result["holder_pid"] = terminal.pid
        result["link"] = terminal.link
        result["candidate"] = in_netns_of(terminal.pid, candidate)
        time.sleep(1.0)
        result["suite_sockets_to_documentation_ranges"] = suite_sockets_to_documentation_ranges()
        result["records"] = [
            {"kind": r.kind, "host": r.host, "port": r.port, "address": r.address, "refused": r.refused,
             "payload": b"".join(d.content for d in r.datagrams).decode("latin-1")}
            for r in oracle.records()
        ]  # fmt: skip
    time.sleep(0.5)
    result["egress_packets"] = [a for a in watcher.stop() if a != CONTROL_TARGET[0]]
    result["holder_alive_after"] = Path(f"/proc/{result['holder_pid']}").exists()
    result["link_left_in_suite_namespace"] = result["link"] in {name for _, name in socket.if_nameindex()}
    print(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
