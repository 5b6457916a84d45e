"""The two test terminals of WLAN-02, on the suite's reference bridge or on a real wireless LAN in a lab.

``reference-bridge``: the suite builds the segment on its test network (``test_network.py``): a gateway on an
uplink port and two terminals, the bridge's client ports isolated or not as the profile says. Both terminals
are the suite's, so each probes the other and each keeps listeners whose own view (who connected) is known.

``lab``: the segment is the municipality's (or vendor's) real wireless LAN. This machine is terminal A; the
second terminal B runs ``conformance wlan-peer``, which keeps the same listeners and answers on a control
address reached over another path (a wired port): before the probes it proves that B listens — otherwise an
isolated B and a B that is switched off look the same — and afterwards it tells what reached B. Only A → B
is probed (B is not the suite's to drive). Probes go to the declared addresses only, and a lab needs
``--allow-lab-address``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import threading
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from conformance.environment.test_network import WLAN, TestNetwork
from conformance.errors import HarnessError, InputError
from conformance.oracles.reachability import Listeners

GATEWAY_CONTROL_PORT = 8080  # the reference gateway's listener for the positive control
CONTROL_TIMEOUT = 5.0


class Terminal(Protocol):
    name: str

    def call(self, work: Any) -> Any: ...
    def enter_argv(self) -> list[str]: ...


class ThisTerminal:
    """This machine as terminal A of a lab: probes run here, in the suite's own network."""

    name = "this-machine"

    def call(self, work: Any) -> Any:
        return work()

    def enter_argv(self) -> list[str]:
        return []


class PeerView(Protocol):
    """Terminal B's own view: which probe ports it listens on, and who connected to them."""

    def listening(self) -> dict[int, str]: ...
    def accepted(self) -> dict[int, list[str]]: ...


@dataclass
class WlanSetup:
    mode: str  # "reference-bridge" or "lab"
    device: str  # terminal A's interface on the segment (ARP is sent there)
    terminal: Terminal  # A
    terminal_address: str
    peer_address: str  # B
    gateway_address: str
    reverse: Terminal | None  # B when it is the suite's: B → A is probed too
    network: TestNetwork | None = None
    peer_control: str = ""
    facts: dict[str, Any] = field(default_factory=dict)

    @contextlib.contextmanager
    def listening(self, ports: Sequence[int]) -> Iterator[tuple[PeerView, list[int]]]:
        """Targets listening for the probes: B's view, and the gateway's TCP ports for the positive control."""
        if self.mode == "lab":
            view = ControlledPeer(self.peer_control)
            not_listening = {p: s for p, s in view.listening().items() if p in ports and s == "failed"}
            absent = [p for p in ports if p not in view.listening()]
            if not_listening or absent:
                flags = " ".join(f"--port {p}" for p in sorted(set(absent) | set(not_listening)))
                raise HarnessError("wlan-peer", f"the peer at {self.peer_control} does not listen on every probe port: "
                                                f"restart it with `conformance wlan-peer ... {flags}`")
            yield view, []
            return
        if self.network is None:
            raise HarnessError("wlan", "the reference segment has no test network")
        hosts = self.network.hosts
        opened = [Listeners(self.peer_address, ports).open_on(hosts["wlan-terminal-b"]),
                  Listeners(self.terminal_address, ports).open_on(hosts["wlan-terminal-a"]),
                  Listeners(self.gateway_address, [GATEWAY_CONTROL_PORT]).open_on(hosts["wlan-gateway"])]
        try:
            yield LocalPeer(opened[0]), [GATEWAY_CONTROL_PORT]
        finally:
            for listener in opened:
                listener.close()


@dataclass
class LocalPeer:
    """B's view on the reference bridge: the suite's own listeners in B's namespace."""

    listeners: Listeners

    def listening(self) -> dict[int, str]:
        return dict.fromkeys(self.listeners.ports, "bound")

    def accepted(self) -> dict[int, list[str]]:
        return {port: list(sources) for port, sources in self.listeners.sources.items()}


@dataclass
class ControlledPeer:
    """B's view in a lab: ``conformance wlan-peer``'s control endpoint (GET /status, JSON)."""

    control: str

    def status(self) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(f"http://{self.control}/status", timeout=CONTROL_TIMEOUT) as answer:
                return json.loads(answer.read())
        except (OSError, ValueError) as exc:
            raise HarnessError("wlan-peer", f"the peer's control endpoint {self.control} does not answer ({exc}): is "
                                            "`conformance wlan-peer` running there, reachable over the wired path?"
                               ) from exc

    def listening(self) -> dict[int, str]:
        return {int(port): state for port, state in self.status().get("ports", {}).items()}

    def accepted(self) -> dict[int, list[str]]:
        return {int(port): list(sources) for port, sources in self.status().get("accepted", {}).items()}


