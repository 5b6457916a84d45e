"""A private CUPS server with a cups-pdf queue, touching no host configuration.

Why a mount namespace: the cups-pdf backend hard-codes ``/etc/cups/cups-pdf.conf``, so the only way to
give it private output paths without writing to /etc is ``unshare --mount`` + a bind mount of a
generated copy over ``/etc/cups``, visible to cupsd and its children only.

Why *everything* lives inside that bound copy (``work_dir/cups`` is ``/etc/cups`` in the namespace):
filters run as user ``lp`` and must traverse the path to the spool and temp dirs. ``work_dir`` is often
below a 0700 directory (pytest's tmp_path), which ``lp`` cannot traverse; the same files reached as
``/etc/cups/...`` inside the namespace can. Configuration files therefore name namespace paths
(``/etc/cups/spool``); this object exposes the real paths (``work_dir/cups/spool``) for the oracles.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from functools import partial
from pathlib import Path
from types import TracebackType

from conformance.environment.procs import ManagedProcess, free_port, port_accepts, require_tool
from conformance.errors import HarnessError

HOST_CUPS_ETC = Path("/etc/cups")
# Where set-up keeps tools of its own (Allure, a CUPS client library); nothing of it is installed system-wide.
TOOLS_DIR = Path(__file__).resolve().parents[2] / "tools"
# Debian's libcups2 2.4.2-3+deb12u10 (bookworm-security, 2026-11-20) carries the fix for CVE-2025-58436 but
# not its follow-up, CUPS issue #1439 (fixed upstream in 2.4.16, commit 2dc021f): on a non-blocking
# connection ``_httpUpdate`` never reads a response it has not buffered yet, so GTK's CUPS print backend
# polls forever. Chromium confirms every print job through GTK on Linux, so with that build no job ever
# reaches a CUPS queue. The terminal the harness provides gets the previous Debian build of the same
# library instead (fetched by set-up, never installed); the candidate's own files are not touched.
REGRESSED_LIBCUPS = {"2.4.2-3+deb12u10": "2.4.2-3+deb12u9"}
NS_ROOT = "/etc/cups"  # where work_dir/cups appears inside the private mount namespace
PPD_DIR = Path("/usr/share/ppd/cups-pdf")
# Host state a copy must not inherit: printers, classes, subscriptions, options, keys (recreated empty).
_HOST_STATE = ("printers.conf", "printers.conf.O", "classes.conf", "classes.conf.O", "subscriptions.conf",
               "subscriptions.conf.O", "lpoptions", "ppd", "ssl")


def installed_libcups(package: str = "libcups2") -> str | None:
    """The Debian version of the system's CUPS client library, None where dpkg does not know it."""
    if shutil.which("dpkg-query") is None:
        return None
    result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True,
                            check=False)
    return result.stdout.strip() or None if result.returncode == 0 else None


def client_library_fix(version: str | None = None, tools: Path | None = None) -> tuple[str, Path | None] | None:
    """None when the system's libcups works; else (replacement version, folder with its libcups.so.2 or
    None when set-up has not fetched it)."""
    version = installed_libcups() if version is None else version
    tools = TOOLS_DIR if tools is None else tools
    replacement = REGRESSED_LIBCUPS.get(version or "")
    if replacement is None:
        return None
    found = sorted((tools / "libcups" / replacement).rglob("libcups.so.2"))
    return replacement, (found[0].parent if found else None)


