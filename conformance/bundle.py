"""Signed evidence bundle: a finished run folder as one ZIP that anyone can check offline.

The bundle holds ``manifest.json`` (what the run was and the SHA-256 and size of every file), ``manifest.sig``
(base64 of the Ed25519 signature over the exact bytes of ``manifest.json``) and the run folder itself under
``run/``. The signature covers the manifest and the manifest covers the files' contents, so
:func:`verify_bundle` can name exactly which file was changed, added or removed. A ZIP, because a
municipality's reviewer opens it on Windows without extra tools.

The signature says who made the bundle, not that the key is trustworthy: the verifier passes the public key
it trusts (received out of band), and a bundle signed by any other key fails as ``other-key``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import stat
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from conformance.errors import InputError

SCHEMA = "lgwan-conformance/bundle-v1"
DEFAULT_NAME = "evidence-bundle.zip"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
RUN_PREFIX = "run/"
KEY_FIX = "create one with `conformance keygen --out NAME`"
CHUNK = 1 << 20
# A temporary bundle being written: ".<target name>.<random>.partial" beside the target (see _write_atomically).
PARTIAL_PATTERN = re.compile(r"^\..+\.[0-9a-f]{16}\.partial$")

SIGNATURE_LABELS = {
    "valid": "有効 / valid",
    "invalid": "無効 / invalid",
    "other-key": "別の鍵 / signed by another key",
    "missing": "なし / missing",
}


@dataclass
class Verification:
    """What :func:`verify_bundle` found; ``ok`` only when the signature is valid and nothing differs."""

    ok: bool
    signature: str  # "valid" | "invalid" | "other-key" | "missing"
    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    fingerprint: str = ""  # of the public key the bundle was checked against


# --- keys -------------------------------------------------------------------------------------------------------


def key_fingerprint(public_key: Ed25519PublicKey) -> str:
    """``sha256:`` + the SHA-256 of the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _create_exclusive(path: Path, data: bytes, mode: int) -> None:
    # O_EXCL: never overwrite, not even a file that appeared since the caller checked. The mode is given to
    # open itself so a private key is never readable by others, not even between create and chmod.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    try:
        os.fchmod(fd, mode)  # the umask may only have removed bits; make the mode exactly what was asked
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def generate_keypair(private_path: Path, public_path: Path) -> str:
    """Write a new Ed25519 key pair (private PEM PKCS8 mode 0600, public PEM SPKI); return its fingerprint."""
    private_path, public_path = Path(private_path), Path(public_path)
    if private_path.absolute() == public_path.absolute():
        raise InputError(
            str(private_path), "", "the private and the public key cannot be the same file", "give two different paths"
        )
    # Check both before writing either, so a refusal leaves no half pair behind.
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise InputError(
                str(path),
                "",
                "already exists; a key is never overwritten",
                "choose another name, or move the old key away first if it is really no longer needed",
            )
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        _create_exclusive(private_path, private_pem, 0o600)
    except FileExistsError:
        raise InputError(
            str(private_path), "", "already exists; a key is never overwritten", "choose another name"
        ) from None
    except OSError as exc:
        raise InputError(
            str(private_path),
            "",
            f"cannot create the private key: {exc.strerror or exc}",
            "check that the folder exists and is writable",
        ) from None
    try:
        _create_exclusive(public_path, public_pem, 0o644)
    except OSError as exc:
        private_path.unlink(missing_ok=True)  # a private key without its public half is of no use
        problem = (
            "already exists; a key is never overwritten"
            if isinstance(exc, FileExistsError)
            else f"cannot create the public key: {exc.strerror or exc}"
        )
        raise InputError(str(public_path), "", problem, "choose another name or a writable folder") from None
    return key_fingerprint(key.public_key())


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(str(path), "", f"no such {what} file", KEY_FIX) from None
    except OSError as exc:
        raise InputError(
            str(path),
            "",
            f"cannot read the {what}: {exc.strerror or exc}",
            f"check the path and its permissions, or {KEY_FIX}",
        ) from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key of a PEM file, or an InputError naming the file."""
    data = _read_key_file(path, "private key")
    if b"PUBLIC KEY-----" in data and b"PRIVATE KEY-----" not in data:
        raise InputError(
            str(path),
            "",
            "this is a public key; signing needs the private key",
            f"give the private key file (the one without .pub), or {KEY_FIX}",
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise InputError(
            str(path), "", "the private key is encrypted with a password", f"use an unencrypted key, or {KEY_FIX}"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise InputError(str(path), "", "not a PEM private key", KEY_FIX) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(str(path), "", f"not an Ed25519 key ({type(key).__name__.removeprefix('_')})", KEY_FIX)
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key of a PEM file, or an InputError naming the file."""
    data = _read_key_file(path, "public key")
    if b"PRIVATE KEY-----" in data:
        # Never accept it silently: the private key must not travel with the bundle to its readers.
        raise InputError(
            str(path),
            "",
            "this is a private key; verifying needs the public key",
            "give the .pub file that `conformance keygen` wrote beside it",
        )
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise InputError(str(path), "", "not a PEM public key", KEY_FIX) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(str(path), "", f"not an Ed25519 key ({type(key).__name__.removeprefix('_')})", KEY_FIX)
    return key


