"""The vendors' CI examples in docs/ci parse, and every `conformance` command and option they use exists: an
example that has drifted from the CLI would fail in a vendor's pipeline, not here."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from conformance.cli import build_parser

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "docs" / "ci").glob("*.yml"))
PUBLISHED = ("allure-report/index.html", "statement-*.pdf", "checklist.xlsx", "evidence-bundle.zip")


def _commands(text: str) -> list[list[str]]:
    joined = re.sub(r"\\\n\s*", " ", text)  # shell line continuations
    joined = re.sub(r"\n\s{6,}(--)", r" \1", joined)  # YAML folded continuation lines of one command
    found = []
    for line in joined.splitlines():
        if line.lstrip().startswith("#"):
            continue  # prose about commands, not a command
        match = re.search(r"\bconformance (run|validate|verify|sign|keygen|compare)\b.*", line)
        if match:
            found.append(shlex.split(match.group(0).replace("$", "")))
    return found


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_ci_example_uses_real_commands_and_publishes_the_artefacts(example: Path) -> None:
    text = example.read_text(encoding="utf-8")
    YAML(typ="safe").load(text)
    commands = _commands(text)
    assert any(c[1] == "run" and "--sign-key" in c for c in commands), commands
    parser = build_parser()
    for command in commands:
        parser.parse_args(command[1:])  # exits (SystemExit) on an unknown command or option
    for artefact in PUBLISHED:
        assert artefact in text, f"{example.name} does not publish {artefact}"
