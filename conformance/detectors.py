"""Detectors: canaries, 個人番号 / 法人番号 check digits, and the encodings a leak can hide in.

Pure Python, no third-party imports. Everything a case needs to decide "did this value get out?":

* check digits for 個人番号 (12 digits, check digit LAST) and 法人番号 (13 digits, check digit FIRST);
* the fixed, documented synthetic test data (``conformance/data/test-numbers.toml``);
* canary strings (ASCII, and a Japanese variant);
* ``encodings()`` (the forms a value takes on the wire) and ``scan()`` (finds canaries and check-digit
  valid numbers through URL, base64, JSON, HTML, UTF-16 and full-width layers).

Number rule used by ``scan()`` (boundaries and overlaps):

1. Contiguous digits are never split. A candidate is a whole run of exactly 12 (個人番号) or 13
   (法人番号) ASCII digits with no digit on either side: the last 12 digits of a 13-digit run are
   never a 個人番号, and 12 digits inside a longer run are never reported at all.
2. Grouped writing ("1234-5678-9018", "1234 5678 9018", "1234.5678.9018", "7-1234-5678-9012",
   "7123-4567-89012") is a run of short groups (1-5 digits) joined by one and the same separator
   character ("-", " " or "."; full-width and dash look-alikes are folded first). The WHOLE run is
   read first: 12 digits -> 個人番号, 13 -> 法人番号. The longer reading wins: "1-1234-5678-9018" is the
   valid 法人番号 1123456789018 only, even though 123456789018 is also a valid 個人番号.
3. Only when the whole grouped run is not a valid number (it is longer, or its check digit fails) are
   the usual groupings looked for inside it: 1-4-4-4 and 4-4-5 (法人番号), then 4-4-4 (個人番号) unless
   inside a valid 法人番号 window. So "No. 5 1234 5678 9018" still yields 123456789018.
4. A run changing separator splits there ("5 1234-5678-9018" -> "1234-5678-9018"); a group of six or
   more digits stands alone under rule 1; a dotted quad of 1-3 digit groups <= 255 is an IPv4 address.
5. Only check-digit-valid numbers are hits. About 1 in 11 random 12-digit strings (1 in 9 for 13
   digits) pass, so cases must compare ``Hit.value`` with the numbers they planted.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import tomllib
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
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
    with suppress(UnicodeEncodeError):
        forms["latin-1"] = text.encode("latin-1")
    return forms


# --------------------------------------------------------------------------------------------------
# Scanning
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Hit:
    """One finding.

    ``encoding`` is the chain of layers it was seen through: "plain" if none, else e.g. "url", "base64",
    "utf-16le", "fullwidth", or "base64+url" (outermost first). For canaries found in one of the forms
    of ``encodings()`` the form name is the last step ("html-dec", "base64url", ...). ``offset`` is the
    position in the input (bytes for bytes input, characters for str input) of the match, or of the
    encoded region (escape, base64 token, UTF-16 run) holding it.
    """

    kind: str  # "canary" | "mynumber" | "corporate-number"
    value: str  # the canary, or the number's 12/13 digits
    matched: str  # as seen (decoded layer text), at most 80 characters
    encoding: str
    offset: int


_MAX_CHAIN = 4  # nested layers per hit, e.g. base64 > url > url > json
_MAX_STEP = {"url": 2, "json": 2, "html": 2, "base64": 2}
_MATCHED_MAX = 80

# A run of >= 12 ASCII digits joined by single separators, from a real run start. It starts with a
# plain character class (not a lookbehind) so the regex engine can skip ahead quickly: ~6x faster.
_RUN_RE = re.compile(r"[0-9](?<![0-9][0-9])(?<![0-9][-. ][0-9])(?=(?:[-. ]?[0-9]){11})[0-9]*(?:[-. ][0-9]+)*")
_SPLIT_RE = re.compile(r"([-. ])")
_SHORT_GROUP = 5  # groups of 1-5 digits can form a grouped number; longer ones stand alone
# Group-length shapes looked for inside longer grouped runs (the usual ways to write the numbers).
_WINDOWS_CORP = re.compile(r"(?=(1444|445))")
_WINDOWS_MY = re.compile(r"(?=444)")

# "+" is a space only where it matters, in digit groups outside base64 (quote_plus of "1234 5678 9018");
# decoding every "+" would shred base64 text for nothing.
_URL_ESC = re.compile(r"(?:%[0-9A-Fa-f]{2})+|(?<![A-Za-z0-9+/])[0-9]+(?:\+[0-9]+)+(?![A-Za-z0-9+/=])")
_JSON_ESC = re.compile(r"(?:\\u[0-9A-Fa-f]{4})+|\\/")
_HTML_ESC = re.compile(r"(?:&#(?:[0-9]{1,7}|[xX][0-9A-Fa-f]{1,6});)+")
# Characters a partial region extends over at its edges: base64/URL tokens and digit groups.
_EXTEND_RE = re.compile(r"(?:[A-Za-z0-9+/_=%.-]|(?<=[0-9]) (?=[0-9]))*")
_HTML_ONE = re.compile(r"&#(?:([0-9]{1,7})|[xX]([0-9A-Fa-f]{1,6}));")
# Base64/base64url tokens, >= 12 chars on the first line; MIME line wrapping is followed.
_B64_RE = re.compile(r"[A-Za-z0-9+/_-]{12,}(?:\r?\n[A-Za-z0-9+/_-]{4,})*={0,2}")
_B64_STRIP = re.compile(r"[\r\n=]")
_B64_TO_STD = str.maketrans("-_", "+/")
# UTF-16 text runs of >= 8 code units: ASCII, full-width forms, the ideographic space and "ー".
_U16LE_RE = re.compile(rb"(?:[\t\n\r\x20-\x7e]\x00|[\x01-\x5e]\xff|\x00\x30|\xfc\x30){8,}")
_U16BE_RE = re.compile(rb"(?:\x00[\t\n\r\x20-\x7e]|\xff[\x01-\x5e]|\x30\x00|\x30\xfc){8,}")
# NFKC folding, restricted to what can hide a number or an ASCII canary: full-width ASCII (０-９, Ａ-Ｚ,
# －, ．, ％ ...), the ideographic and other spaces, plus dash look-alikes that NFKC leaves alone but
# people and IMEs put between digit groups (ー, −, ‐ ...). All fold to ONE ASCII character, so offsets
# stay valid. A short class of ranges keeps the search fast (a class of every NFKC-foldable character
# is ~300x slower on binary data).
_FOLD_TABLE: dict[int, str] = {
    cp: unicodedata.normalize("NFKC", chr(cp))
    for cp in (*range(0xFF01, 0xFF5F), 0x00A0, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)
}
_FOLD_TABLE.update({ord(c): "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70"})
_FOLD_RE = re.compile("[\u00a0\u2000-\u200a\u2010-\u2015\u202f\u205f\u2212\u3000\u30fc\uff01-\uff5e\uff70]")
_SPLICE_MAX = 2000  # below this many folded characters, splicing beats str.translate


def _fold(text: str) -> tuple[str, list[int]]:
    """Fold full-width characters to ASCII; return the folded text and the positions that changed."""
    if text.isascii():
        return text, []
    positions = [m.start() for m in _FOLD_RE.finditer(text)]
    if not positions:
        return text, []
    if len(positions) > _SPLICE_MAX:
        return text.translate(_FOLD_TABLE), positions
    pieces: list[str] = []
    last = 0
    for p in positions:
        pieces.append(text[last:p])
        pieces.append(_FOLD_TABLE[ord(text[p])])
        last = p + 1
    pieces.append(text[last:])
    return "".join(pieces), positions


def _overlaps(positions: list[int], start: int, end: int) -> bool:
    i = bisect_left(positions, start)
    return i < len(positions) and positions[i] < end


class _Layer:
    """One view of the input: the root, or a decoding of part of a parent layer.

    A "partial" layer (URL, JSON, HTML unescaping) copies most of its parent verbatim; a hit there
    counts only if it touches a decoded span, so plain text is not reported again as "url". Whole
    layers (root, a base64 token, a UTF-16 run) are new content throughout.
    """

    __slots__ = ("anchor", "chain", "in_e", "in_s", "mode", "out_e", "out_s", "parent", "raw", "text")

    def __init__(self, text: str, raw: bytes | None, chain: tuple[str, ...], parent: _Layer | None,
                 mode: str, anchor: int = 0) -> None:
        self.text = text
        self.raw = raw  # the bytes behind ``text`` (root bytes input, base64 token), else None
        self.chain = chain
        self.parent = parent
        self.mode = mode  # "root" | "partial" | "token" | "utf16"
        self.anchor = anchor  # start in the parent: text (partial, token) or raw bytes (utf16)
        # partial: decoded spans here (out) and the escapes they came from in the parent (in)
        self.out_s: list[int] = []
        self.out_e: list[int] = []
        self.in_s: list[int] = []
        self.in_e: list[int] = []

    def touches_decoded(self, start: int, end: int) -> bool:
        if self.mode != "partial":
            return True
        i = bisect_right(self.out_s, end - 1) - 1
        return i >= 0 and self.out_e[i] > start

    def to_root(self, pos: int) -> tuple[int, bool]:
        """Root position of a text position here; the flag says it is an index into the root *text*."""
        if self.parent is None:
            return pos, True
        if self.mode == "token":
            return self.parent.to_root(self.anchor)
        if self.mode == "utf16":
            return self.parent.raw_to_root(self.anchor + 2 * pos)
        i = bisect_right(self.out_s, pos) - 1
        if i < 0:
            return self.parent.to_root(self.anchor + pos)
        if pos < self.out_e[i]:
            return self.parent.to_root(self.in_s[i])
        return self.parent.to_root(self.in_e[i] + pos - self.out_e[i])

    def raw_to_root(self, pos: int) -> tuple[int, bool]:
        if self.parent is None:
            return pos, False
        return self.parent.to_root(self.anchor)  # only root and base64 token layers carry raw bytes


def _unescaped_regions(layer: _Layer, pattern: re.Pattern[str], decode: Callable[[str], str], step: str,
                       margin: int) -> Iterator[_Layer]:
    """Partial child layers: each region of ``layer.text`` around a cluster of escapes, unescaped.

    Decoding only near escapes keeps a binary buffer with a few stray "%41" from being copied whole.
    A region reaches ``margin`` characters past its escapes (the longest canary form), then on over
    digit runs and base64/URL token characters, so numbers and tokens are never cut at its edge.
    """
    text = layer.text
    matches = list(pattern.finditer(text))
    if not matches:
        return
    n = len(text)
    reverse = ""
    regions: list[list[int]] = []  # [start, end, first match, last match]
    for k, m in enumerate(matches):
        if regions and m.start() - regions[-1][1] <= margin:
            regions[-1][1], regions[-1][3] = m.end(), k
        else:
            regions.append([m.start(), m.end(), k, k])
    merged: list[list[int]] = []
    for start, end, first, last in regions:
        if merged and start - margin <= merged[-1][1]:
            # Already inside the previous region's reach: extend that one (to the right only).
            if end + margin > merged[-1][1]:
                merged[-1][1] = _EXTEND_RE.match(text, min(n, end + margin)).end()  # type: ignore[union-attr]
            merged[-1][3] = last
            continue
        end = _EXTEND_RE.match(text, min(n, end + margin)).end()  # type: ignore[union-attr]
        reverse = reverse or text[::-1]
        start = n - _EXTEND_RE.match(reverse, n - max(0, start - margin)).end()  # type: ignore[union-attr]
        if merged and start <= merged[-1][1]:
            merged[-1][1], merged[-1][3] = max(merged[-1][1], end), last
        else:
            merged.append([start, end, first, last])
    for start, end, first, last in merged:
        child = _Layer("", None, (*layer.chain, step), layer, "partial", anchor=start)
        pieces: list[str] = []
        copied = start
        out = 0
        for m in matches[first:last + 1]:
            literal = text[copied:m.start()]
            replacement = decode(m.group())
            pieces.append(literal)
            pieces.append(replacement)
            out += len(literal)
            child.out_s.append(out)
            out += len(replacement)
            child.out_e.append(out)
            child.in_s.append(m.start())
            child.in_e.append(m.end())
            copied = m.end()
        pieces.append(text[copied:end])
        child.text = "".join(pieces)
        yield child


def _url_unescape(s: str) -> str:
    if s[0] != "%":
        return s.replace("+", " ")
    return bytes.fromhex(s.replace("%", "")).decode("utf-8", "surrogateescape")


def _json_unescape(s: str) -> str:
    if s == "\\/":
        return "/"
    # Decoding the code units as UTF-16 joins surrogate pairs (\ud83d\ude00) into one character.
    return bytes.fromhex(s.replace("\\u", "")).decode("utf-16-be", "surrogatepass")


def _html_unescape(s: str) -> str:
    out = []
    for dec, hexa in _HTML_ONE.findall(s):
        cp = int(dec) if dec else int(hexa, 16)
        out.append(chr(cp) if cp <= 0x10FFFF else "\ufffd")
    return "".join(out)


# (step, a substring every escape contains, pattern, decoder); the substring test is a cheap pre-check.
_UNESCAPERS: tuple[tuple[str, tuple[str, ...], re.Pattern[str], Callable[[str], str]], ...] = (
    ("url", ("%", "+"), _URL_ESC, _url_unescape),
    ("json", ("\\",), _JSON_ESC, _json_unescape),
    ("html", ("&#",), _HTML_ESC, _html_unescape),
)


def _b64_decode(token: str) -> bytes | None:
    compact = _B64_STRIP.sub("", token).translate(_B64_TO_STD)
    if len(compact) % 4 == 1:
        compact = compact[:-1]  # a lone trailing character cannot encode a byte
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact)
    except ValueError:
        return None


def _utf16_runs(raw: bytes) -> Iterator[tuple[str, int, str]]:
    """(step, start, text) for UTF-16 runs. ASCII-only UTF-16 reads the same in both byte orders one
    byte apart; both readings are yielded and ``scan`` keeps the little-endian one of such a pair."""
    if b"\x00" not in raw and b"\xff" not in raw:
        return
    for step, pattern, codec in (("utf-16le", _U16LE_RE, "utf-16-le"), ("utf-16be", _U16BE_RE, "utf-16-be")):
        for m in pattern.finditer(raw):
            yield step, m.start(), m.group().decode(codec, "replace")


def _is_ipv4(groups: list[str], sep: str) -> bool:
    # 192.168.100.200 has 12 digits; dotted quads are everywhere in traffic and are not numbers here.
    return sep == "." and len(groups) == 4 and all(len(g) <= 3 and int(g) <= 255 for g in groups)


def _show(c: str) -> str:
    # Controls, lone surrogates (undecodable bytes) and line separators are escaped; the ideographic
    # space and other visible characters are shown as they are.
    if c == " " or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
        return c
    return repr(c)[1:-1]


@dataclass
class _Found:
    kind: str
    value: str
    matched: str
    chain: tuple[str, ...]
    pos: int
    is_text_pos: bool


class _Scanner:
    def __init__(self, canaries: Sequence[str]) -> None:
        self.found: list[_Found] = []
        self.raw_forms: list[tuple[str, str, bytes]] = []  # (canary, step, form)
        self.text_forms: list[tuple[str, str, str]] = []  # same, folded like the text searched
        self.margin = 64  # context kept around escapes; at least the longest canary form
        for canary in canaries:
            if not isinstance(canary, str) or not canary:
                raise ValueError(f"canaries must be non-empty strings, got {canary!r}")
            seen: set[bytes] = set()
            for name, form in encodings(canary).items():
                if form in seen:
                    continue  # e.g. an ASCII canary's URL form is the canary itself
                seen.add(form)
                step = "" if name == "utf-8" else name
                self.raw_forms.append((canary, step, form))
                self.margin = max(self.margin, len(form))
                try:
                    self.text_forms.append((canary, step, _fold(form.decode("utf-8"))[0]))
                except UnicodeDecodeError:
                    continue  # cannot appear as such in decoded text (e.g. UTF-16 of kana)

    # -- recording ---------------------------------------------------------------------------------

    def add(self, layer: _Layer, kind: str, value: str, start: int, end: int, steps: tuple[str, ...],
            raw: bool = False) -> None:
        if raw and layer.raw is not None:
            step = steps[-1] if steps else ""
            codec = step if step in ("utf-16le", "utf-16be", "latin-1") else "utf-8"
            matched = layer.raw[start:end].decode(codec, "backslashreplace")
            pos, is_text = layer.raw_to_root(start)
        else:
            matched = layer.text[start:end]
            pos, is_text = layer.to_root(start)
        shown = "".join(_show(c) for c in matched[:_MATCHED_MAX])
        self.found.append(_Found(kind, value, shown[:_MATCHED_MAX], layer.chain + steps, pos, is_text))

    def report(self, layer: _Layer, kind: str, value: str, start: int, end: int, fpos: list[int],
               step: str = "") -> bool:
        if not layer.touches_decoded(start, end):
            return False
        steps = ("fullwidth",) if _overlaps(fpos, start, end) else ()
        self.add(layer, kind, value, start, end, steps + ((step,) if step else ()))
        return True

    # -- layers ------------------------------------------------------------------------------------

    def scan_layer(self, layer: _Layer) -> None:
        folded, fpos = _fold(layer.text)
        self.find_numbers(layer, folded, fpos)
        self.find_canaries(layer, folded, fpos)
        if len(layer.chain) < _MAX_CHAIN:
            self.descend(layer)

    def descend(self, layer: _Layer) -> None:
        chain, text = layer.chain, layer.text

        def allowed(step: str) -> bool:
            return chain.count(step) < _MAX_STEP[step]

        for step, hints, pattern, decode in _UNESCAPERS:
            if allowed(step) and any(h in text for h in hints):
                for child in _unescaped_regions(layer, pattern, decode, step, self.margin):
                    self.scan_layer(child)
        if allowed("base64"):
            for m in _B64_RE.finditer(text):
                token = m.group()
                if token.isdigit() or not layer.touches_decoded(m.start(), m.end()):
                    continue  # digit runs are numbers; verbatim copies were decoded in the parent
                data = _b64_decode(token)
                if data:
                    self.scan_layer(_Layer(data.decode("utf-8", "surrogateescape"), data,
                                           (*chain, "base64"), layer, "token", m.start()))
        if layer.raw is not None and "utf-16le" not in chain and "utf-16be" not in chain:
            for step, start, decoded in _utf16_runs(layer.raw):
                self.scan_layer(_Layer(decoded, None, (*chain, step), layer, "utf16", start))

    # -- numbers -----------------------------------------------------------------------------------

    def number(self, layer: _Layer, digits: str, start: int, end: int, fpos: list[int]) -> bool:
        """Report ``digits`` if it is a valid number; return validity (whether reported or not)."""
        if len(digits) == 12 and is_valid_mynumber(digits):
            self.report(layer, "mynumber", digits, start, end, fpos)
            return True
        if len(digits) == 13 and is_valid_corporate_number(digits):
            self.report(layer, "corporate-number", digits, start, end, fpos)
            return True
        return False

    def find_numbers(self, layer: _Layer, folded: str, fpos: list[int]) -> None:
        for m in _RUN_RE.finditer(folded):
            run = m.group()
            if run.isdigit():
                if len(run) in (12, 13):
                    self.number(layer, run, m.start(), m.end(), fpos)
                continue
            parts = _SPLIT_RE.split(run)
            spans: list[tuple[int, int]] = []
            pos = m.start()
            for i, part in enumerate(parts):
                if i % 2 == 0:
                    spans.append((pos, pos + len(part)))
                pos += len(part)
            seps = parts[1::2]  # seps[k] joins groups k and k+1
            # Segments: consecutive short groups joined by one and the same separator character.
            # Neighbouring segments share their boundary group; a long group stands alone.
            cur: list[int] = []
            cur_sep = ""
            for k, (a, b) in enumerate(spans):
                if b - a > _SHORT_GROUP:
                    if b - a in (12, 13):
                        self.number(layer, folded[a:b], a, b, fpos)
                    self.segment(layer, folded, [spans[i] for i in cur], cur_sep, fpos)
                    cur, cur_sep = [], ""
                elif not cur or not cur_sep or seps[k - 1] == cur_sep:
                    cur_sep = seps[k - 1] if cur else ""
                    cur.append(k)
                else:
                    self.segment(layer, folded, [spans[i] for i in cur], cur_sep, fpos)
                    cur, cur_sep = [k - 1, k], seps[k - 1]
            self.segment(layer, folded, [spans[i] for i in cur], cur_sep, fpos)

    def segment(self, layer: _Layer, folded: str, spans: list[tuple[int, int]], sep: str,
                fpos: list[int]) -> None:
        """A grouped run: the whole run is read first; only if it is not a valid number are the
        usual groupings (4-4-4; 1-4-4-4 and 4-4-5) looked for inside it."""
        if len(spans) < 2:
            return
        groups = [folded[a:b] for a, b in spans]
        total = sum(len(g) for g in groups)
        if total in (12, 13):
            if _is_ipv4(groups, sep):
                return
            if self.number(layer, "".join(groups), spans[0][0], spans[-1][1], fpos):
                return
        if total <= 12:
            return
        shape = "".join(str(len(g)) for g in groups)
        taken: list[tuple[int, int]] = []
        for w in _WINDOWS_CORP.finditer(shape):
            i, n = w.start(), len(w.group(1))
            start, end = spans[i][0], spans[i + n - 1][1]
            if self.number(layer, "".join(groups[i:i + n]), start, end, fpos):
                taken.append((start, end))
        for w in _WINDOWS_MY.finditer(shape):
            i = w.start()
            start, end = spans[i][0], spans[i + 2][1]
            if not any(a <= start and end <= b for a, b in taken):  # the longer reading wins
                self.number(layer, "".join(groups[i:i + 3]), start, end, fpos)

    # -- canaries ----------------------------------------------------------------------------------

    def find_canaries(self, layer: _Layer, folded: str, fpos: list[int]) -> None:
        if layer.raw is not None:
            for canary, step, form in self.raw_forms:
                i = layer.raw.find(form)
                if i >= 0:
                    self.add(layer, "canary", canary, i, i + len(form), (step,) if step else (), raw=True)
            if not fpos:
                return
        for canary, step, form in self.text_forms:
            i = folded.find(form)
            while i >= 0:
                end = i + len(form)
                # In a raw layer the bytes search already saw every unfolded occurrence.
                if (layer.raw is None or _overlaps(fpos, i, end)) and \
                        self.report(layer, "canary", canary, i, end, fpos, step):
                    break
                i = folded.find(form, i + 1)


def _text_to_byte_offsets(text: str, positions: set[int]) -> dict[int, int]:
    if text.isascii():
        return {p: p for p in positions}
    result: dict[int, int] = {}
    last_char = last_byte = 0
    for p in sorted(positions):
        last_byte += len(text[last_char:p].encode("utf-8", "surrogateescape"))
        last_char = p
        result[p] = last_byte
    return result


def scan(data: bytes | str, canaries: Sequence[str] = ()) -> list[Hit]:
    """Find ``canaries`` and check-digit-valid 個人番号 / 法人番号 in ``data``, through encoding layers.

    Layers: URL percent-decoding (up to twice), base64/base64url tokens (>= 12 chars, MIME-wrapped
    too, up to twice), JSON \\u escapes, HTML numeric entities, UTF-16LE/BE runs (bytes input, and
    bytes decoded from base64), and NFKC folding of full-width digits, hyphens and spaces. A str is
    scanned as text; bytes are read as UTF-8 (undecodable bytes kept as they are).

    One hit per (kind, value, encoding), at its first offset, sorted by offset. One occurrence seen
    through several paths is reported once, through the shortest. See the module docstring for the
    rule on grouped and overlapping numbers.
    """
    scanner = _Scanner(canaries)
    if isinstance(data, str):
        root = _Layer(data, None, (), None, "root")
    else:
        raw = bytes(data)
        root = _Layer(raw.decode("utf-8", "surrogateescape"), raw, (), None, "root")
    scanner.scan_layer(root)

    found = scanner.found
    if root.raw is not None:
        offsets = _text_to_byte_offsets(root.text, {f.pos for f in found if f.is_text_pos})
        for f in found:
            if f.is_text_pos:
                f.pos, f.is_text_pos = offsets[f.pos], False

    # The same occurrence reached through several paths: keep the shortest chain (first on a tie).
    best: dict[tuple[str, str, int], _Found] = {}
    for f in found:
        key = (f.kind, f.value, f.pos)
        if key not in best or len(f.chain) < len(best[key].chain):
            best[key] = f
    kept = list(best.values())
    # ASCII UTF-16 read in both byte orders one byte apart is one occurrence: keep little-endian.
    le = {(f.kind, f.value, f.pos, f.chain) for f in kept if "utf-16le" in f.chain}
    kept = [f for f in kept if "utf-16be" not in f.chain or not any(
        (f.kind, f.value, f.pos + d, tuple("utf-16le" if s == "utf-16be" else s for s in f.chain)) in le
        for d in (-1, 1))]

    hits: dict[tuple[str, str, str], Hit] = {}
    for f in sorted(kept, key=lambda f: (f.pos, len(f.chain))):
        label = "+".join(f.chain) or "plain"
        hits.setdefault((f.kind, f.value, label), Hit(f.kind, f.value, f.matched, label, f.pos))
    return sorted(hits.values(), key=lambda h: (h.offset, h.kind, h.value, h.encoding))