# --- create -----------------------------------------------------------------------------------------------------


def _is_bundle_name(name: str) -> bool:
    return name == DEFAULT_NAME or name.endswith(".bundle.zip") or bool(PARTIAL_PATTERN.match(name))


def _run_files(root: Path, exclude: Path) -> list[tuple[str, Path]]:
    """Every regular file under root as (relative POSIX path, path), sorted by the relative path."""
    found: list[tuple[str, Path]] = []

    def check_link(path: Path) -> Path:
        target = path.resolve()
        if not target.is_relative_to(root):
            raise InputError(
                str(path),
                "",
                f"a symbolic link pointing outside the run folder (to {target})",
                "copy the file into the run folder instead of linking to it",
            )
        if not target.exists():
            raise InputError(str(path), "", "a broken symbolic link", "remove it or restore its target")
        return target

    for current, dirnames, filenames in os.walk(root):
        here = Path(current)
        for name in list(dirnames):
            if (here / name).is_symlink():
                check_link(here / name)
                dirnames.remove(name)  # its files are in the bundle under their real path already
        for name in filenames:
            path = here / name
            if _is_bundle_name(name):
                continue
            target = check_link(path) if path.is_symlink() else path
            if target == exclude:
                continue
            try:
                mode = target.stat().st_mode
            except OSError as exc:
                problem = f"cannot read: {exc.strerror or exc}"
                raise InputError(str(path), "", problem, "check its permissions") from None
            if not stat.S_ISREG(mode):
                continue  # a FIFO or socket holds no evidence, and reading a FIFO would block
            found.append((path.relative_to(root).as_posix(), path))
    found.sort(key=lambda item: item[0])
    return found


def _run_document(run_dir: Path) -> dict[str, Any]:
    doc_path = run_dir / "conformance.json"
    fix = "give the folder of one candidate that a finished `conformance run` wrote (it holds conformance.json)"
    if not run_dir.is_dir():
        raise InputError(str(run_dir), "", "not a folder", fix)
    try:
        doc = json.loads(doc_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(run_dir), "", "not a finished run folder: it has no conformance.json", fix) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(str(doc_path), "", f"cannot read the run's results: {exc}", fix) from None
    if not isinstance(doc, dict):
        raise InputError(str(doc_path), "", "not a run's results (not a JSON object)", fix)
    for key in ("suite", "candidate", "summary"):
        if not isinstance(doc.get(key), dict):
            raise InputError(str(doc_path), key, "missing; not a finished run's results", fix)
    if not isinstance(doc["summary"].get("exit_code"), int):
        raise InputError(str(doc_path), "summary.exit_code", "missing; not a finished run's results", fix)
    return doc


def _zip_info(name: str, when: dt.datetime) -> zipfile.ZipInfo:
    # Same timestamp and attributes on every machine, so the same run and manifest give the same archive.
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, so the mode below is read as one
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    return info


