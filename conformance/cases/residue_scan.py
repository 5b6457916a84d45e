"""Scanning the terminal's disk for what a session left behind (RES-01), for every kind.

Not a test module; the cases import from here, never from each other.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from conformance.oracles import files

CONTEXT_BYTES = 40  # bytes shown either side of a hit in the evidence


def residue_hits(roots: list[Path], needles: list[str]) -> list[dict[str, Any]]:
    """Every file below ``roots`` holding a needle: path, encoding, offset and a few bytes of context.

    Not specific to browsers: a screen-transfer client's folders are scanned the same way.
    """
    found = []
    for hit in files.scan_for_text(roots, needles):
        found.append(
            {
                "path": str(hit.path),
                "needle": hit.needle,
                "encoding": hit.encoding,
                "offset": hit.offset,
                "size": _size(hit.path),
                "context": _context(hit, CONTEXT_BYTES),
            }
        )
    return found


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _context(hit: files.FileHit, around: int) -> str:
    """The bytes around a hit, decoded in the hit's encoding where possible (else escaped)."""
    width = len(hit.needle.encode(hit.encoding))
    if hit.encoding.startswith("utf-16"):
        around -= around % 2  # keep UTF-16 code units aligned
    start = max(0, hit.offset - around)
    try:
        with hit.path.open("rb") as handle:
            handle.seek(start)
            chunk = handle.read(hit.offset - start + width + around)
    except OSError as exc:
        return f"<unreadable: {exc}>"
    if hit.encoding.startswith("utf-16") and (hit.offset - start) % 2:
        chunk = chunk[1:]
    text = chunk.decode(hit.encoding, errors="backslashreplace")
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def summarize(hits: list[dict[str, Any]], roots: list[Path]) -> str:
    """One short line per file, relative to the session's folder: "profile/Default/History (utf-8)"."""
    base = Path(os.path.commonpath([str(r) for r in roots])) if roots else Path("/")
    per_file: dict[str, set[str]] = {}
    for hit in hits:
        path = Path(hit["path"])
        name = str(path.relative_to(base)) if path.is_relative_to(base) else str(path)
        per_file.setdefault(name, set()).add(hit["encoding"])
    return "; ".join(f"{name} ({', '.join(sorted(encs))})" for name, encs in sorted(per_file.items()))
