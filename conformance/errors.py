"""The two kinds of error the suite distinguishes.

``InputError``: the user's input (catalog, candidate profile, waiver file) is wrong. The run must not
start; the CLI exits 2 and names the file, the field and the fix.

``HarnessError``: the suite itself could not observe or act (a tool is missing, a service did not come
up, an oracle's positive control failed). It is never a verdict about the product: a case that raises
it is recorded as ``error`` with the reason.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any


class InputError(Exception):
    """Bad input: names the file, the field and what is expected."""

    def __init__(self, file: str, field: str, problem: str, fix: str = "") -> None:
        self.file = str(file)
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        text = f"{where}: {self.problem}"
        if self.fix:
            text += f" (fix: {self.fix})"
        return text


class HarnessError(Exception):
    """The harness could not decide. ``component`` names the failing part (e.g. "xclip", "cupsd")."""

    def __init__(self, component: str, reason: str) -> None:
        self.component = component
        self.reason = reason
        super().__init__(f"[{component}] {reason}")


_BOM = b"\xef\xbb\xbf"


def read_toml(path: Path, what: str, fix: str = "check the path") -> tuple[bytes, dict[str, Any]]:
    """The raw bytes (for the file's hash) and parsed content of an input file, or an InputError naming the file
    and, for a syntax or encoding error, the line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), "", f"cannot read the {what}: {exc.strerror or exc}", fix) from None
    try:
        text = raw.decode("utf-8-sig")  # a BOM, as some Windows editors write, is harmless
    except UnicodeDecodeError as exc:
        start = exc.start + (len(_BOM) if raw.startswith(_BOM) else 0)  # utf-8-sig counts after the BOM
        at_line = raw.count(b"\n", 0, start) + 1
        raise InputError(str(path), f"line {at_line}", f"not UTF-8 at byte {start}", "save the file as UTF-8") from None
    try:
        return raw, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        # "(at end of document)": the last line, as tomllib counts them
        number = line.group(1) if line else text.count("\n") + 1
        raise InputError(str(path), f"line {number}", f"not valid TOML: {exc}",
                         "fix the TOML syntax at that line") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        lines = text.split("\n")
        deepest = max(range(len(lines)), key=lambda i: lines[i].count("[") + lines[i].count("{"))
        raise InputError(str(path), f"line {deepest + 1}", "not valid TOML: arrays or inline tables nested too deeply",
                         "write the value without so many nested brackets") from None


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_key(name: str) -> str:
    """A key as TOML writes it: bare when it can be, quoted otherwise (an empty key, a space, Japanese, …)."""
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name, ensure_ascii=False)


def dotted(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as the field a person finds in the file: ``network.endpoints[2].port``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{toml_key(str(part))}" if text else toml_key(str(part))
    return text or "(top level)"


def entry_lines(text: str, table: str) -> list[int]:
    """1-based line of every ``[[table]]`` header of a TOML text, so that a message can point near an entry."""
    pattern = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]", re.MULTILINE)
    return [text.count("\n", 0, m.start()) + 1 for m in pattern.finditer(text)]


def entry_where(lines: list[int], index: int) -> str:
    """Where the entry at ``index`` (0-based) of an entry list is, e.g. `` (entry #3, near line 17)``."""
    near = f", near line {lines[index]}" if index < len(lines) else ""
    return f" (entry #{index + 1}{near})"