def _write_atomically(target: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call write(binary file) on a temporary file beside target, then rename it over target."""
    while True:
        partial = target.with_name(f".{target.name}.{secrets.token_hex(8)}.partial")
        try:
            # Mode 0666 as any other report file (the umask applies); O_EXCL: never clobber another writer's file.
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise InputError(
                str(target),
                "",
                f"cannot write the bundle: {exc.strerror or exc}",
                "check that the folder exists and is writable",
            ) from None
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def create_bundle(run_dir: Path, private_key: Path, bundle: Path | None = None) -> Path:
    """Sign run_dir into a ZIP (default ``run_dir/evidence-bundle.zip``) and return the bundle's path."""
    run_dir = Path(run_dir)
    doc = _run_document(run_dir)
    key = load_private_key(private_key)
    target = Path(bundle) if bundle is not None else run_dir / DEFAULT_NAME
    root = run_dir.resolve()
    files = _run_files(root, target.resolve())
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    suite, candidate = doc["suite"], doc["candidate"]
    public = key.public_key()
    manifest: dict[str, Any] = {
        "schema": SCHEMA,
        "created": now.isoformat(timespec="seconds"),
        "suite": {k: suite.get(k) for k in ("name", "version", "catalog_version", "catalog_sha256")},
        "candidate": {k: candidate.get(k) for k in ("name", "profile_sha256", "kind")},
        "exit_code": doc["summary"]["exit_code"],
        "public_key": {
            "algorithm": "Ed25519",
            "fingerprint": key_fingerprint(public),
            "raw_base64": base64.b64encode(
                public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            ).decode("ascii"),
        },
        "files": [],
    }

    def write(out: BinaryIO) -> None:
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            # The files first, hashed from the very bytes that go into the archive: a file changing while the
            # bundle is written cannot leave a manifest that disagrees with the archive.
            for rel, path in files:
                info = _zip_info(RUN_PREFIX + rel, now)
                digest, size = hashlib.sha256(), 0
                try:
                    info.file_size = path.stat().st_size  # lets zipfile choose ZIP64 for a file over 2 GiB
                    with path.open("rb") as src, zf.open(info, "w") as dst:
                        while chunk := src.read(CHUNK):
                            digest.update(chunk)
                            size += len(chunk)
                            dst.write(chunk)
                except OSError as exc:
                    raise InputError(
                        str(path), "", f"cannot read: {exc.strerror or exc}", "check its permissions"
                    ) from None
                manifest["files"].append({"path": RUN_PREFIX + rel, "sha256": digest.hexdigest(), "bytes": size})
            manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
            signature = base64.b64encode(key.sign(manifest_bytes)) + b"\n"
            zf.writestr(_zip_info(MANIFEST, now), manifest_bytes)
            zf.writestr(_zip_info(SIGNATURE, now), signature)

    _write_atomically(target, write)
    return target


# --- verify -----------------------------------------------------------------------------------------------------


def _stream_problem(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    """Why a deflated member's stream does not end exactly where the ZIP says it does, or None.

    zipfile stops inflating once it has the member's size in bytes, so a flipped bit in what follows (the
    final-block flag, the end-of-block code) would go unseen although any other tool may choke on it.
    """
    if info.compress_type != zipfile.ZIP_DEFLATED or zf.fp is None:
        return None
    fh = zf.fp
    fh.seek(info.header_offset)
    header = fh.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        return "its local header is missing"
    name_length, extra_length = int.from_bytes(header[26:28], "little"), int.from_bytes(header[28:30], "little")
    fh.seek(info.header_offset + 30 + name_length + extra_length)
    inflate, left = zlib.decompressobj(-zlib.MAX_WBITS), info.compress_size
    try:
        while left > 0:
            chunk = fh.read(min(CHUNK, left))
            if not chunk:
                return "it is truncated"
            left -= len(chunk)
            while not inflate.eof:
                # Bounded output: a small stream may inflate to gigabytes, and only its end matters here.
                out = inflate.decompress(chunk, CHUNK)
                chunk = inflate.unconsumed_tail
                if not chunk and len(out) < CHUNK:
                    break
            if inflate.eof and (inflate.unused_data or left):
                return "bytes follow the end of its compressed stream"
    except zlib.error as exc:
        return f"its compressed stream is damaged ({exc})"
    return None if inflate.eof else "its compressed stream does not end where the ZIP says it does"


def _open_error(exc: BaseException) -> ValueError:
    return ValueError(f"{type(exc).__name__}: {exc}")


# BadZipFile: CRC mismatch or local header disagreeing with the directory; zlib.error/EOFError: a damaged or
# truncated deflate stream; NotImplementedError/RuntimeError: a method or encryption this module never writes.
READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError)


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[str, int]:
    """SHA-256 and size of a member's content; raises ValueError naming the damage if it cannot be read."""
    digest, size = hashlib.sha256(), 0
    try:
        with zf.open(info) as src:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
        problem = _stream_problem(zf, info)
    except READ_ERRORS as exc:
        raise _open_error(exc) from None
    if problem:
        raise ValueError(problem)
    return digest.hexdigest(), size


def _read_small(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int = 16 << 20) -> bytes:
    if info.file_size > limit:
        raise ValueError(f"{info.file_size} bytes, larger than any manifest")
    try:
        with zf.open(info) as src:
            data = src.read()
        problem = _stream_problem(zf, info)
    except READ_ERRORS as exc:
        raise _open_error(exc) from None
    if problem:
        raise ValueError(problem)
    return data


def _manifest_entries(manifest: dict[str, Any], problems: list[str]) -> dict[str, dict[str, Any]]:
    """The manifest's files by path; malformed entries become problems."""
    entries: dict[str, dict[str, Any]] = {}
    files = manifest.get("files")
    if not isinstance(files, list):
        problems.append("manifest.json に files 一覧がありません / manifest.json has no files list")
        return entries
    for index, entry in enumerate(files):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and isinstance(entry.get("sha256"), str)
            and isinstance(entry.get("bytes"), int)
        ):
            problems.append(f"manifest.json の files[{index}] が不正です / manifest.json files[{index}] is malformed")
            continue
        path = entry["path"]
        if not path.startswith(RUN_PREFIX):
            problems.append(f"run/ の外のファイル / manifest.json files[{index}] is outside run/: {path}")
        if path in entries:
            problems.append(f"manifest.json に重複 / listed twice in manifest.json: {path}")
        entries[path] = entry
    return entries


