"""Unit tests for conformance.detectors: check digits, test data, canaries, encodings and scan()."""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import random
import re
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import pytest

from conformance.detectors import (
    DEFAULT_TEST_NUMBERS,
    Hit,
    corporate_check_digit,
    encodings,
    is_valid_corporate_number,
    is_valid_mynumber,
    load_test_numbers,
    make_canary,
    make_japanese_canary,
    mynumber_check_digit,
    scan,
)
from conformance.errors import InputError

MY = "123456789018"  # valid 個人番号 (worked example)
CORP = "7123456789012"  # valid 法人番号 (worked example)


def hits_of(hits: list[Hit], kind: str, value: str) -> list[Hit]:
    return [h for h in hits if h.kind == kind and h.value == value]


def encodings_of(hits: list[Hit], kind: str, value: str) -> set[str]:
    return {h.encoding for h in hits_of(hits, kind, value)}


# --------------------------------------------------------------------------------------------------
# Check digits
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("base", "cd"), [("12345678901", 8), ("98320567321", 4), ("00000000006", 0)])
def test_mynumber_check_digit_worked_examples(base: str, cd: int) -> None:
    assert mynumber_check_digit(base) == cd


@pytest.mark.parametrize(("base", "cd"), [("123456789012", 7), ("010705000725", 7)])
def test_corporate_check_digit_worked_examples(base: str, cd: int) -> None:
    assert corporate_check_digit(base) == cd


@pytest.mark.parametrize(("number", "valid"), [
    ("123456789018", True),
    ("983205673214", True),
    ("983205673210", False),  # negative control from the research notes
    ("000000000060", True),  # CD 0 edge case
    ("123456789012", False),
    ("12345678901", False),  # too short
    ("1234567890180", False),  # too long
    ("1234-5678-9018", False),  # is_valid_* wants bare digits; scan() handles grouping
    ("１２３４５６７８９０１８", False),  # full-width digits are not ASCII digits
    ("", False),
])
def test_is_valid_mynumber(number: str, valid: bool) -> None:
    assert is_valid_mynumber(number) is valid


@pytest.mark.parametrize(("number", "valid"), [
    ("7123456789012", True),
    ("7010705000725", True),  # published number of a public body; a worked example only
    ("1123456789012", False),
    ("0123456789012", False),  # the check digit is never 0
    ("123456789012", False),
    ("7-1234-5678-9012", False),
])
def test_is_valid_corporate_number(number: str, valid: bool) -> None:
    assert is_valid_corporate_number(number) is valid


@pytest.mark.parametrize("bad", ["", "1234567890", "123456789012", "1234567890a", "１２３４５６７８９０１",
                                 " 1234567890", "1234567890²"])
def test_mynumber_check_digit_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError, match="11 ASCII digits"):
        mynumber_check_digit(bad)


@pytest.mark.parametrize("bad", ["", "12345678901", "1234567890123", "12345678901x",
                                 "１２３４５６７８９０１２"])
def test_corporate_check_digit_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError, match="12 ASCII digits"):
        corporate_check_digit(bad)


def _research_mynumber_cd(b11: str) -> int:  # the reference code from requirements.md section c)
    s = sum(int(b11[11 - n]) * (n + 1 if n <= 6 else n - 5) for n in range(1, 12))
    return 0 if s % 11 <= 1 else 11 - s % 11


def _research_corp_cd(b12: str) -> int:
    return 9 - sum(int(b12[12 - n]) * (1 if n % 2 else 2) for n in range(1, 13)) % 9


def test_check_digits_exactly_one_valid_digit_seeded() -> None:
    # Seeded property check (no hypothesis dependency): exactly one check digit makes a base valid.
    rng = random.Random(20240904)
    for _ in range(300):
        b11 = "".join(rng.choice("0123456789") for _ in range(11))
        b12 = "".join(rng.choice("0123456789") for _ in range(12))
        assert mynumber_check_digit(b11) == _research_mynumber_cd(b11)
        assert corporate_check_digit(b12) == _research_corp_cd(b12)
        assert [d for d in "0123456789" if is_valid_mynumber(b11 + d)] == [str(mynumber_check_digit(b11))]
        assert [d for d in "0123456789" if is_valid_corporate_number(d + b12)] == \
            [str(corporate_check_digit(b12))]