def fetch_client_library_fix(tools: Path | None = None) -> str:
    """Download and unpack (not install) the replacement libcups2 when the system's one is regressed."""
    tools = TOOLS_DIR if tools is None else tools
    fix = client_library_fix(tools=tools)
    if fix is None:
        return f"libcups2 {installed_libcups()}: no replacement needed"
    replacement, folder = fix
    if folder is not None:
        return f"libcups2 {replacement} already in {folder}"
    target = tools / "libcups" / replacement
    download = target.with_name(replacement + ".download")
    shutil.rmtree(download, ignore_errors=True)
    download.mkdir(parents=True)
    download.chmod(0o777)  # apt's download sandbox user must be able to write there
    result = subprocess.run(["apt-get", "download", "-q", f"libcups2={replacement}"], cwd=download,
                            capture_output=True, text=True, check=False)
    debs = sorted(download.glob("libcups2_*.deb"))
    if result.returncode != 0 or not debs:
        shutil.rmtree(download, ignore_errors=True)
        raise HarnessError("libcups", f"apt-get download libcups2={replacement} failed: "
                                      f"{(result.stderr or result.stdout).strip()[-300:]}")
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(target)], check=True)
    shutil.rmtree(download, ignore_errors=True)
    return f"libcups2 {installed_libcups()} is regressed (CUPS issue #1439): {replacement} unpacked in {target}"


_NS_SCRIPT = '"$3" --bind "$1" /etc/cups && exec "$2" -f'  # exec keeps the PID: stop by PID works


def find_cups_pdf_ppd(ppd_dir: Path = PPD_DIR) -> Path:
    """The CUPS-PDF PPD (the "_opt" variant labels output files with the job id), or HarnessError."""
    preferred = ppd_dir / "CUPS-PDF_opt.ppd"
    if preferred.is_file():
        return preferred
    candidates = sorted(ppd_dir.glob("*.ppd")) if ppd_dir.is_dir() else []
    if not candidates:
        raise HarnessError("cupsd", f"no CUPS-PDF PPD under {ppd_dir} (package printer-driver-cups-pdf?)")
    return candidates[0]


