"""OCR oracle: what text a picture of the screen shows, read with tesseract (Debian ``tesseract-ocr``).

Supporting evidence only. A screen-transfer case uses it to show that a canary WAS on the terminal's
screen (as pixels) while the wire carried no text of it; no verdict depends on OCR, because OCR misreads
(the spike read 75/75 twelve-digit numbers right, but letters such as O/0 and l/1 are easily confused).

``read_text`` raises :class:`HarnessError` when tesseract is missing or fails; ``available`` lets a caller
skip the evidence instead. ``similarity`` compares what was read with what was expected after folding
case, spaces and the usual look-alikes, so the evidence says "read 'CNRY-…' (0.96 similar)".
"""

from __future__ import annotations

import difflib
import re
import shutil
import subprocess
from pathlib import Path

from conformance.errors import HarnessError

CANARY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789-"  # make_canary(): CNRY-<LABEL>-<hex>
# Look-alikes folded before comparing: OCR of a monospace font confuses these pairs.
_FOLD = str.maketrans({"O": "0", "I": "1", "L": "1", "S": "5", "B": "8", "Z": "2", "G": "6"})


def available() -> bool:
    return shutil.which("tesseract") is not None


def read_text(image: Path, *, psm: int = 7, whitelist: str | None = None, timeout: float = 30.0) -> str:
    """The text tesseract reads in ``image`` (PNG, PPM, ...). ``psm`` 7: the image is one line of text."""
    tool = shutil.which("tesseract")
    if tool is None:
        raise HarnessError("tesseract", "tesseract not found (Debian package tesseract-ocr)")
    argv = [tool, str(image), "stdout", "--psm", str(psm)]
    if whitelist:
        argv += ["-c", f"tessedit_char_whitelist={whitelist}"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise HarnessError("tesseract", f"OCR of {image} timed out after {timeout:.0f} s") from exc
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip()[-200:]
        raise HarnessError("tesseract", f"OCR of {image} failed rc={done.returncode}: {reason}")
    return done.stdout.decode("utf-8", "replace").strip()


def fold(text: str) -> str:
    """Upper case, no white space, look-alike letters folded to digits."""
    return re.sub(r"\s+", "", text).upper().translate(_FOLD)


def similarity(read: str, expected: str) -> float:
    """0..1: how close the OCR reading is to ``expected`` (1.0: the same after folding)."""
    if not read or not expected:
        return 0.0
    return round(difflib.SequenceMatcher(None, fold(read), fold(expected)).ratio(), 3)