# --------------------------------------------------------------------------------------------------
# Test data file
# --------------------------------------------------------------------------------------------------

def test_default_test_data_loads_and_is_consistent() -> None:
    data = load_test_numbers()
    assert DEFAULT_TEST_NUMBERS.name == "test-numbers.toml"
    assert MY in data.mynumbers_valid and CORP in data.corporate_valid
    assert "7010705000725" not in data.corporate_valid  # real bodies' numbers are not planted
    assert all(is_valid_mynumber(n) for n in data.mynumbers_valid)
    assert not any(is_valid_mynumber(n) for n in data.mynumbers_invalid)
    assert all(is_valid_corporate_number(n) for n in data.corporate_valid)
    assert not any(is_valid_corporate_number(n) for n in data.corporate_invalid)
    assert "テストデータ" in data.resident["label"]
    assert {"name_kanji", "name_kana", "address", "birth_date"} <= data.resident.keys()
    assert data.resident["mynumber"] in data.mynumbers_valid


def _bad_copy(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_TEST_NUMBERS.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "test-numbers.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(("old", "new", "field"), [
    ('"111111111118"', '"111111111117"', "mynumber.valid[1]"),  # a valid entry with a wrong CD
    ('"111111111111"', '"111111111118"', "mynumber.invalid[1]"),  # a control that is actually valid
    ('"9111111111111"', '"8111111111111"', "corporate.valid[1]"),
    ('"8111111111111"', '"9111111111111"', "corporate.invalid[1]"),
    ('"222222222225"', "222222222225", "mynumber.valid[2]"),  # unquoted: an int, leading zeros lost
    ('"987654321093"', '"98765432109"', "mynumber.valid[3]"),  # wrong length
    ('label = "テストデータ / test data (fictitious', 'label = "(fictitious', "resident.label"),
    ('mynumber = "123456789018"', 'mynumber = "222222222222"', "resident.mynumber"),
])
def test_bad_test_data_raises_input_error_naming_field(tmp_path: Path, old: str, new: str,
                                                       field: str) -> None:
    path = _bad_copy(tmp_path, old, new)
    with pytest.raises(InputError) as info:
        load_test_numbers(path)
    assert info.value.file == str(path)
    assert info.value.field == field
    assert field in str(info.value)