def _check_signature(
    v: Verification, public_key: Ed25519PublicKey, manifest_bytes: bytes | None, signature_b64: bytes | None
) -> None:
    if signature_b64 is None:
        v.signature = "missing"
        v.problems.append("manifest.sig がありません / manifest.sig is missing: the bundle is not signed")
        return
    if manifest_bytes is None:
        v.signature = "invalid"  # nothing intact to check it against; the reason is already a problem
        return
    try:
        signature = base64.b64decode(signature_b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        v.signature = "invalid"
        v.problems.append("manifest.sig が base64 ではありません / manifest.sig is not base64")
        return
    try:
        public_key.verify(signature, manifest_bytes)
        v.signature = "valid"
    except InvalidSignature:
        v.signature = "invalid"
    claimed = v.manifest.get("public_key") if isinstance(v.manifest, dict) else None
    claimed_fp = claimed.get("fingerprint") if isinstance(claimed, dict) else None
    if v.signature == "valid":
        if claimed_fp != v.fingerprint:
            v.problems.append(
                f"manifest.json が別の鍵を名乗っています / manifest.json names the key {claimed_fp}, "
                f"but it is signed by the given key {v.fingerprint}"
            )
        return
    # Not our key's signature: tell "signed by someone else" from "edited after signing". The key named in
    # the manifest is only believed if it really made this signature over these bytes.
    other: Ed25519PublicKey | None = None
    raw_b64 = claimed.get("raw_base64") if isinstance(claimed, dict) else None
    try:
        other = Ed25519PublicKey.from_public_bytes(base64.b64decode(str(raw_b64), validate=True))
        other.verify(signature, manifest_bytes)
    except (binascii.Error, ValueError, InvalidSignature):
        other = None  # the manifest's own key does not explain the signature either
    if other is not None and key_fingerprint(other) != v.fingerprint:
        v.signature = "other-key"
        v.problems.append(
            f"別の鍵で署名されています / signed by another key: the bundle by {key_fingerprint(other)}, "
            f"the given public key is {v.fingerprint}"
        )
    else:
        names = (
            f" (it names the key {claimed_fp}, the given one is {v.fingerprint})" if claimed_fp != v.fingerprint else ""
        )
        v.problems.append(
            "署名が manifest.json と一致しません / the signature does not match manifest.json: "
            f"it was edited after signing, or the signature is damaged{names}"
        )


def verify_bundle(bundle: Path, public_key: Path) -> Verification:
    """Check a bundle against a trusted public key, offline; name every changed, added or missing file."""
    bundle = Path(bundle)
    fix = "give the evidence-bundle.zip that `conformance bundle` wrote"
    try:
        with bundle.open("rb") as fh:
            head = fh.read(4)
    except FileNotFoundError:
        raise InputError(str(bundle), "", "no such file", fix) from None
    except OSError as exc:
        raise InputError(str(bundle), "", f"cannot read: {exc.strerror or exc}", fix) from None
    # A ZIP starts with a local header (or, empty, the end record); anything else is the wrong file, while a
    # ZIP whose directory is broken is a damaged bundle, which is a verification result rather than bad input.
    if head[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise InputError(str(bundle), "", "not a ZIP file", fix)
    key = load_public_key(public_key)
    v = Verification(ok=False, signature="missing", fingerprint=key_fingerprint(key))
    try:
        zf = zipfile.ZipFile(bundle)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        v.problems.append(
            f"ZIP が壊れています（中央ディレクトリを読めません）/ the ZIP is damaged, its central "
            f"directory cannot be read: {exc}"
        )
        return v
    with zf:
        members: dict[str, list[zipfile.ZipInfo]] = {}
        for info in zf.infolist():
            if info.is_dir() and info.file_size == 0:
                continue  # a folder entry, as some re-zipping tools add, holds no content
            members.setdefault(info.filename, []).append(info)

        manifest_bytes: bytes | None = None
        if MANIFEST not in members:
            v.problems.append("manifest.json がありません / manifest.json is missing")
        else:
            try:
                manifest_bytes = _read_small(zf, members[MANIFEST][-1])
            except ValueError as exc:
                v.problems.append(f"manifest.json を読めません / manifest.json cannot be read: {exc}")
        if manifest_bytes is not None:
            try:
                manifest = json.loads(manifest_bytes.decode("utf-8"))
                if not isinstance(manifest, dict):
                    raise ValueError("not a JSON object")
                v.manifest = manifest
            except ValueError as exc:
                v.problems.append(f"manifest.json が JSON ではありません / manifest.json is not valid JSON: {exc}")
        if v.manifest is not None and v.manifest.get("schema") != SCHEMA:
            v.problems.append(f"未知の形式 / unknown schema {v.manifest.get('schema')!r} (expected {SCHEMA})")

        signature_b64: bytes | None = None
        if SIGNATURE in members:
            try:
                signature_b64 = _read_small(zf, members[SIGNATURE][-1], limit=4096)
            except ValueError as exc:
                signature_b64 = b"!"  # present but damaged: invalid rather than missing
                v.problems.append(f"manifest.sig を読めません / manifest.sig cannot be read: {exc}")
        _check_signature(v, key, manifest_bytes, signature_b64)

        for name in (MANIFEST, SIGNATURE):
            if len(members.get(name, [])) > 1:
                v.problems.append(f"ZIP 内に重複 / appears {len(members[name])} times in the ZIP: {name}")

        if v.manifest is not None:
            entries = _manifest_entries(v.manifest, v.problems)
            for name, infos in sorted(members.items()):
                if name in (MANIFEST, SIGNATURE):
                    continue
                entry = entries.get(name)
                if entry is None:
                    v.added.append(name)
                    continue
                if len(infos) > 1:
                    # Extractors disagree on which copy wins, so a second copy is a change whatever it holds.
                    v.changed.append(name)
                    v.problems.append(f"ZIP 内に重複 / appears {len(infos)} times in the ZIP: {name}")
                    continue
                try:
                    sha256, size = _read_member(zf, infos[0])
                except ValueError as exc:
                    v.changed.append(name)
                    v.problems.append(f"読めません（破損）/ cannot be read, damaged: {name}: {exc}")
                    continue
                if sha256 != entry["sha256"] or size != entry["bytes"]:
                    v.changed.append(name)
            v.missing = sorted(path for path in entries if path not in members)

    v.ok = v.signature == "valid" and not (v.changed or v.added or v.missing or v.problems)
    return v


def _shown(text: str) -> str:
    # Member names come from the archive: a newline in one must not forge a line of the result.
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def render_verification(v: Verification) -> str:
    """The result for a person, one bilingual line per finding."""
    if v.ok:
        count = len(v.manifest.get("files", [])) if v.manifest else 0
        return f"検証成功 / verified: {count} files, signed by {v.fingerprint}"
    lines = ["検証失敗 / verification FAILED", f"署名 / signature: {SIGNATURE_LABELS.get(v.signature, v.signature)}"]
    lines += [f"改ざん / changed: {_shown(path)}" for path in v.changed]
    lines += [f"追加 / added: {_shown(path)}" for path in v.added]
    lines += [f"欠落 / missing: {_shown(path)}" for path in v.missing]
    lines += [f"問題 / problem: {_shown(text)}" for text in v.problems]
    return "\n".join(lines)
