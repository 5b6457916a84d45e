"""The certification artefacts built after a run's verdicts are written: the conformance statement (ja/en, HTML
and PDF), the spreadsheet checklist, the single-file Allure report and, given a key, the signed evidence bundle.

Every step is outside the verdict: a step that fails is reported ("failed", with the reason) and the run's
verdicts and exit code stay what conformance.json says. What was built is listed in ``artifacts.json``, which
the bundle then pins with everything else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STEPS = ("statement", "checklist", "allure")  # the default; the bundle is built when a key is given
CHECKLIST_NAME = "checklist.xlsx"
BUNDLE_NAME = "evidence-bundle.zip"


@dataclass
class StepResult:
    step: str
    status: str  # "written" | "failed"
    paths: list[str] = field(default_factory=list)  # relative to the run folder
    reason: str = ""
    seconds: float = 0.0

    def line(self) -> str:
        if self.status == "written":
            return f"  [{self.step}] {', '.join(self.paths)} ({self.seconds:.1f} s)"
        return (f"  [{self.step}] 作成できなかった / not built: {self.reason} — 判定と終了コードは変わらない / "
                "the verdicts and exit code are unchanged")


def _run_step(name: str, run_dir: Path, build: Callable[[], list[Path]]) -> StepResult:
    started = time.monotonic()
    try:
        paths = build()
    except Exception as exc:  # a report step never decides anything: say what broke, go on
        return StepResult(name, "failed", reason=f"{type(exc).__name__}: {exc}"[:600],
                          seconds=time.monotonic() - started)  # fmt: skip
    relative = [str(Path(p).resolve().relative_to(run_dir.resolve())) for p in paths]
    return StepResult(name, "written", relative, seconds=time.monotonic() - started)


def build_artifacts(run_dir: Path, document: dict[str, Any], catalog: Any, steps: tuple[str, ...] = STEPS,
                    history: Path | None = None, sign_key: Path | None = None) -> list[StepResult]:  # fmt: skip
    """Build the chosen artefacts, then (with ``sign_key``) the signed bundle of the whole run folder."""
    builders: dict[str, Callable[[], list[Path]]] = {
        "statement": lambda: _statement(run_dir, document, catalog),
        "checklist": lambda: _checklist(run_dir, document, catalog),
        "allure": lambda: _allure(run_dir, document, history),
    }
    results = [_run_step(name, run_dir, builders[name]) for name in STEPS if name in steps]
    (run_dir / "artifacts.json").write_text(
        json.dumps({"steps": [asdict(r) for r in results]}, ensure_ascii=False, indent=2), encoding="utf-8")
    if sign_key is not None:
        results.append(_run_step("bundle", run_dir, lambda: _bundle(run_dir, sign_key)))
    return results


def _statement(run_dir: Path, document: dict[str, Any], catalog: Any) -> list[Path]:
    from conformance.statement import write_statement

    return write_statement(run_dir, document, catalog)


def _checklist(run_dir: Path, document: dict[str, Any], catalog: Any) -> list[Path]:
    from conformance.checklist import write_checklist

    return [write_checklist(run_dir / CHECKLIST_NAME, document, catalog)]


def _allure(run_dir: Path, document: dict[str, Any], history: Path | None) -> list[Path]:
    from conformance.allure_report import build_report

    return [build_report(run_dir, document, history)]


def _bundle(run_dir: Path, sign_key: Path) -> list[Path]:
    from conformance.bundle import create_bundle

    return [create_bundle(run_dir, sign_key, run_dir / BUNDLE_NAME)]