class PrivateCups:
    """Private cupsd on 127.0.0.1:<free port> with queue ``PDF`` (cups-pdf); context manager.

    Attributes after start: ``server`` ("127.0.0.1:port"), ``env`` ({"CUPS_SERVER": server}),
    ``output_dir`` (cups-pdf Out), ``anon_dir``, ``spool_dir`` (cupsd RequestRoot with the preserved
    ``c*``/``d*`` job files), ``queue``, ``error_log``, ``cups_pdf_log``, ``startup_seconds``.
    """

    queue = "PDF"

    def __init__(self, work_dir: Path, *, timeout: float = 15.0, log_level: str = "info") -> None:
        self.work_dir = Path(work_dir).resolve()
        self.timeout = timeout
        self.log_level = log_level
        self.server_root = self.work_dir / "cups"  # bound over /etc/cups in the namespace
        self.spool_dir = self.server_root / "spool"
        self.output_dir = self.server_root / "pdf" / "out"
        self.anon_dir = self.server_root / "pdf" / "anon"
        self.cups_pdf_spool = self.server_root / "pdf" / "spool"
        self.log_dir = self.server_root / "log"
        self.error_log = self.log_dir / "error_log"
        self.cups_pdf_log = self.server_root / "pdf" / "log"
        self.host = "127.0.0.1"
        self.port: int | None = None
        # The terminal's way in: a local socket also reaches a candidate in its own network namespace,
        # whose loopback is not this one (environment.terminal_netns). The harness's tools use TCP.
        self.socket_path = self.work_dir / "cups.sock"
        self.process: ManagedProcess | None = None
        self._tools: dict[str, str] = {}
        self.startup_seconds: float | None = None  # until cupsd listens
        self.ready_seconds: float | None = None  # until the queue is configured and reported by lpstat

    @property
    def server(self) -> str:
        if self.port is None:
            raise HarnessError("cupsd", "private CUPS not started")
        return f"{self.host}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """For the harness's own CUPS tools (lp, lpstat, lpadmin)."""
        return {"CUPS_SERVER": self.server}

    def terminal_env(self, folder: Path | None = None) -> dict[str, str]:
        """The CUPS client environment of the terminal the candidate runs on: this server only.

        The host's ``/etc/cups`` (client.conf, lpoptions) is replaced by a private client root, and the
        system D-Bus (through which GTK finds network printers via Avahi) is hidden, so that what a machine
        happens to run cannot add printers or change defaults. Where the system's libcups is regressed,
        the replacement library comes first on the library path; see ``REGRESSED_LIBCUPS``.
        """
        return terminal_cups_env(str(self.socket_path), folder or self.work_dir / "client")

    # -- configuration -----------------------------------------------------------------------------------

    def _ns(self, real: Path) -> str:
        """The namespace path (as cupsd/cups-pdf see it) of a real path below server_root."""
        return f"{NS_ROOT}/{real.relative_to(self.server_root).as_posix()}"

    def _write_config(self, port: int) -> None:
        if self.server_root.exists():
            shutil.rmtree(self.server_root)
        # Copy the host's static files (mime rules, raw.types, ssl dir, ...) but none of its state.
        shutil.copytree(HOST_CUPS_ETC, self.server_root, symlinks=True,
                        ignore=lambda _dir, names: [n for n in names if n in _HOST_STATE])
        root = self.server_root
        for sub in (self.spool_dir / "tmp", root / "cache", root / "state", self.log_dir, root / "ppd",
                    root / "ssl", self.cups_pdf_spool, self.cups_pdf_log):
            sub.mkdir(parents=True, exist_ok=True)
        for shared in (self.output_dir, self.anon_dir):
            shared.mkdir(parents=True, exist_ok=True)
            shared.chmod(0o1777)  # like /var/spool/cups-pdf/ANONYMOUS: a job user other than root may write
        (self.server_root / "cupsd.conf").write_text(
            f"""# generated by conformance.environment.cups: private, loopback only, no authentication
LogLevel {self.log_level}
Listen {self.host}:{port}
Listen {self.socket_path}
Browsing No
BrowseLocalProtocols none
DefaultAuthType None
WebInterface No
PreserveJobFiles Yes
PreserveJobHistory Yes
ErrorPolicy abort-job
DirtyCleanInterval 0
<Location />
  Order allow,deny
  Allow from 127.0.0.1
  Allow localhost
</Location>
<Policy default>
  JobPrivateAccess all
  JobPrivateValues none
  SubscriptionPrivateAccess all
  SubscriptionPrivateValues none
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
""",
            encoding="utf-8",
        )
        (self.server_root / "cups-files.conf").write_text(
            f"""# generated: every path lives below {self.server_root} (seen as {NS_ROOT} by cupsd)
SystemGroup root
FileDevice No
AccessLog {self._ns(self.log_dir / "access_log")}
ErrorLog {self._ns(self.error_log)}
PageLog {self._ns(self.log_dir / "page_log")}
CacheDir {self._ns(self.server_root / "cache")}
StateDir {self._ns(self.server_root / "state")}
RequestRoot {self._ns(self.spool_dir)}
TempDir {self._ns(self.spool_dir / "tmp")}
Printcap {self._ns(self.server_root / "state" / "printcap")}
""",
            encoding="utf-8",
        )
        # Without an explicit Spool, cups-pdf creates /var/spool/cups-pdf/SPOOL on the host (spike pitfall).
        (self.server_root / "cups-pdf.conf").write_text(
            f"""# generated: cups-pdf output for the private queue
Out {self._ns(self.output_dir)}
AnonDirName {self._ns(self.anon_dir)}
Spool {self._ns(self.cups_pdf_spool)}
Log {self._ns(self.cups_pdf_log)}
LogType 3
""",
            encoding="utf-8",
        )

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> PrivateCups:
        names = ("unshare", "mount", "cupsd", "lpadmin", "lpstat")
        tools = self._tools = {name: require_tool(name, "cupsd") for name in names}
        if os.geteuid() != 0:
            raise HarnessError("cupsd", "a private CUPS needs root (unshare --mount + bind over /etc/cups)")
        ppd = find_cups_pdf_ppd()
        started = time.monotonic()
        try:
            for attempt in range(3):  # a free port can be taken between free_port() and cupsd's bind
                port = free_port(self.host)
                self._write_config(port)
                proc = ManagedProcess(
                    ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", _NS_SCRIPT,
                     "sh", str(self.server_root), tools["cupsd"], tools["mount"]],
                    component="cupsd",
                    log_dir=self.work_dir / "logs",
                    name="cupsd",
                )
                self.process, self.port = proc, port
                try:
                    listening = partial(port_accepts, self.host, port)
                    proc.wait_until(listening, self.timeout, f"cupsd on port {port}")
                except HarnessError:
                    if proc.running or attempt == 2:
                        raise
                    proc.stop()  # exited early (lost the port?): try again with a new port
                    continue
                break
            self.startup_seconds = time.monotonic() - started
            self._add_queue(tools, ppd)
            if self.process is None:
                raise HarnessError("cupsd", "cupsd was not started")
            self.process.wait_until(self._queue_ready, self.timeout, f"cups queue {self.queue}")
            self.ready_seconds = time.monotonic() - started
        except BaseException:
            self.stop()  # includes KeyboardInterrupt: never leave a private cupsd behind
            raise
        return self

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, env={**os.environ, **self.env}, capture_output=True, text=True,
                              timeout=self.timeout, check=False)

    def _add_queue(self, tools: dict[str, str], ppd: Path) -> None:
        # lpadmin must talk to the private server: -h plus CUPS_SERVER (the host's cupsd is not involved).
        for argv in (
            [tools["lpadmin"], "-h", self.server, "-p", self.queue, "-E", "-v", "cups-pdf:/", "-P", str(ppd)],
            [tools["lpadmin"], "-h", self.server, "-d", self.queue],
        ):
            result = self._run(argv)
            if result.returncode != 0:
                if self.process is not None:
                    self.process.mark_failed()
                raise HarnessError("cupsd", f"{' '.join(argv)} failed rc={result.returncode}: "
                                            f"{result.stderr.strip()}; see {self.error_log}")

    def _queue_ready(self) -> bool:
        result = self._run([self._tools["lpstat"], "-h", self.server, "-p", self.queue])
        return result.returncode == 0 and f"printer {self.queue} " in result.stdout

    def stop(self, timeout: float = 5.0) -> None:
        if self.process is not None:
            self.process.stop(timeout)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.running

    def __enter__(self) -> PrivateCups:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None and self.process is not None:
            self.process.mark_failed()
        self.stop()

    def __repr__(self) -> str:
        return f"PrivateCups(server={self.port and self.server}, work_dir={self.work_dir})"


