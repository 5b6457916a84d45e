"""Services the harness runs on the terminal under test: Xvfb, a private CUPS, and managed processes.

Layering: this package imports nothing of ``conformance`` except ``conformance.errors``.
"""

from conformance.environment.cups import PrivateCups, find_cups_pdf_ppd
from conformance.environment.display import Display, display_is_free
from conformance.environment.procs import ManagedProcess, free_port, port_accepts, require_tool, stop_all

__all__ = [
    "Display",
    "ManagedProcess",
    "PrivateCups",
    "display_is_free",
    "find_cups_pdf_ppd",
    "free_port",
    "port_accepts",
    "require_tool",
    "stop_all",
]
