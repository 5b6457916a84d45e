"""The two kinds of error the suite distinguishes.

``InputError``: the user's input (catalog, candidate profile, waiver file) is wrong. The run must not
start; the CLI exits 2 and names the file, the field and the fix.

``HarnessError``: the suite itself could not observe or act (a tool is missing, a service did not come
up, an oracle's positive control failed). It is never a verdict about the product: a case that raises
it is recorded as ``error`` with the reason.
"""

from __future__ import annotations


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