def test_test_data_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_test_numbers(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[mynumber\nvalid = [", encoding="utf-8")
    with pytest.raises(InputError, match="TOML"):
        load_test_numbers(broken)
    no_table = tmp_path / "no-table.toml"
    no_table.write_text('label = "x"\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_test_numbers(no_table)
    assert info.value.field == "mynumber"


# --------------------------------------------------------------------------------------------------
# Canaries
# --------------------------------------------------------------------------------------------------

def test_make_canary_format_ascii_and_unique() -> None:
    canaries = {make_canary("clip") for _ in range(50)}
    assert len(canaries) == 50
    for c in canaries:
        assert re.fullmatch(r"CNRY-CLIP-[0-9a-f]{10}", c)
        c.encode("ascii")  # survives screen-transfer clients that drop non-Latin-1
    assert re.fullmatch(r"CNRY-R2L_UI-RUN42-[0-9a-f]{10}", make_canary("r2l_ui", run_token="run42"))


def test_make_japanese_canary_has_kanji_and_kana() -> None:
    c = make_japanese_canary("print")
    assert re.fullmatch(r"秘密カナリア-PRINT-[0-9a-f]{10}", c)
    assert re.search(r"[\u4e00-\u9fff]", c) and re.search(r"[\u30a0-\u30ff]", c)
    with pytest.raises(UnicodeEncodeError):
        c.encode("latin-1")
    assert make_japanese_canary("print") != c


@pytest.mark.parametrize("label", ["", "has space", "カナリア", "a-b", "x" * 33])
def test_canary_rejects_bad_label(label: str) -> None:
    with pytest.raises(ValueError):
        make_canary(label)
    with pytest.raises(ValueError):
        make_canary("ok", run_token=label)


# --------------------------------------------------------------------------------------------------
# encodings()
# --------------------------------------------------------------------------------------------------

ASCII_CANARY = "CNRY-TEST-0123abcdef"
JA_CANARY = "秘密カナリア-TEST-0123abcdef"

FORM_NAMES = ["utf-8", "utf-16le", "utf-16be", "url", "url-plus", "base64", "base64-nopad", "base64url",
              "base64url-nopad", "html-dec", "html-hex", "json", "json-u-all"]


def test_encodings_round_trip() -> None:
    text = "秘密 カナリア/+?&=ABC"
    forms = encodings(text)
    assert list(forms) == FORM_NAMES  # not Latin-1 encodable: no latin-1 form
    assert forms["utf-16le"].decode("utf-16-le") == text
    assert forms["utf-16be"].decode("utf-16-be") == text
    assert unquote(forms["url"].decode()) == text
    assert unquote_plus(forms["url-plus"].decode()) == text
    assert forms["url"] == quote(text, safe="").encode()
    assert forms["url-plus"] == quote_plus(text, safe="").encode()
    for name in ("base64", "base64-nopad", "base64url", "base64url-nopad"):
        padded = forms[name] + b"=" * (-len(forms[name]) % 4)
        assert base64.urlsafe_b64decode(padded.replace(b"+", b"-").replace(b"/", b"_")).decode() == text
    assert b"=" not in forms["base64-nopad"] and b"+" not in forms["base64url"]
    assert html.unescape(forms["html-dec"].decode()) == text == html.unescape(forms["html-hex"].decode())
    assert json.loads('"' + forms["json"].decode() + '"') == text
    assert json.loads('"' + forms["json-u-all"].decode() + '"') == text
    assert encodings("café")["latin-1"] == "café".encode("latin-1")


# --------------------------------------------------------------------------------------------------
# scan(): canaries
# --------------------------------------------------------------------------------------------------

def _expected_label(canary: str, name: str) -> str:
    # Forms that coincide (an ASCII canary's URL form is the canary) are reported under the first name.
    forms = encodings(canary)
    first = next(n for n, f in forms.items() if f == forms[name])
    return "plain" if first == "utf-8" else first


@pytest.mark.parametrize("canary", [ASCII_CANARY, JA_CANARY], ids=["ascii", "japanese"])
@pytest.mark.parametrize("name", [*FORM_NAMES, "latin-1"])
def test_scan_finds_canary_in_every_encoding_form(canary: str, name: str) -> None:
    forms = encodings(canary)
    if name not in forms:
        pytest.skip("not Latin-1 encodable")
    data = b"<html><body>\xe7\x95\xaa\xe5\x8f\xb7 " + forms[name] + b" \x00\x01</body></html>"
    hits = scan(data, [canary])
    found = hits_of(hits, "canary", canary)
    assert found, f"{name} form not found"
    assert _expected_label(canary, name) in {h.encoding for h in found}
    hit = next(h for h in found if h.encoding == _expected_label(canary, name))
    assert hit.offset == data.index(forms[name])  # byte offset into the input
    assert len(hit.matched) <= 80
    assert not [h for h in hits if h.kind != "canary"]


def test_scan_canary_through_layers() -> None:
    c, j = ASCII_CANARY, JA_CANARY
    doc = json.dumps({"note": f"copied {c} and {j}"}).encode()
    cases: list[tuple[bytes | str, str, str]] = [
        (base64.b64encode(doc), c, "base64"),  # inside a larger base64 blob (not the canary's own form)
        (b"q=" + quote(quote(j, safe="")).encode(), j, "url+url"),  # double URL-encoded
        (quote(doc.decode()).encode(), c, "plain"),  # quote() leaves an ASCII canary as it is
        (b"x=" + base64.b64encode(("text " + j).encode("utf-16-le")), j, "base64+utf-16le"),
        ("貼り付け: ＣＮＲＹ－ＴＥＳＴ－０１２３ａｂｃｄｅｆ", c, "fullwidth"),
        (f"str input {j}", j, "plain"),
        (json.dumps({"a": j}, ensure_ascii=True), j, "json"),
    ]
    for data, canary, encoding in cases:
        assert encoding in encodings_of(scan(data, [c, j]), "canary", canary), (data, encoding)


def test_scan_rejects_empty_canary() -> None:
    with pytest.raises(ValueError):
        scan(b"x", [""])


# --------------------------------------------------------------------------------------------------
# scan(): numbers
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("written", ["123456789018", "1234-5678-9018", "1234 5678 9018", "1234.5678.9018"])
def test_scan_mynumber_separator_forms(written: str) -> None:
    data = f"氏名: 架空 太郎\n個人番号: {written}です。\n".encode()
    hits = scan(data)
    assert [(h.kind, h.value, h.encoding) for h in hits] == [("mynumber", MY, "plain")]
    assert hits[0].matched == written
    assert hits[0].offset == data.index(written.encode())


@pytest.mark.parametrize("written", ["7123456789012", "7-1234-5678-9012", "7123-4567-89012",
                                     "7 1234 5678 9012", "7.123.456.789.012"])
def test_scan_corporate_number_separator_forms(written: str) -> None:
    hits = scan(f"法人番号:{written}".encode())
    assert [(h.kind, h.value, h.encoding) for h in hits] == [("corporate-number", CORP, "plain")]


@pytest.mark.parametrize("written", [
    "１２３４５６７８９０１８",
    "１２３４－５６７８－９０１８",
    "１２３４　５６７８　９０１８",  # ideographic space
    "1234ー5678ー9018",  # katakana long vowel mark used as a dash
    "1234−5678−9018",  # minus sign
    "１２３４．５６７８．９０１８",
])
def test_scan_fullwidth_forms(written: str) -> None:
    for data in (written, f"番号：{written}。".encode()):
        hits = scan(data)
        assert [(h.kind, h.value, h.encoding) for h in hits] == [("mynumber", MY, "fullwidth")]
        assert hits[0].matched == written


@pytest.mark.parametrize(("data", "encoding"), [
    (b"id=" + quote_plus("1234 5678 9018").encode() + b"&x=1", "url"),  # 1234+5678+9018
    (b"id=" + quote("1234 5678 9018").encode(), "url"),  # 1234%205678%209018
    (b"id=" + "".join(f"%{ord(d):02X}" for d in MY).encode(), "url"),
    (b"id=" + "".join(f"%25{ord(d):02X}" for d in MY).encode(), "url+url"),
    (b"v=" + quote("１２３４－５６７８－９０１８").encode(), "url+fullwidth"),
    ("".join(f"\\u{ord(d):04x}" for d in "1234-5678-9018").encode(), "json"),
    ("".join(f"&#{ord(d)};" for d in MY).encode(), "html"),
])
def test_scan_number_escaped(data: bytes, encoding: str) -> None:
    hits = scan(data)
    assert [(h.kind, h.value, h.encoding) for h in hits] == [("mynumber", MY, encoding)]


def test_scan_base64_inside_json_body() -> None:
    attachment = base64.b64encode("氏名: 架空 太郎\n個人番号: 1234-5678-9018\n".encode()).decode()
    body = json.dumps({"file": "memo.txt", "content": attachment}).encode()
    hits = scan(body)
    assert [(h.kind, h.value, h.encoding) for h in hits] == [("mynumber", MY, "base64")]
    assert hits[0].offset == body.index(attachment.encode())  # offset of the base64 token


def test_scan_base64url_without_padding() -> None:
    token = base64.urlsafe_b64encode(json.dumps({"sub": "x", "corp": CORP}).encode()).rstrip(b"=")
    hits = scan(b"Authorization: Bearer eyJhbGciOiJub25lIn0." + token + b".")
    assert encodings_of(hits, "corporate-number", CORP) == {"base64"}


def test_scan_multipart_form_data() -> None:
    secret = ("住民記録\n" * 20 + "個人番号 123456789018\n").encode()
    wrapped = base64.encodebytes(secret).replace(b"\n", b"\r\n")  # MIME: 76-char lines
    body = (b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"corp\"\r\n\r\n7-1234-5678-9012\r\n"
            b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + wrapped + b"--BOUNDARY--\r\n")
    hits = scan(body)
    assert encodings_of(hits, "mynumber", MY) == {"base64"}
    assert encodings_of(hits, "corporate-number", CORP) == {"plain"}
    assert len(hits) == 2


@pytest.mark.parametrize(("codec", "encoding"), [("utf-16-le", "utf-16le"), ("utf-16-be", "utf-16be")])
def test_scan_utf16(codec: str, encoding: str) -> None:
    data = b"\x01\x02CF_UNICODETEXT" + "個人番号 1234 5678 9018".encode(codec)
    hits = scan(data)
    assert [(h.kind, h.value, h.encoding) for h in hits] == [("mynumber", MY, encoding)]
    assert hits[0].offset == data.index("1".encode(codec))
    fullwidth = scan(b"\x01" + "番号：１２３４５６７８９０１８".encode("utf-16-le") + b"\x00\x00")
    assert encodings_of(fullwidth, "mynumber", MY) == {"utf-16le+fullwidth"}


def test_scan_offsets_bytes_vs_str() -> None:
    text = "個人番号は 1234-5678-9018"
    assert scan(text)[0].offset == text.index("1234")
    assert scan(text.encode())[0].offset == text.encode().index(b"1234")


def test_scan_dedup_by_kind_value_encoding() -> None:
    hits = scan(f"{MY} again {MY} and １２３４５６７８９０１８ and {MY}")
    assert [(h.encoding, h.offset) for h in hits] == [("plain", 0), ("fullwidth", 36)]


# --------------------------------------------------------------------------------------------------
# scan(): negative controls and the overlap rule
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("grouped", [False, True])
def test_scan_invalid_check_digits_are_not_hits(grouped: bool) -> None:
    data = load_test_numbers()
    for number in (*data.mynumbers_invalid, "983205673210"):
        written = f"{number[:4]}-{number[4:8]}-{number[8:]}" if grouped else number
        b64 = base64.b64encode(written.encode()).decode()
        assert scan(f"番号 {written} / {quote(written)} / {b64} / {quote_plus(written)}") == []
    for number in data.corporate_invalid:
        assert scan(f"法人番号 {number}") == []


@pytest.mark.parametrize("data", [
    "9123456789018",  # 12 valid digits at the end of a 13-digit run that is not a valid 法人番号
    "1234567890180",  # ... at the start
    "00123456789018",
    "12345678901812345",
    "x1234567890189",
    "1234-5678-90183",  # grouped 4-4-5 run: not a valid 法人番号, and no 4-4-4 reading inside
    "192.168.100.104",  # an IPv4 address whose digits are a valid 個人番号
])
def test_scan_digits_inside_longer_runs_are_not_hits(data: str) -> None:
    assert is_valid_mynumber("192168100104")  # keeps the IPv4 case meaningful
    assert not is_valid_corporate_number("1234567890183")
    assert scan(data) == []


def test_scan_overlap_rule_longer_reading_wins() -> None:
    # 1123456789018 is a valid 法人番号 AND its last 12 digits are a valid 個人番号.
    assert is_valid_corporate_number("1123456789018") and is_valid_mynumber("123456789018")
    for data in ("1123456789018", "1-1234-5678-9018", "1 1234 5678 9018"):
        assert [(h.kind, h.value) for h in scan(data)] == [("corporate-number", "1123456789018")], data


def test_scan_grouped_number_inside_longer_run() -> None:
    # The whole run is not a valid number, so the usual groupings inside it are read.
    assert not is_valid_corporate_number("5123456789018")
    for data in ("No. 5 1234 5678 9018", "0000 1234 5678 9018", "5 1234-5678-9018", "2024.1234-5678-9018",
                 "1234-5678-9018-3"):
        hits = scan(data)
        assert [(h.kind, h.value) for h in hits] == [("mynumber", MY)], data
        assert hits[0].matched.replace(" ", "-") == "1234-5678-9018"
    assert [(h.kind, h.value) for h in scan("3 7-1234-5678-9012")] == [("corporate-number", CORP)]


def test_scan_binary_noise_with_planted_values() -> None:
    rng = random.Random(7)
    canary = make_canary("noise")
    noise = rng.randbytes(200_000)
    data = noise[:50_000] + canary.encode("utf-16-le") + noise[50_000:120_000] + b" 1234-5678-9018 " + \
        noise[120_000:]
    hits = scan(data, [canary])
    assert encodings_of(hits, "canary", canary) == {"utf-16le"}
    assert "plain" in encodings_of(hits, "mynumber", MY)


def test_hit_is_frozen() -> None:
    hit = scan(MY)[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        hit.value = "x"  # type: ignore[misc]