def reference_setup(network: TestNetwork, isolated: bool) -> WlanSetup:
    """The reference access point: a bridge, its client ports isolated or not, on the suite's test network."""
    network.segment(WLAN, isolated=isolated)
    gateway = network.host("wlan-gateway", [WLAN], uplink=True)
    terminal_a = network.host("wlan-terminal-a", [WLAN])
    terminal_b = network.host("wlan-terminal-b", [WLAN])
    return WlanSetup("reference-bridge", f"eth-{WLAN}", terminal_a, terminal_a.address(WLAN),
                     terminal_b.address(WLAN), gateway.address(WLAN), reverse=terminal_b, network=network,
                     facts={"segment": network.facts()["segments"][WLAN]})


def lab_setup(wlan: Any) -> WlanSetup:
    """This machine as terminal A on the real wireless LAN of a lab."""
    own = _own_address(wlan.device)
    return WlanSetup("lab", wlan.device, ThisTerminal(), own, wlan.peer, wlan.gateway, reverse=None,
                     peer_control=wlan.peer_control,
                     facts={"segment": "lab", "device": wlan.device, "this_machine": own, "peer": wlan.peer,
                            "gateway": wlan.gateway, "peer_control": wlan.peer_control,
                            "probed": "this machine → peer only (the peer is not the suite's to drive)"})


def _own_address(device: str) -> str:
    import fcntl
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:  # SIOCGIFADDR: the interface's IPv4 address
            packed = fcntl.ioctl(sock.fileno(), 0x8915, struct.pack("256s", device.encode()[:15]))
        except OSError as exc:
            raise HarnessError("wlan", f"interface {device} has no IPv4 address here: {exc.strerror}") from exc
    return socket.inet_ntoa(packed[20:24])


def validate_wlan(profile: Any, allow_lab_address: bool, file: str) -> None:
    """A lab's addresses are probed for real: only with --allow-lab-address, and only as literal addresses."""
    wlan = profile.wlan
    if wlan is None or wlan.segment != "lab":
        return
    if not allow_lab_address:
        raise InputError(file, "wlan.segment", 'segment = "lab" probes a real wireless LAN',
                         "pass --allow-lab-address when this machine really is a test terminal on it")
    for name in ("peer", "gateway"):
        try:
            ipaddress.ip_address(getattr(wlan, name))
        except ValueError:
            raise InputError(file, f"wlan.{name}", f"{getattr(wlan, name)!r} is not an IP address",
                             "give the address itself (no name lookup in a probe)") from None
    host, _, port = wlan.peer_control.rpartition(":")
    if not host or not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:  # "²" is a digit
        raise InputError(file, "wlan.peer_control", f"{wlan.peer_control!r} is not ADDRESS:PORT",
                         "the address and port `conformance wlan-peer --control` listens on")


# -- the peer side: `conformance wlan-peer` on terminal B -------------------------------------------------------
def serve_peer(control: str, ports: Sequence[int], stop: threading.Event | None = None) -> None:
    """Keep TCP listeners on ``ports`` (every address) and answer GET /status on ``control`` until ``stop``."""
    listeners: dict[int, Listeners] = {}
    states: dict[int, str] = {}
    for port in sorted(set(ports)):
        try:
            listeners[port] = Listeners("0.0.0.0", [port]).open_here()
            states[port] = "bound"
        except OSError:
            # Another program (sshd on 22) listens already: still a target, though its visitors are not seen here.
            states[port] = "in use by another program" if _listens(port) else "failed"
    host, _, port_text = control.rpartition(":")

    class Status(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({
                "peer": "conformance wlan-peer",
                "ports": {str(p): s for p, s in states.items()},
                "accepted": {str(p): list(lst.sources.get(p, [])) for p, lst in listeners.items()},
            }).encode()
            self.send_response(200 if self.path == "/status" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, int(port_text)), Status)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="wlan-peer-control")
    thread.start()
    print(f"wlan-peer: listening on {', '.join(f'{p} ({s})' for p, s in states.items())}; control on {control}",
          flush=True)
    try:
        (stop or threading.Event()).wait()
    finally:
        server.shutdown()
        server.server_close()
        for listener in listeners.values():
            listener.close()


def _listens(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False
