"""Unit tests for the file-system oracle (pure: tmp_path only, no external tools)."""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.oracles import files
from conformance.oracles.files import FileHit, copy_as_evidence, diff, new_files, scan_for_text, snapshot

CANARY = "CANARY-7f3a9c"
JA_CANARY = "機密カナリア-七三"


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# -- snapshot / diff -----------------------------------------------------------------------------------------


def test_snapshot_records_files_recursively_with_stat(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.txt", b"hello")
    b = _write(tmp_path / "sub" / "deeper" / "b.bin", b"x" * 10)
    snap = snapshot([tmp_path])
    assert set(snap) == {a, b}
    assert snap[a].size == 5
    assert snap[b].size == 10
    assert snap[a].inode == a.stat().st_ino
    assert snap[a].mtime_ns == a.stat().st_mtime_ns
    assert snap.errors == ()


def test_snapshot_missing_root_is_empty_and_file_root_is_recorded(tmp_path: Path) -> None:
    only = _write(tmp_path / "only.pdf", b"%PDF-1.4")
    assert len(snapshot([tmp_path / "does-not-exist"])) == 0
    assert set(snapshot([only])) == {only}


def test_snapshot_skips_sockets_and_fifos_and_does_not_follow_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    secret = _write(outside / "secret.txt", CANARY.encode())
    root = tmp_path / "root"
    root.mkdir()
    os.mkfifo(root / "fifo")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "sock"))
        (root / "link-to-dir").symlink_to(outside, target_is_directory=True)
        (root / "link-to-file").symlink_to(secret)
        snap = snapshot([root])
    # Symlinks are recorded as links (a created link is a change) but never followed.
    assert set(snap) == {root / "link-to-dir", root / "link-to-file"}
    assert scan_for_text([root], [CANARY]) == []


def test_diff_created_modified_deleted(tmp_path: Path) -> None:
    keep = _write(tmp_path / "keep.txt", b"same")
    change = _write(tmp_path / "change.txt", b"before")
    gone = _write(tmp_path / "gone.txt", b"bye")
    replaced = _write(tmp_path / "replaced.txt", b"one")
    before = snapshot([tmp_path])

    change.write_bytes(b"after, and longer")
    gone.unlink()
    new = _write(tmp_path / "new" / "file.pdf", b"%PDF")
    # Same size, new inode (atomic replace as browsers do): still "modified".
    tmp = _write(tmp_path / "replaced.tmp", b"two")
    os.replace(tmp, replaced)
    os.utime(replaced, ns=(before[replaced].mtime_ns, before[replaced].mtime_ns))

    result = diff(before, snapshot([tmp_path]))
    assert result.created == [new]
    assert result.deleted == [gone]
    assert result.modified == sorted([change, replaced])
    assert keep not in result.changed
    assert bool(result)
    assert not diff(before, before)


def test_new_files_filters_by_suffix(tmp_path: Path) -> None:
    before = snapshot([tmp_path])
    pdf = _write(tmp_path / "Saved Page.PDF", b"%PDF")
    _write(tmp_path / "other.txt", b"x")
    assert new_files(before, (".pdf",)) == [pdf]
    assert len(new_files(before)) == 2


def test_snapshot_tolerates_files_and_dirs_vanishing_mid_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stays = _write(tmp_path / "stays.txt", b"x")
    _write(tmp_path / "vanishes.txt", b"x")
    _write(tmp_path / "vanishing-dir" / "inner.txt", b"x")
    real_scandir = os.scandir

    class VanishingScandir:
        """Deletes some entries after they were listed but before they are stat'ed / descended."""

        def __init__(self, path: str | os.PathLike[str]) -> None:
            self._inner = real_scandir(path)

        def __enter__(self) -> VanishingScandir:
            return self

        def __exit__(self, *exc: object) -> None:
            self._inner.close()

        def __iter__(self) -> Iterator[os.DirEntry[str]]:
            for entry in self._inner:
                if entry.name == "vanishes.txt":
                    os.unlink(entry.path)
                if entry.name == "vanishing-dir":
                    shutil.rmtree(entry.path)  # listed as a directory, gone before we descend
                yield entry

    monkeypatch.setattr(files.os, "scandir", VanishingScandir)
    snap = snapshot([tmp_path])
    assert stays in snap
    assert tmp_path / "vanishes.txt" not in snap
    assert tmp_path / "vanishing-dir" / "inner.txt" not in snap
    assert snap.errors == ()


