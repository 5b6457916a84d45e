"""Detectors: canaries, 個人番号 / 法人番号 check digits, and the encodings a leak can hide in.

Pure Python, no third-party imports. Everything a case needs to decide "did this value get out?":

* check digits for 個人番号 (12 digits, check digit LAST) and 法人番号 (13 digits, check digit FIRST);
* the fixed, documented synthetic test data (``conformance/data/test-numbers.toml``);
* canary strings (ASCII, and a Japanese variant);
* ``encodings()`` (the forms a value takes on the wire) and ``scan()`` (finds canaries and check-digit
  valid numbers through URL, base64, JSON, HTML, UTF-16 and full-width layers).

Number overlap rule used by ``scan()``:

1. Contiguous digits are never split. A candidate is a whole run of exactly 12 (個人番号) or 13
   (法人番号) ASCII digits with no digit on either side, so the last 12 digits of a 13-digit run are
   never reported as a 個人番号, and 12 digits inside a longer run are never reported at all.
2. Grouped writing ("1234-5678-9018", "7-1234-5678-9012", "1234 5678 9018") is read in runs of groups
   joined by ONE separator character, the same one throughout ("-", " " or "."; full-width and dash
   variants are mapped by the full-width layer). A candidate is any window of whole groups holding
   12 or 13 digits. Every window with a valid check digit is reported, so in the rare case where a
   grouped 13-digit 法人番号 contains a group-aligned 12-digit window that is itself a valid 個人番号
   (e.g. "1-1234-5678-9018"), BOTH are reported: the writing is ambiguous, and missing a planted
   個人番号 (a false pass) is worse than an extra hit.
3. Only check-digit-valid numbers are hits. About 1 in 11 random 12-digit strings (1 in 9 for 13
   digits) pass, so cases should compare ``Hit.value`` with the numbers they planted.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from conformance.errors import InputError

__all__ = [
    "DEFAULT_TEST_NUMBERS",
    "Hit",
    "TestData",
    "corporate_check_digit",
    "encodings",
    "is_valid_corporate_number",
    "is_valid_mynumber",
    "load_test_numbers",
    "make_canary",
    "make_japanese_canary",
    "mynumber_check_digit",
    "scan",
]

# The canonical data file ships inside the package so an installed suite still has it.
DEFAULT_TEST_NUMBERS = Path(__file__).resolve().parent / "data" / "test-numbers.toml"


# --------------------------------------------------------------------------------------------------
# Check digits
# --------------------------------------------------------------------------------------------------

def _require_digits(value: str, length: int, what: str) -> None:
    # str.isdigit() alone would accept full-width and superscript digits; the rules are for ASCII.
    if not isinstance(value, str) or len(value) != length or not (value.isascii() and value.isdigit()):
        raise ValueError(f"{what} must be exactly {length} ASCII digits, got {value!r}")


def mynumber_check_digit(base11: str) -> int:
    """Check digit of a 個人番号 from its first 11 digits (総務省令第85号 第五条).

    Weights left to right are 6 5 4 3 2 7 6 5 4 3 2; CD = 11 - (sum mod 11), or 0 when sum mod 11 <= 1.
    """
    _require_digits(base11, 11, "個人番号 base")
    # n counts from the rightmost base digit: Q = n+1 for n <= 6, n-5 for n >= 7.
    total = sum(int(base11[11 - n]) * (n + 1 if n <= 6 else n - 5) for n in range(1, 12))
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_valid_mynumber(s: str) -> bool:
    """True if ``s`` is 12 ASCII digits whose LAST digit is the correct check digit."""
    if not isinstance(s, str) or len(s) != 12 or not (s.isascii() and s.isdigit()):
        return False
    return mynumber_check_digit(s[:11]) == int(s[11])


def corporate_check_digit(base12: str) -> int:
    """Check digit of a 法人番号 from its 12-digit 基礎番号 (財務省令第70号 第二条).

    Weights left to right are 2 1 2 1 ...; CD = 9 - (sum mod 9), always 1..9. The modulus applies to
    the TOTAL, not to each term (the e-Gov text can be misread that way).
    """
    _require_digits(base12, 12, "法人番号 base")
    total = sum(int(base12[12 - n]) * (1 if n % 2 else 2) for n in range(1, 13))
    return 9 - total % 9


def is_valid_corporate_number(s: str) -> bool:
    """True if ``s`` is 13 ASCII digits whose FIRST digit is the correct check digit."""
    if not isinstance(s, str) or len(s) != 13 or not (s.isascii() and s.isdigit()):
        return False
    return corporate_check_digit(s[1:]) == int(s[0])


# --------------------------------------------------------------------------------------------------
# Synthetic test data
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TestData:
    """The fixed, documented synthetic numbers and resident record (テストデータ)."""

    __test__ = False  # not a pytest test class, despite the name

    mynumbers_valid: tuple[str, ...]
    mynumbers_invalid: tuple[str, ...]
    corporate_valid: tuple[str, ...]
    corporate_invalid: tuple[str, ...]
    resident: dict[str, str]


_RESIDENT_REQUIRED = ("label", "name_kanji", "name_kana", "address", "birth_date")


def _number_list(doc: dict[str, Any], table: str, key: str, file: str) -> list[str]:
    section = doc.get(table)
    if not isinstance(section, dict):
        raise InputError(file, table, "missing table", f"add a [{table}] table with 'valid' and 'invalid'")
    values = section.get(key)
    if not isinstance(values, list) or not values:
        raise InputError(file, f"{table}.{key}", "must be a non-empty list of strings")
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise InputError(file, f"{table}.{key}[{i}]", f"must be a quoted string, got {value!r}",
                             "quote numbers so leading zeros survive")
    return values


def _check_numbers(values: list[str], field: str, file: str, length: int, want_valid: bool) -> None:
    check = is_valid_mynumber if length == 12 else is_valid_corporate_number
    for i, value in enumerate(values):
        where = f"{field}[{i}]"
        if len(value) != length or not (value.isascii() and value.isdigit()):
            # Invalid controls must still be well-formed, or they test the format check, not the CD.
            raise InputError(file, where, f"{value!r} is not {length} ASCII digits")
        if check(value) != want_valid:
            problem = "check digit is wrong" if want_valid else "check digit is correct"
            fix = "only check-digit-valid numbers belong here" if want_valid else \
                "negative controls must have a WRONG check digit"
            raise InputError(file, where, f"{value!r}: {problem}", fix)


def load_test_numbers(path: Path | None = None) -> TestData:
    """Load and validate the synthetic test data; raise ``InputError`` naming the file and field."""
    path = DEFAULT_TEST_NUMBERS if path is None else Path(path)
    file = str(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(file, "", "file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(file, "", f"not valid UTF-8 TOML: {exc}") from None

    my_valid = _number_list(doc, "mynumber", "valid", file)
    my_invalid = _number_list(doc, "mynumber", "invalid", file)
    corp_valid = _number_list(doc, "corporate", "valid", file)
    corp_invalid = _number_list(doc, "corporate", "invalid", file)
    _check_numbers(my_valid, "mynumber.valid", file, 12, True)
    _check_numbers(my_invalid, "mynumber.invalid", file, 12, False)
    _check_numbers(corp_valid, "corporate.valid", file, 13, True)
    _check_numbers(corp_invalid, "corporate.invalid", file, 13, False)

    resident = doc.get("resident")
    if not isinstance(resident, dict):
        raise InputError(file, "resident", "missing table", "add a [resident] table of strings")
    for key, value in resident.items():
        if not isinstance(value, str):
            raise InputError(file, f"resident.{key}", f"must be a string, got {value!r}")
    for key in _RESIDENT_REQUIRED:
        if not resident.get(key):
            raise InputError(file, f"resident.{key}", "missing or empty")
    if "テストデータ" not in resident["label"]:
        # The record must say what it is wherever it turns up (logs, screenshots, leaked traffic).
        raise InputError(file, "resident.label", "must contain 'テストデータ'")
    number = resident.get("mynumber")
    if number is not None and number not in my_valid:
        raise InputError(file, "resident.mynumber", f"{number!r} is not one of mynumber.valid")

    return TestData(tuple(my_valid), tuple(my_invalid), tuple(corp_valid), tuple(corp_invalid),
                    dict(resident))


# --------------------------------------------------------------------------------------------------
# Canaries
# --------------------------------------------------------------------------------------------------

_LABEL_RE = re.compile(r"[A-Za-z0-9_]{1,32}")


def _canary_parts(label: str, run_token: str | None) -> str:
    if not _LABEL_RE.fullmatch(label):
        raise ValueError(f"canary label must be 1-32 of A-Z a-z 0-9 _, got {label!r}")
    parts = label.upper()
    if run_token is not None:
        if not _LABEL_RE.fullmatch(run_token):
            raise ValueError(f"run_token must be 1-32 of A-Z a-z 0-9 _, got {run_token!r}")
        parts += "-" + run_token.upper()
    # 40 random bits: unique per case and run, short enough to survive OCR and typing.
    return f"{parts}-{secrets.token_hex(5)}"


def make_canary(label: str, run_token: str | None = None) -> str:
    """ASCII canary "CNRY-<LABEL>[-<RUN>]-<10 hex>".

    ASCII only because screen-transfer clients drop or mangle anything outside Latin-1.
    """
    return "CNRY-" + _canary_parts(label, run_token)


def make_japanese_canary(label: str, run_token: str | None = None) -> str:
    """Canary with kanji and katakana, "秘密カナリア-<LABEL>[-<RUN>]-<10 hex>".

    For channels that must carry Japanese text (clipboard, print, DLP). A lossy channel may keep only
    the ASCII tail; search that tail as its own canary if such truncation should count.
    """
    return "秘密カナリア-" + _canary_parts(label, run_token)


# --------------------------------------------------------------------------------------------------
# Encodings
# --------------------------------------------------------------------------------------------------

def _json_u_all(text: str) -> str:
    # Every UTF-16 code unit escaped, as some serialisers and obfuscators do.
    units = text.encode("utf-16-be", "surrogatepass")
    return "".join(f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))


def encodings(text: str) -> dict[str, bytes]:
    """The byte forms ``text`` can take on the wire, keyed by form name.

    Forms can coincide (an ASCII canary's URL form is the canary itself); ``latin-1`` is present only
    when the text is Latin-1 encodable.
    """
    utf8 = text.encode("utf-8")
    b64 = base64.b64encode(utf8)
    b64url = base64.urlsafe_b64encode(utf8)
    forms = {
        "utf-8": utf8,
        "utf-16le": text.encode("utf-16-le"),
        "utf-16be": text.encode("utf-16-be"),
        "url": quote(text, safe="").encode("ascii"),
        "url-plus": quote_plus(text, safe="").encode("ascii"),
        "base64": b64,
        "base64-nopad": b64.rstrip(b"="),
        "base64url": b64url,
        "base64url-nopad": b64url.rstrip(b"="),
        "html-dec": "".join(f"&#{ord(c)};" for c in text).encode("ascii"),
        "html-hex": "".join(f"&#x{ord(c):x};" for c in text).encode("ascii"),
        "json": json.dumps(text, ensure_ascii=True)[1:-1].encode("ascii"),
        "json-u-all": _json_u_all(text).encode("ascii"),
    }
    try:
        forms["latin-1"] = text.encode("latin-1")
    except UnicodeEncodeError:
        pass
    return forms