def terminal_cups_env(server: str, folder: Path) -> dict[str, str]:
    """See ``PrivateCups.terminal_env``; also for a terminal whose private CUPS failed to start."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "client.conf").write_text(f"# generated: the run's private CUPS only\nServerName {server}\n",
                                        encoding="utf-8")
    env = {
        "CUPS_SERVER": server,
        "CUPS_SERVERROOT": str(folder),
        "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={folder / 'no-system-bus'}",
    }
    fix = client_library_fix()
    if fix is not None and fix[1] is not None:  # first on the path; whatever the machine set stays behind it
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (str(fix[1]), os.environ.get("LD_LIBRARY_PATH")) if p)
    return env


def client_library_problem() -> str | None:
    """Why the terminal cannot print to any CUPS queue, or None."""
    fix = client_library_fix()
    if fix is None or fix[1] is not None:
        return None
    return (f"the system's libcups2 {installed_libcups()} makes every GTK print dialog hang (CUPS issue #1439), "
            f"so no print job of the candidate could reach the printer; scripts/setup.sh fetches "
            f"libcups2 {fix[0]} for the terminal / システムの libcups2 の既知の不具合（CUPS #1439）で印刷ジョブが"
            f"プリンタに届かないため判定できない。scripts/setup.sh が端末用に libcups2 {fix[0]} を取得する")
