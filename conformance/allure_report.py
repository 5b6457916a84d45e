"""The Allure 3 report of a run as one HTML file (``allure-report/index.html``), which opens from a file share
(``file://``) with no web server, as municipal staff open a folder they were handed.

Before Allure reads the run's ``allure-results``:

- a waived failure is tagged ``waived`` and its message says so (it stays *failed*: never shown as passed);
- an attachment larger than ``LARGE_ATTACHMENT`` is not inlined into the single file: it is replaced by a short
  text naming the evidence file and its SHA-256 (the file itself stays in ``evidence/``, pinned by the bundle).

The categories keep product failures (must), findings (should/optional), waived failures, harness errors and
manual requirements apart. History across runs is one JSON Lines file per candidate in a history folder, bounded
by ``HISTORY_LIMIT`` (Allure trims it). Reading result data only; it knows nothing of drivers or oracles.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from conformance.attestation import STATUS_LABELS
from conformance.errors import HarnessError

REPO_ALLURE = Path(__file__).resolve().parent.parent / "tools" / "allure" / "node_modules" / ".bin" / "allure"
LARGE_ATTACHMENT = 256 * 1024  # bytes; above it an attachment is referenced by hash, not inlined
HISTORY_LIMIT = 20  # runs kept per candidate
GENERATE_TIMEOUT = 180.0  # seconds

# First match wins (Allure 3 categories). Severity labels come from the catalog level (plugin._label).
CATEGORIES: list[dict[str, Any]] = [
    {"id": "waived", "name": "免除された不適合 / waived failure",
     "matchers": {"statuses": ["failed"], "labels": {"tag": "^waived$"}}},
    {"id": "product-failure", "name": "不適合（必須要件）/ product failed a must-level requirement",
     "matchers": {"statuses": ["failed"], "labels": {"severity": "^(critical|blocker)$"}}},
    {"id": "finding", "name": "所見（推奨・任意要件）/ finding on a should or optional requirement",
     "matchers": {"statuses": ["failed"]}},
    {"id": "harness-error", "name": "判定不能（試験環境）/ harness could not decide",
     "matchers": {"statuses": ["broken"]}},
    # Manual requirements (conformance.attestation writes them as skipped results, message first line).
    *({"id": f"manual-{en}", "name": f"要証跡 {ja} / manual: {en}",
       "matchers": {"statuses": ["skipped"], "message": f"^要証跡 {ja}"}} for ja, en in STATUS_LABELS.values()),
]  # fmt: skip


def find_allure() -> Path | None:
    """Allure 3's command: $CONFORMANCE_ALLURE, the one set-up installs into tools/allure, or ``allure`` on PATH."""
    configured = os.environ.get("CONFORMANCE_ALLURE")
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    if REPO_ALLURE.is_file():
        return REPO_ALLURE
    found = shutil.which("allure")
    return Path(found) if found else None


def prepare_results(results: Path, document: dict[str, Any], run_dir: Path) -> dict[str, int]:
    """Tag waived failures and replace large attachments by a hash reference. Returns what was changed."""
    waived = {rid for rid, entry in document["requirements"].items() if entry["verdict"] == "waived"}
    by_hash = {sha: path for entry in document["requirements"].values() for case in entry["cases"]
               for path, sha in case.get("evidence_sha256", {}).items()}  # fmt: skip
    changed = {"waived": 0, "referenced": 0}
    for result_file in sorted(results.glob("*-result.json")):
        result = json.loads(result_file.read_text(encoding="utf-8"))
        touched = False
        requirements = {label["value"] for label in result.get("labels", []) if label.get("name") == "requirement"}
        if result.get("status") == "failed" and requirements & waived:
            result["labels"].append({"name": "tag", "value": "waived"})
            details = result.setdefault("statusDetails", {})
            details["message"] = ("免除された不適合 / waived failure (" + ", ".join(sorted(requirements & waived))
                                  + "): " + (details.get("message") or ""))  # fmt: skip
            changed["waived"] += 1
            touched = True
        for attachment in _attachments(result):
            source = results / attachment.get("source", "")
            if not source.is_file() or source.stat().st_size <= LARGE_ATTACHMENT:
                continue
            attachment["source"], attachment["type"] = _reference(source, by_hash, results, run_dir), "text/plain"
            attachment["name"] = f"{attachment.get('name', source.name)} (sha256 参照 / by hash)"
            changed["referenced"] += 1
            touched = True
        if touched:
            result_file.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    return changed


