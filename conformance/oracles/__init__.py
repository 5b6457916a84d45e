"""Independent oracles observing the terminal: OS clipboard, print spool, file system, listening ports.

Layering: oracles import only ``conformance.environment`` and ``conformance.errors``. Every oracle raises
``HarnessError`` when it cannot observe (tool missing, positive control failed); "nothing observed" is
only ever reported by an oracle that works.
"""

from conformance.oracles.clipboard import ClipboardOracle
from conformance.oracles.files import (
    FileDiff,
    FileHit,
    FileSnapshot,
    FileStat,
    changes_since,
    copy_as_evidence,
    diff,
    new_files,
    scan_for_text,
    snapshot,
)
from conformance.oracles.ports import Listener, classify_banner, listeners, probe_banner, probe_cdp
from conformance.oracles.printer import PrinterOracle, PrinterSnapshot, PrintJob

__all__ = [
    "ClipboardOracle",
    "FileDiff",
    "FileHit",
    "FileSnapshot",
    "FileStat",
    "Listener",
    "PrintJob",
    "PrinterOracle",
    "PrinterSnapshot",
    "changes_since",
    "classify_banner",
    "copy_as_evidence",
    "diff",
    "listeners",
    "new_files",
    "probe_banner",
    "probe_cdp",
    "scan_for_text",
    "snapshot",
]
