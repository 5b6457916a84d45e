"""MNT-05's run configuration (the stable release list) and its lag rule: bad input names the file and the field;
the rule is checked at its edges; the engine version is read from UA-CH brands without GREASE."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from conformance.cases import test_patching as case
from conformance.cli import main
from conformance.engine_releases import (
    RULE,
    EngineReleases,
    is_grease,
    judge,
    load_engine_releases,
    patch_lag,
    read_engine_version,
)
from conformance.errors import HarnessError, InputError

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "fixtures" / "engine-releases.toml"

GOOD = """
source = "test list"
[[release]]
engine = "Chromium"
version = "150.0.7871.100"
date = 2026-07-07
[[release]]
engine = "Chromium"
version = "150.0.7871.114"
date = 2026-07-10
[[release]]
engine = "Chromium"
version = "151.0.7922.71"
date = 2026-07-30
source = "its own source"
[[release]]
engine = "Chromium"
version = "156.0.8078.114"
date = 2026-11-26
"""
AS_OF = dt.date(2026, 12, 5)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "releases.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def releases(tmp_path: Path) -> EngineReleases:
    return load_engine_releases(write(tmp_path, GOOD))


# -- the loader ---------------------------------------------------------------------------------------
def test_good_file_loads(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    loaded = load_engine_releases(path)
    assert loaded.path == path.resolve() and len(loaded.sha256) == 64
    assert [r.version for r in loaded.of("Chromium")][-1] == "156.0.8078.114"
    assert loaded.source_of(loaded.release[0]) == "test list"
    assert loaded.source_of(loaded.release[2]) == "its own source"


def test_shipped_list_is_valid_and_in_release_order() -> None:
    loaded = load_engine_releases(SHIPPED)
    chromium = loaded.of("Chromium")
    assert len(chromium) >= 40 and loaded.compiled is not None
    assert chromium[-1].date <= loaded.compiled
    # Debian's bookworm-security line: a newer version never came out before an older one.
    assert [r.date for r in chromium] == sorted(r.date for r in chromium)
    assert {"150.0.7871.100", "150.0.7871.114", "156.0.8078.114"} <= {r.version for r in chromium}


@pytest.mark.parametrize(
    ("old", "new", "field", "fix"),
    [
        ('version = "150.0.7871.114"', 'version = "150.0.x"', "release[1].version", "dotted integers"),
        ('version = "150.0.7871.114"', 'version = 150', "release[1].version", ""),
        ("date = 2026-07-10", 'date = "2026-07-10"', "release[1].date", "TOML date without quotes"),
        ("date = 2026-07-10", "date = 2026-07-10T10:00:00", "release[1].date", "TOML date"),
        ('version = "150.0.7871.114"', 'version = "150.0.7871.114"\ncolour = "red"', "release[1].colour", "remove"),
        ('engine = "Chromium"\nversion = "150.0.7871.114"', 'version = "150.0.7871.114"', "release[1].engine",
         "add the field"),
        ('version = "150.0.7871.114"', 'version = "150.0.7871.100"', "release[1].version", "list each version once"),
        ('source = "test list"\n', "", "release[0].source", "top-level source"),
        ('source = "test list"\n', 'sauce = "x"\n', "sauce", "remove"),
    ],
)
def test_bad_field_is_named(tmp_path: Path, old: str, new: str, field: str, fix: str) -> None:
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(InputError) as caught:
        load_engine_releases(path)
    assert caught.value.field == field, caught.value
    assert caught.value.file == str(path)
    assert fix in caught.value.fix


def test_duplicate_names_the_first_listing(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('version = "151.0.7922.71"', 'version = "150.0.7871.100"'))
    with pytest.raises(InputError, match=r"already listed as release\[0\]"):
        load_engine_releases(path)


def test_same_version_of_two_engines_is_no_duplicate(tmp_path: Path) -> None:
    text = GOOD + '[[release]]\nengine = "Firefox"\nversion = "156.0.8078.114"\ndate = 2026-11-26\n'
    assert load_engine_releases(write(tmp_path, text)).engines() == ["Chromium", "Firefox"]


def test_empty_list_syntax_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_engine_releases(write(tmp_path, 'source = "x"\n'))
    assert caught.value.field == "release"
    with pytest.raises(InputError, match="not valid TOML"):
        load_engine_releases(write(tmp_path, GOOD + "\n[[release]\n"))
    with pytest.raises(InputError, match="cannot read"):
        load_engine_releases(tmp_path / "absent.toml")


def test_cli_refuses_a_bad_list_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, GOOD.replace("date = 2026-07-10", 'date = "2026-07-10"'))
    out = tmp_path / "out"
    code = main(["run", "--candidate", str(ROOT / "fixtures/candidates/chromium-open.toml"),
                 "--engine-releases", str(bad), "--out", str(out)])
    assert code == 2
    assert "release[1].date" in capsys.readouterr().err
    assert not out.exists()


# -- the lag rule -------------------------------------------------------------------------------------
def test_equal_to_newest_is_no_lag(releases: EngineReleases) -> None:
    lag = patch_lag("Chromium", "156.0.8078.114", releases, AS_OF)
    assert lag.lag_days == 0 and lag.first_newer is None and not lag.newer_than_list
    assert judge(lag, 0)[0]


def test_newer_than_everything_listed_passes(releases: EngineReleases) -> None:
    lag = patch_lag("Chromium", "157.0.1.2", releases, AS_OF)
    assert lag.lag_days == 0 and lag.newer_than_list
    assert judge(lag, 0)[0]


def test_older_counts_from_the_next_release(releases: EngineReleases) -> None:
    lag = patch_lag("Chromium", "150.0.7871.100", releases, AS_OF)
    assert lag.first_newer is not None and lag.first_newer.version == "150.0.7871.114"
    assert lag.lag_days == (AS_OF - dt.date(2026, 7, 10)).days == 148
    assert judge(lag, 148)[0]
    ok, message = judge(lag, 147)
    assert not ok
    assert "148" in message and "150.0.7871.114" in message
    assert "遅れ" in message and "exceeds the declared bound" in message  # bilingual


def test_unlisted_version_between_releases(releases: EngineReleases) -> None:
    lag = patch_lag("Chromium", "150.0.7871.120", releases, AS_OF)  # a vendor's own build, between two listed
    assert lag.first_newer is not None and lag.first_newer.version == "151.0.7922.71"
    assert lag.lag_days == (AS_OF - dt.date(2026, 7, 30)).days


def test_older_than_every_listed_release(releases: EngineReleases) -> None:
    lag = patch_lag("Chromium", "140.0.1.1", releases, AS_OF)
    assert lag.older_than_list and lag.first_newer is not None
    assert lag.first_newer.version == "150.0.7871.100" and lag.lag_days == (AS_OF - dt.date(2026, 7, 7)).days


def test_release_after_as_of_is_not_yet_a_lag(releases: EngineReleases) -> None:
    lag = patch_lag("Chromium", "151.0.7922.71", releases, dt.date(2026, 11, 25))  # 156 came out on 11-26
    assert lag.lag_days == 0 and lag.newest.version == "151.0.7922.71"
    lag = patch_lag("Chromium", "151.0.7922.71", releases, dt.date(2026, 11, 27))
    assert lag.lag_days == 1


def test_shorter_version_is_compared_by_value(releases: EngineReleases) -> None:
    assert patch_lag("Chromium", "156.0.8078.114.0", releases, AS_OF).lag_days == 0
    assert patch_lag("Chromium", "156", releases, AS_OF).lag_days > 0  # 156 == 156.0.0.0, older than 156.0.8078.114


def test_prefix_version_is_read_in_the_candidates_favour(releases: EngineReleases) -> None:
    assert patch_lag("Chromium", "156.0.0.0", releases, AS_OF, known_parts=1).lag_days == 0
    lag = patch_lag("Chromium", "150.0.0.0", releases, AS_OF, known_parts=1)
    assert lag.first_newer is not None and lag.first_newer.version == "151.0.7922.71"


def test_missing_engine_is_not_judgeable(releases: EngineReleases) -> None:
    with pytest.raises(HarnessError, match="no release of Firefox"):
        patch_lag("Firefox", "128.0", releases, AS_OF)
    with pytest.raises(HarnessError, match="dated on or before"):
        patch_lag("Chromium", "150.0.7871.100", releases, dt.date(2026, 1, 1))


def test_missing_bound_is_an_error_naming_the_field(releases: EngineReleases) -> None:
    lag = patch_lag("Chromium", "150.0.7871.100", releases, AS_OF)
    with pytest.raises(HarnessError, match=r"\[maintenance\] engine_patch_lag_days"):
        judge(lag, None)


def test_rule_text_names_the_declaration() -> None:
    assert "engine_patch_lag_days" in RULE and "as_of" in RULE


# -- reading the engine version ------------------------------------------------------------------------
CHROMIUM_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 "
               "Safari/537.36")


@pytest.mark.parametrize("brand", ["Not A;Brand", "Not_A Brand", "Not)A;Brand", "Not/A)Brand", "Not.A/Brand",
                                   "Not:A-Brand", "Not A(Brand", "Not?A_Brand", "Not=A?Brand",
                                   "Not;A=Brand"])
def test_grease_brands(brand: str) -> None:
    assert is_grease(brand)


@pytest.mark.parametrize("brand", ["Chromium", "Google Chrome", "Microsoft Edge", "Brand", "Nota Brand"])
def test_real_brands_are_not_grease(brand: str) -> None:
    assert not is_grease(brand)


def test_grease_brand_first_is_skipped() -> None:
    hints = {"fullVersionList": [{"brand": "Not_A Brand", "version": "99.0.0.0"},
                                 {"brand": "Chromium", "version": "156.0.8078.114"}]}
    read = read_engine_version(hints, CHROMIUM_UA, ["Chromium"])
    assert (read.engine, read.version, read.via, read.exact) == ("Chromium", "156.0.8078.114",
                                                                 "ua-ch fullVersionList", True)
    assert any("Not_A Brand" in note for note in read.notes)


def test_product_brands_give_way_to_the_engine() -> None:
    hints = {"fullVersionList": [{"brand": "Microsoft Edge", "version": "120.0.2210.91"},
                                 {"brand": "Not_A Brand", "version": "8.0.0.0"},
                                 {"brand": "Chromium", "version": "120.0.6099.130"}]}
    read = read_engine_version(hints, "", ["Chromium"])
    assert (read.engine, read.version) == ("Chromium", "120.0.6099.130")


def test_a_listed_product_brand_is_used_when_the_list_names_it() -> None:
    hints = {"fullVersionList": [{"brand": "Google Chrome", "version": "156.0.8078.110"},
                                 {"brand": "Chromium", "version": "156.0.8078.110"}]}
    assert read_engine_version(hints, "", ["Google Chrome"]).engine == "Google Chrome"
    assert read_engine_version(hints, "", ["Google Chrome", "Chromium"]).engine == "Chromium"  # the engine first


def test_ua_full_version_when_the_engine_is_the_only_brand() -> None:
    hints = {"brands": [{"brand": "Chromium", "version": "156"}, {"brand": "Not A;Brand", "version": "24"}],
             "uaFullVersion": "156.0.8078.114"}
    read = read_engine_version(hints, CHROMIUM_UA, ["Chromium"])
    assert (read.version, read.via) == ("156.0.8078.114", "ua-ch uaFullVersion")


def test_no_ua_ch_falls_back_to_the_user_agent_string() -> None:
    read = read_engine_version(None, CHROMIUM_UA.replace("156.0.0.0", "156.0.8078.114"), ["Chromium"])
    assert (read.engine, read.version, read.via, read.exact) == ("Chromium", "156.0.8078.114",
                                                                 "user-agent string", True)
    assert any("no User-Agent Client Hints" in note for note in read.notes)


def test_reduced_user_agent_is_a_major_version_prefix() -> None:
    read = read_engine_version(None, CHROMIUM_UA, ["Chromium"])
    assert (read.version, read.exact, read.known_parts) == ("156.0.0.0", False, 1)


def test_firefox_user_agent() -> None:
    ua = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    read = read_engine_version(None, ua, ["Chromium"])
    assert (read.engine, read.version, read.known_parts) == ("Firefox", "128.0", 1)


def test_nothing_readable_is_an_error() -> None:
    with pytest.raises(HarnessError, match="no engine version readable"):
        read_engine_version({"brands": []}, "curl/8.0", ["Chromium"])
    with pytest.raises(HarnessError, match="no engine version readable"):
        read_engine_version(None, "", ["Chromium"])


# -- the case, with the candidate and the site stood in for ---------------------------------------------
MEASURED_150 = {  # what engine.html reported from Debian's bookworm-main chromium (headless), 2026-12-05
    "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/150.0.0.0 "
                 "Safari/537.36",
    "uaData": {"brands": [{"brand": "Not;A=Brand", "version": "8"}, {"brand": "Chromium", "version": "150"}],
               "mobile": False, "platform": "Linux"},
    "highEntropy": {"brands": [{"brand": "Not;A=Brand", "version": "8"}, {"brand": "Chromium", "version": "150"}],
                    "fullVersionList": [{"brand": "Not;A=Brand", "version": "8.0.0.0"},
                                        {"brand": "Chromium", "version": "150.0.7871.100"}],
                    "mobile": False, "platform": "Linux", "platformVersion": "", "uaFullVersion": "150.0.7871.100"},
    "error": None,
}


class FakeSite:
    def __init__(self, detail: dict | None) -> None:
        self.detail, self.opened = detail, ""

    def reports(self) -> list[dict]:
        if self.detail is None or not self.opened:
            return []
        return [{"page": "engine", "event": "engine", "value": self.opened.split("t=")[1], "detail": self.detail}]


class FakeSession:
    def __init__(self, site: FakeSite) -> None:
        self.site = site

    def open(self, url: str) -> Any:
        self.site.opened = url
        return SimpleNamespace(wait_for_timeout=lambda ms: None)


class FakeEvidence:
    def __init__(self) -> None:
        self.files: dict[str, Any] = {}

    def json(self, name: str, data: Any) -> None:
        self.files[name] = data

    def screenshot(self, session: Any, name: str) -> None:
        return None


def run_case(releases: EngineReleases | None, declared: int | None, detail: dict | None = MEASURED_150,
             notes: list[str] | None = None) -> FakeEvidence:
    site, evidence = FakeSite(detail), FakeEvidence()
    candidate = SimpleNamespace(maintenance=SimpleNamespace(engine_patch_lag_days=declared))
    case.test_engine_patch_lag_within_declared(candidate, FakeSession(site), site, releases, evidence,
                                               [] if notes is None else notes)
    return evidence


def test_case_fails_a_stale_engine_with_evidence() -> None:
    releases = load_engine_releases(SHIPPED)
    evidence = FakeEvidence()
    with pytest.raises(AssertionError, match=r"150\.0\.7871\.114") as caught:
        site = FakeSite(MEASURED_150)
        candidate = SimpleNamespace(maintenance=SimpleNamespace(engine_patch_lag_days=30))
        case.test_engine_patch_lag_within_declared(candidate, FakeSession(site), site, releases, evidence, [])
    assert "遅れ" in str(caught.value) and "declared at most 30 days" in str(caught.value)
    record = evidence.files["patch-lag.json"]
    assert record["verdict"] == "fail" and record["lag_days"] >= 148
    assert record["engine"]["version"] == "150.0.7871.100" and record["engine"]["via"] == "ua-ch fullVersionList"
    assert record["first_newer_release"]["version"] == "150.0.7871.114"
    assert record["release_list"]["sha256"] == releases.sha256 and record["release_list"]["path"] == str(SHIPPED)
    assert record["reported"]["highEntropy"]["fullVersionList"][0]["brand"] == "Not;A=Brand"
    assert record["declared_engine_patch_lag_days"] == 30 and record["rule"] == RULE and record["as_of"]


def test_case_passes_the_newest_engine() -> None:
    detail = {**MEASURED_150, "highEntropy": {"fullVersionList": [{"brand": "Chromium", "version": "156.0.8078.114"}]}}
    record = run_case(load_engine_releases(SHIPPED), 30, detail).files["patch-lag.json"]
    assert record["verdict"] == "pass" and record["lag_days"] == 0 and record["first_newer_release"] is None


def test_case_without_a_release_list_is_an_error() -> None:
    with pytest.raises(HarnessError, match=r"no stable release list was given \(--engine-releases\)"):
        run_case(None, 30)


def test_case_without_a_declaration_is_an_error_after_measuring() -> None:
    evidence = FakeEvidence()
    site = FakeSite(MEASURED_150)
    candidate = SimpleNamespace(maintenance=SimpleNamespace(engine_patch_lag_days=None))
    with pytest.raises(HarnessError, match=r"\[maintenance\] engine_patch_lag_days"):
        case.test_engine_patch_lag_within_declared(candidate, FakeSession(site), site,
                                                   load_engine_releases(SHIPPED), evidence, [])
    record = evidence.files["patch-lag.json"]
    assert record["verdict"] == "error" and record["lag_days"] >= 148  # measured, but not judged


def test_case_notes_a_user_agent_fallback() -> None:
    notes: list[str] = []
    detail = {"userAgent": "Mozilla/5.0 Chrome/156.0.8078.114 Safari/537.36", "uaData": None, "highEntropy": None}
    record = run_case(load_engine_releases(SHIPPED), 30, detail, notes).files["patch-lag.json"]
    assert record["verdict"] == "pass" and record["engine"]["via"] == "user-agent string"
    assert any("user-agent string" in note for note in notes)


def test_case_page_that_never_reports_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(case, "REPORT_TIMEOUT", 0.01)
    with pytest.raises(HarnessError, match="never reported"):
        run_case(load_engine_releases(SHIPPED), 30, None)