def _attachments(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(node.get("attachments", []))
    for step in node.get("steps", []):
        found += _attachments(step)
    return found


def _reference(source: Path, by_hash: dict[str, str], results: Path, run_dir: Path) -> str:
    """Write the text that stands for a large attachment; the attachment moves to evidence/ if it is not there."""
    data = source.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    kept = by_hash.get(sha)
    if kept is None:  # not one of the case's evidence files: keep it beside them, still in the run folder
        target = run_dir / "evidence" / "allure-large" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        kept = target.relative_to(run_dir).as_posix()
    reference = results / f"{source.stem}-reference.txt"
    reference.write_text(
        f"大きな証跡のため報告書には埋め込まず、ハッシュで参照する / large evidence, referenced by hash:\n"
        f"file: {kept}\nsha256: {sha}\nbytes: {len(data)}\n",
        encoding="utf-8",
    )
    source.unlink()
    return reference.name


def config(run_dir: Path, history: Path | None, history_limit: int = HISTORY_LIMIT) -> str:
    """allurerc.mjs: Japanese UI, one file, the categories above, bounded history."""
    # Absolute paths: Allure runs in the run folder, so a relative --out would be resolved twice.
    settings: dict[str, Any] = {
        "name": "適合性試験 / Conformance",
        "output": str(run_dir.resolve() / "allure-report"),
        "categories": {"rules": CATEGORIES},
        "plugins": {"awesome": {"options": {"reportLanguage": "ja", "singleFile": True,
                                            "groupBy": ["parentSuite", "suite"]}}},
    }  # fmt: skip
    if history is not None:
        settings["historyPath"] = str(history.resolve())
        settings["historyLimit"] = history_limit
    return "export default " + json.dumps(settings, ensure_ascii=False, indent=2) + ";\n"


def build_report(run_dir: Path, document: dict[str, Any], history: Path | None = None,
                 allure: Path | None = None, history_limit: int = HISTORY_LIMIT) -> Path:  # fmt: skip
    """Build ``allure-report/index.html`` (one file). ``HarnessError`` when Allure is missing or fails."""
    allure = allure or find_allure()
    if allure is None:
        raise HarnessError("allure", "Allure 3 is not installed (scripts/setup.sh installs it into tools/allure with "
                                     "npm; or set CONFORMANCE_ALLURE)")
    results = run_dir / "allure-results"
    if not results.is_dir():
        raise HarnessError("allure", f"{results} does not exist: the run wrote no Allure results")
    prepare_results(results, document, run_dir)
    if history is not None:
        history.parent.mkdir(parents=True, exist_ok=True)
    (run_dir / "allurerc.mjs").write_text(config(run_dir, history, history_limit), encoding="utf-8")
    output = run_dir / "allure-report"
    shutil.rmtree(output, ignore_errors=True)
    proc = subprocess.Popen([str(allure), "generate", "--config", "allurerc.mjs", "allure-results"], cwd=run_dir,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=GENERATE_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise HarnessError("allure", f"allure generate did not finish within {GENERATE_TIMEOUT:.0f} s") from None
    index = output / "index.html"
    if proc.returncode != 0 or not index.is_file():
        raise HarnessError("allure", f"allure generate failed (exit {proc.returncode}): {out.strip()[-600:]}")
    return index
