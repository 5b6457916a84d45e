"""File-system oracle: what appeared, changed or vanished, and where a canary is left on disk.

Pure Python, no external tools. Used for downloads, "Save as PDF" directories and cache residue in
browser profiles. The walk follows no symlinks, skips sockets/fifos/devices and tolerates files that
vanish mid-walk (a running browser constantly rotates its files); unreadable directories are recorded
in ``errors`` rather than silently ignored.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

MiB = 1024 * 1024
DEFAULT_MAX_BYTES = 64 * MiB
_CHUNK = 8 * MiB
ENCODINGS: tuple[str, ...] = ("utf-8", "utf-16le", "utf-16be")

PathLike = str | os.PathLike[str]


class FileStat(NamedTuple):
    size: int
    mtime_ns: int
    inode: int


@dataclass(frozen=True, eq=False)  # Mapping's __eq__; dict fields are unhashable
class FileSnapshot(Mapping[Path, FileStat]):
    """Mapping path -> (size, mtime_ns, inode) of the regular files and symlinks below some roots."""

    roots: tuple[Path, ...]
    entries: Mapping[Path, FileStat]
    errors: tuple[tuple[Path, str], ...] = ()

    def __getitem__(self, key: Path) -> FileStat:
        return self.entries[key]

    def __iter__(self) -> Iterator[Path]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


@dataclass(frozen=True)
class FileDiff:
    created: list[Path] = field(default_factory=list)
    modified: list[Path] = field(default_factory=list)
    deleted: list[Path] = field(default_factory=list)

    @property
    def changed(self) -> list[Path]:
        """Created or modified: the files whose content may be new."""
        return sorted([*self.created, *self.modified])

    def __bool__(self) -> bool:
        return bool(self.created or self.modified or self.deleted)


class FileHit(NamedTuple):
    path: Path
    needle: str
    encoding: str
    offset: int


def _walk(root: Path, entries: dict[Path, FileStat], errors: list[tuple[Path, str]]) -> None:
    try:
        st = root.lstat()
    except FileNotFoundError:
        return  # a root that does not exist (yet) simply holds no files
    except OSError as exc:
        errors.append((root, str(exc)))
        return
    if not stat.S_ISDIR(st.st_mode):
        if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
            entries[root] = FileStat(st.st_size, st.st_mtime_ns, st.st_ino)
        return
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            iterator = os.scandir(directory)
        except FileNotFoundError:
            continue  # vanished between listing and descending
        except OSError as exc:
            errors.append((directory, str(exc)))
            continue
        with iterator:
            for entry in iterator:
                try:
                    est = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # vanished mid-walk
                except OSError as exc:
                    errors.append((Path(entry.path), str(exc)))
                    continue
                mode = est.st_mode
                path = Path(entry.path)
                if stat.S_ISDIR(mode):
                    stack.append(path)
                elif stat.S_ISREG(mode) or stat.S_ISLNK(mode):  # sockets, fifos, devices: skipped
                    entries[path] = FileStat(est.st_size, est.st_mtime_ns, est.st_ino)


def snapshot(roots: Iterable[PathLike]) -> FileSnapshot:
    """Record every regular file and symlink (not followed) below ``roots``."""
    root_paths = tuple(Path(r) for r in roots)
    entries: dict[Path, FileStat] = {}
    errors: list[tuple[Path, str]] = []
    for root in root_paths:
        _walk(root, entries, errors)
    return FileSnapshot(roots=root_paths, entries=entries, errors=tuple(errors))


def diff(before: Mapping[Path, FileStat], after: Mapping[Path, FileStat]) -> FileDiff:
    """Created / modified (size, mtime or inode differ) / deleted paths, each sorted."""
    created = sorted(p for p in after if p not in before)
    deleted = sorted(p for p in before if p not in after)
    modified = sorted(p for p in after if p in before and after[p] != before[p])
    return FileDiff(created=created, modified=modified, deleted=deleted)


def changes_since(before: FileSnapshot) -> FileDiff:
    """Diff of ``before`` against a fresh snapshot of the same roots."""
    return diff(before, snapshot(before.roots))


def new_files(before: FileSnapshot, suffixes: Sequence[str] = ()) -> list[Path]:
    """Created or modified files since ``before`` (e.g. a "Save as PDF" or download directory).

    ``suffixes`` (case-insensitive, e.g. ``(".pdf",)``) filters by file name; empty means all.
    """
    wanted = tuple(s.lower() for s in suffixes)
    return [p for p in changes_since(before).changed if not wanted or p.name.lower().endswith(wanted)]


def needle_patterns(needle: str, encodings: Sequence[str] = ENCODINGS) -> list[tuple[str, bytes]]:
    """(encoding, bytes) pairs searched for one needle; UTF-16 without BOM, as stored by Chromium."""
    if not needle:
        raise ValueError("empty needle")
    return [(enc, needle.encode(enc)) for enc in encodings]


def _is_shadow(buf: bytes, index: int, encoding: str, patterns: Mapping[str, bytes]) -> bool:
    """An ASCII needle in UTF-16LE also matches the UTF-16BE pattern one byte earlier; report it once.

    The ambiguity is inherent at byte level; LE wins because it is what Chromium and x86 write.
    """
    if encoding != "utf-16be":
        return False
    le = patterns.get("utf-16le")
    return le is not None and buf[index + 1 : index + 1 + len(le)] == le


def _scan_file(path: Path, needles: Sequence[str], max_bytes: int) -> list[FileHit]:
    per_needle = {n: dict(needle_patterns(n)) for n in needles}
    pending = {(n, enc) for n in needles for enc in per_needle[n]}
    longest = max(len(p) for pats in per_needle.values() for p in pats.values())
    overlap = longest + 1  # +1: the shadow check looks one byte past a match
    hits: list[FileHit] = []
    try:
        handle = path.open("rb")
    except (FileNotFoundError, IsADirectoryError):
        return hits  # vanished since it was listed
    with handle:
        carry = b""
        consumed = 0
        while pending and consumed < max_bytes:
            want = min(_CHUNK, max_bytes - consumed)
            data = handle.read(want)
            if not data:
                break
            buf = carry + data
            base = consumed - len(carry)
            consumed += len(data)
            at_end = len(data) < want or consumed >= max_bytes
            for needle, enc in sorted(pending):
                pattern = per_needle[needle][enc]
                start = 0
                while True:
                    index = buf.find(pattern, start)
                    if index < 0:
                        break
                    if not at_end and index + len(pattern) + 1 > len(buf):
                        break  # too close to the chunk end to run the shadow check: next chunk decides
                    if _is_shadow(buf, index, enc, per_needle[needle]):
                        start = index + 1
                        continue
                    hits.append(FileHit(path, needle, enc, base + index))
                    pending.discard((needle, enc))
                    break
            carry = buf[-overlap:]
    return hits


def _iter_files(paths_or_roots: Iterable[PathLike]) -> Iterator[Path]:
    seen: set[Path] = set()
    for item in paths_or_roots:
        for path in snapshot([item]).entries:
            if path in seen:
                continue
            seen.add(path)
            try:
                if stat.S_ISREG(path.lstat().st_mode):  # symlinks are never followed
                    yield path
            except FileNotFoundError:
                continue


def scan_for_text(
    paths_or_roots: Iterable[PathLike], needles: Sequence[str], max_bytes_per_file: int = DEFAULT_MAX_BYTES
) -> list[FileHit]:
    """First offset of each needle in each file, as UTF-8, UTF-16LE and UTF-16BE bytes.

    Files are read in chunks with overlap (not mmap: a file truncated by a running browser would turn
    into SIGBUS). Only the first ``max_bytes_per_file`` bytes of each file are searched.
    """
    if isinstance(needles, str):
        raise TypeError("needles must be a sequence of strings, not a single string")
    if not needles:
        return []
    for needle in needles:
        needle_patterns(needle)  # validates (empty needle -> ValueError)
    hits: list[FileHit] = []
    for path in _iter_files(paths_or_roots):
        hits.extend(_scan_file(path, needles, max_bytes_per_file))
    return hits


def copy_as_evidence(path: PathLike, dest_dir: PathLike) -> Path:
    """Copy ``path`` (metadata kept) into ``dest_dir`` under a name that overwrites nothing."""
    source = Path(path)
    target_dir = Path(dest_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / source.name
    counter = 1
    while target.exists() or target.is_symlink():
        target = target_dir / f"{source.stem}.{counter}{source.suffix}"
        counter += 1
    shutil.copy2(source, target, follow_symlinks=False)
    return target