def test_unreadable_directory_is_reported_not_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    _write(locked / "x.txt", b"x")
    real_scandir = os.scandir

    def deny(path: str | os.PathLike[str]) -> object:
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(files.os, "scandir", deny)
    snap = snapshot([tmp_path])
    assert [p for p, _ in snap.errors] == [locked]


# -- scan_for_text -------------------------------------------------------------------------------------------


def test_scan_finds_utf8_and_utf16_copies(tmp_path: Path) -> None:
    u8 = _write(tmp_path / "History", b"\x00junk" + CANARY.encode() + b"tail")
    le = _write(tmp_path / "Sessions" / "Session_1", b"\x01\x02" + CANARY.encode("utf-16le") + b"\x00\x00")
    be = _write(tmp_path / "be.bin", b"\xff" + JA_CANARY.encode("utf-16be"))
    ja8 = _write(tmp_path / "Local Storage" / "leveldb" / "000003.log", b"k" + JA_CANARY.encode())
    hits = scan_for_text([tmp_path], [CANARY, JA_CANARY])
    assert set(hits) == {
        FileHit(u8, CANARY, "utf-8", 5),
        FileHit(le, CANARY, "utf-16le", 2),
        FileHit(be, JA_CANARY, "utf-16be", 1),
        FileHit(ja8, JA_CANARY, "utf-8", 1),
    }


def test_ascii_utf16le_is_not_double_reported_as_utf16be(tmp_path: Path) -> None:
    # "x" before the canary gives the byte pattern \x00C\x00A... one byte earlier: the BE shadow.
    path = _write(tmp_path / "Tabs_1", ("x" + CANARY + "y").encode("utf-16le"))
    assert scan_for_text([path], [CANARY]) == [FileHit(path, CANARY, "utf-16le", 2)]


def test_scan_finds_needle_across_chunk_boundary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "_CHUNK", 64)
    for start in range(40, 70):  # the needle straddles the 64-byte boundary at every possible offset
        data = b"." * start + CANARY.encode("utf-16le") + b"." * 100
        path = _write(tmp_path / f"f{start}", data)
        assert scan_for_text([path], [CANARY]) == [FileHit(path, CANARY, "utf-16le", start)], start


def test_scan_respects_max_bytes_per_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "big", b"." * 1000 + CANARY.encode())
    assert scan_for_text([path], [CANARY], max_bytes_per_file=1000) == []
    assert scan_for_text([path], [CANARY], max_bytes_per_file=1000 + len(CANARY)) != []


def test_no_hits_on_clean_dir(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "b.txt", b"nothing to see here " * 1000)
    _write(tmp_path / "c.bin", os.urandom(4096))
    _write(tmp_path / "d.txt", "別のテキスト".encode("utf-16le"))
    assert scan_for_text([tmp_path], [CANARY, JA_CANARY]) == []
    assert scan_for_text([tmp_path / "missing"], [CANARY]) == []


def test_scan_rejects_bad_needles(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        scan_for_text([tmp_path], [""])
    with pytest.raises(TypeError):
        scan_for_text([tmp_path], CANARY)  # type: ignore[arg-type]


def test_scan_is_fast_enough_for_a_browser_profile(tmp_path: Path) -> None:
    # ~40 MiB over a few hundred files, needle at the very end of the last file.
    block = os.urandom(1024 * 1024)
    for i in range(40):
        _write(tmp_path / "Cache" / f"{i:04x}_0", block)
    last = _write(tmp_path / "Cache" / "zzzz_0", block + CANARY.encode("utf-16le"))
    started = time.monotonic()
    hits = scan_for_text([tmp_path], [CANARY, JA_CANARY])
    elapsed = time.monotonic() - started
    assert hits == [FileHit(last, CANARY, "utf-16le", len(block))]
    assert elapsed < 5.0, f"scan took {elapsed:.2f}s"


# -- evidence ------------------------------------------------------------------------------------------------


def test_copy_as_evidence_never_overwrites(tmp_path: Path) -> None:
    src = _write(tmp_path / "src" / "report.pdf", b"%PDF-1")
    dest = tmp_path / "evidence"
    first = copy_as_evidence(src, dest)
    second = copy_as_evidence(src, dest)
    assert first == dest / "report.pdf"
    assert second == dest / "report.1.pdf"
    assert first.read_bytes() == second.read_bytes() == b"%PDF-1"
    assert first.stat().st_mtime_ns == src.stat().st_mtime_ns
