"""Print oracle: jobs that reached a private CUPS (see ``conformance.environment.cups.PrivateCups``).

Evidence per job, from the server's own files rather than from the browser:

* the control file ``c<id>`` (IPP attributes: job name/title, user, state, document format);
* the spooled originals ``d<id>-<n>`` (kept by ``PreserveJobFiles Yes``): what the client really sent,
  a PDF from Chromium, so ``pdftotext`` gives real text;
* the cups-pdf output in ``output_dir``. It went through ghostscript, so its text layer is often glyph
  garbage; its file NAME, however, carries the job title (and ``-job_<id>`` from the CUPS-PDF_opt PPD).

A job counts as "seen" as soon as it is spooled: a candidate that submits a job has printed, whether
or not cups-pdf finished.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from conformance.environment.cups import PrivateCups
from conformance.environment.procs import require_tool
from conformance.errors import HarnessError

_JOB_STATES = {3: "pending", 4: "held", 5: "processing", 6: "stopped", 7: "canceled", 8: "aborted",
               9: "completed"}
FINISHED_STATES = frozenset({"canceled", "aborted", "completed"})
_DOC_FILE = re.compile(r"^d(\d+)-(\d+)$")
_CTL_FILE = re.compile(r"^c(\d+)$")
_LABEL = (re.compile(r"-job_(\d+)\.pdf$", re.IGNORECASE), re.compile(r"^job_(\d+)-", re.IGNORECASE))
_MAX_RAW = 64 * 1024 * 1024


@dataclass(frozen=True)
class PrintJob:
    """One job seen by the private CUPS; ``job_id`` None for an output file no job could be matched to."""

    job_id: int | None
    title: str | None = None
    user: str | None = None
    state: str | None = None
    document_format: str | None = None
    control_file: Path | None = None
    spooled: tuple[Path, ...] = ()
    outputs: tuple[Path, ...] = ()

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def paths(self) -> tuple[Path, ...]:
        return (*self.spooled, *self.outputs)


@dataclass(frozen=True)
class PrinterSnapshot:
    """What existed at one moment: control files, spooled originals, output files (path -> mtime_ns)."""

    control_ids: frozenset[int]
    outputs: Mapping[Path, int] = field(default_factory=dict)
    taken_at: float = 0.0


def parse_ipp_attributes(data: bytes) -> dict[str, list[bytes | int]]:
    """Minimal IPP message parser for cupsd control files: attribute name -> values (ints for enums)."""
    attrs: dict[str, list[bytes | int]] = {}
    pos = 8  # version(2) operation/status(2) request-id(4)
    current = ""
    while pos < len(data):
        tag = data[pos]
        pos += 1
        if tag == 0x03:  # end-of-attributes
            break
        if tag < 0x10:  # delimiter (operation/job/printer group)
            continue
        if pos + 2 > len(data):
            break
        (name_len,) = struct.unpack_from(">H", data, pos)
        pos += 2
        name = data[pos : pos + name_len].decode("utf-8", "replace")
        pos += name_len
        if pos + 2 > len(data):
            break
        (value_len,) = struct.unpack_from(">H", data, pos)
        pos += 2
        raw = data[pos : pos + value_len]
        pos += value_len
        if name:
            current = name
        value: bytes | int = struct.unpack(">i", raw)[0] if tag in (0x21, 0x23) and len(raw) == 4 else raw
        attrs.setdefault(current, []).append(value)
    return attrs


def _text(attrs: Mapping[str, list[bytes | int]], name: str) -> str | None:
    values = attrs.get(name)
    if not values or not isinstance(values[0], bytes):
        return None
    return values[0].decode("utf-8", "replace")


def cups_pdf_name(text: str) -> str:
    """How cups-pdf 3.0 writes ``text`` into a file name: [A-Za-z0-9.-] kept, other ASCII -> "_",
    every non-ASCII byte -> "_" + 3 octal digits (leading "_" dropped at the start of a name)."""
    out: list[str] = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if byte < 0x80 and (ch.isalnum() or ch in "-."):
            out.append(ch)
        elif byte < 0x80:
            out.append("_")
        else:
            out.append(f"_{byte:03o}")
    return "".join(out)


class PrinterOracle:
    """Jobs and output files of one ``PrivateCups``; take a ``snapshot()`` before the action."""

    def __init__(self, cups: PrivateCups, *, poll_interval: float = 0.1) -> None:
        self.cups = cups
        self.poll_interval = poll_interval
        # pdftotext is the only way to see real text in the spooled PDF: missing means "cannot observe".
        self.pdftotext = require_tool("pdftotext", "pdftotext")
        for directory in (cups.spool_dir, cups.output_dir):
            if not directory.is_dir():
                raise HarnessError("cupsd", f"{directory} does not exist: is the private CUPS started?")
        self._baseline = self.snapshot()

    # -- observation -------------------------------------------------------------------------------------

    def _output_files(self) -> dict[Path, int]:
        found: dict[Path, int] = {}
        for root in (self.cups.output_dir, self.cups.anon_dir):
            for dirpath, _dirs, names in os.walk(root):
                for name in names:
                    path = Path(dirpath) / name
                    try:
                        found[path] = path.lstat().st_mtime_ns
                    except FileNotFoundError:
                        continue
        return found

    def _spool_names(self) -> list[str]:
        try:
            return os.listdir(self.cups.spool_dir)
        except OSError as exc:
            raise HarnessError("cupsd", f"cannot list spool {self.cups.spool_dir}: {exc}") from exc

    def snapshot(self) -> PrinterSnapshot:
        """Record the current jobs and outputs; also becomes the default ``since`` of later calls."""
        ids = frozenset(int(m.group(1)) for n in self._spool_names() if (m := _CTL_FILE.match(n)))
        snap = PrinterSnapshot(control_ids=ids, outputs=self._output_files(), taken_at=time.time())
        self._baseline = snap
        return snap

    def _job(self, job_id: int, names: Iterable[str], outputs: Iterable[Path]) -> PrintJob:
        control = self.cups.spool_dir / f"c{job_id:05d}"
        attrs: dict[str, list[bytes | int]] = {}
        try:
            attrs = parse_ipp_attributes(control.read_bytes())
        except FileNotFoundError:
            control_file: Path | None = None
        else:
            control_file = control
        state_values = attrs.get("job-state") or []
        first = state_values[0] if state_values else None
        state = _JOB_STATES.get(first) if isinstance(first, int) else None
        docs = sorted(
            self.cups.spool_dir / n for n in names if (m := _DOC_FILE.match(n)) and int(m.group(1)) == job_id
        )
        return PrintJob(
            job_id=job_id,
            title=_text(attrs, "job-name"),
            user=_text(attrs, "job-originating-user-name"),
            state=state,
            document_format=_text(attrs, "document-format") or _text(attrs, "document-format-detected"),
            control_file=control_file,
            spooled=tuple(docs),
            outputs=tuple(sorted(outputs)),
        )

    def new_jobs(self, since: PrinterSnapshot | None = None) -> list[PrintJob]:
        """Jobs created after ``since`` (default: the last snapshot), plus unmatched new output files."""
        base = since or self._baseline
        names = self._spool_names()
        job_ids = {int(m.group(1)) for n in names if (m := _CTL_FILE.match(n) or _DOC_FILE.match(n))}
        new_ids = sorted(job_ids - base.control_ids)
        outputs_by_id: dict[int, list[Path]] = {}
        orphans: list[Path] = []
        for path, mtime in self._output_files().items():
            if base.outputs.get(path) == mtime:
                continue  # existed before, unchanged
            job_id = _label_id(path.name)
            if job_id is None:
                orphans.append(path)
            elif job_id in new_ids:
                outputs_by_id.setdefault(job_id, []).append(path)
            elif job_id not in base.control_ids:
                orphans.append(path)  # unknown id: still evidence of printing
            # else: output of a job that was already in flight at snapshot time
        jobs = [self._job(i, names, outputs_by_id.get(i, [])) for i in new_ids]
        jobs.extend(PrintJob(job_id=None, title=None, outputs=(p,)) for p in sorted(orphans))
        return jobs

    def wait_for_job(
        self,
        timeout: float,
        since: PrinterSnapshot | None = None,
        predicate: Callable[[PrintJob], bool] | None = None,
    ) -> PrintJob | None:
        """First new job (matching ``predicate``) once finished; at the timeout an unfinished job that was
        spooled is still returned (it was submitted). None when no job appeared at all."""
        deadline = time.monotonic() + timeout
        pending: PrintJob | None = None
        while True:
            jobs = [j for j in self.new_jobs(since) if predicate is None or predicate(j)]
            for job in jobs:
                if job.job_id is None or (job.finished and (job.outputs or job.state != "completed")):
                    return job
            pending = jobs[0] if jobs else None
            if time.monotonic() >= deadline:
                return pending
            time.sleep(self.poll_interval)

    # -- content -----------------------------------------------------------------------------------------

    def _pdf_text(self, path: Path) -> str:
        try:
            result = subprocess.run([self.pdftotext, "-q", str(path), "-"], capture_output=True,
                                    timeout=30, check=False)
        except subprocess.TimeoutExpired as exc:
            raise HarnessError("pdftotext", f"pdftotext {path} timed out") from exc
        return result.stdout.decode("utf-8", "replace") if result.returncode == 0 else ""

    def find(self, job: PrintJob, text: str) -> list[str]:
        """Where ``text`` shows up for ``job``: descriptions like "title", "output-name:<file>",
        "pdftotext:<file>", "bytes/utf-16le:<file>". Empty list when nowhere."""
        if not text:
            raise ValueError("empty text")
        where: list[str] = []
        if job.title and text in job.title:
            where.append("title")
        mangled = cups_pdf_name(text).lstrip("_")
        for out in job.outputs:
            if text in out.name or (mangled and mangled in out.name):
                where.append(f"output-name:{out}")
        compact = re.sub(r"\s+", "", text)
        for path in job.paths:
            try:
                with path.open("rb") as handle:
                    head = handle.read(_MAX_RAW)
            except FileNotFoundError:
                continue
            if head.startswith(b"%PDF"):
                extracted = self._pdf_text(path)
                if text in extracted or (compact and compact in re.sub(r"\s+", "", extracted)):
                    where.append(f"pdftotext:{path}")
            for encoding in ("utf-8", "utf-16le", "utf-16be"):
                if text.encode(encoding) in head:
                    where.append(f"bytes/{encoding}:{path}")
        return where

    def contains(self, job: PrintJob, text: str) -> bool:
        """``text`` in the job title, an output file name, the spooled PDF's text or raw bytes."""
        return bool(self.find(job, text))

    # -- self-check --------------------------------------------------------------------------------------

    def positive_control(self, canary: str, timeout: float = 20.0) -> PrintJob:
        """Submit a tiny job titled ``canary`` with ``lp`` and require it to come out as a PDF."""
        lp = require_tool("lp", "cupsd")
        since = self.snapshot()
        doc = self.cups.work_dir / f"positive-control-{os.getpid()}-{time.monotonic_ns()}.txt"
        doc.write_text(f"positive control {canary}\n", encoding="utf-8")
        try:
            argv = [lp, "-h", self.cups.server, "-d", self.cups.queue, "-t", canary, str(doc)]
            result = subprocess.run(argv, env={**os.environ, **self.cups.env}, capture_output=True,
                                    text=True, timeout=15, check=False)
            if result.returncode != 0:
                raise HarnessError("cupsd", f"positive control: {' '.join(argv)} failed "
                                            f"rc={result.returncode}: {result.stderr.strip()}; "
                                            f"see {self.cups.error_log}")
            job = self.wait_for_job(timeout, since=since, predicate=lambda j: j.title == canary)
        finally:
            doc.unlink(missing_ok=True)
        if job is None:
            raise HarnessError("cupsd", f"positive control: job {canary!r} never reached the spool "
                                        f"within {timeout}s; see {self.cups.error_log}")
        if job.state != "completed" or not job.outputs:
            raise HarnessError("cupsd", f"positive control: job {job.job_id} state={job.state} "
                                        f"outputs={list(job.outputs)}; see {self.cups.error_log} "
                                        f"and {self.cups.cups_pdf_log}")
        if not self.contains(job, canary):
            raise HarnessError("cupsd", f"positive control: canary not found in job {job.job_id} evidence")
        self.snapshot()  # the control job must not count as a finding of the next check
        return job


def _label_id(name: str) -> int | None:
    for pattern in _LABEL:
        match = pattern.search(name)
        if match:
            return int(match.group(1))
    return None
