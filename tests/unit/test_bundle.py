"""The signed evidence bundle: keys are created private and never overwritten, a bundle verifies offline, and
every kind of tampering (a file's content, the archive's bytes, an added or removed file, the manifest, the
key) fails verification naming exactly what differs."""

from __future__ import annotations

import base64
import json
import os
import stat
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from conformance.bundle import (
    DEFAULT_NAME,
    SCHEMA,
    Verification,
    create_bundle,
    generate_keypair,
    load_private_key,
    load_public_key,
    render_verification,
    verify_bundle,
)
from conformance.errors import InputError

RESULTS = {
    "schema": "lgwan-conformance/result-v1",
    "suite": {"name": "lgwan-conformance", "version": "0.1.0", "catalog_version": "2026.12.2", "catalog_sha256": "ab"},
    "candidate": {"name": "fake-browser", "profile_sha256": "cd", "kind": "secure-browser", "vendor": "ACME"},
    "summary": {"counts": {"pass": 1}, "exit_code": 1},
}
# The fake run folder; every file here is tampered with in turn. The empty file and the binary one cover the
# edge cases of deflate (an empty stream, bytes that do not compress).
FILES: dict[str, bytes] = {
    "conformance.json": json.dumps(RESULTS, indent=2).encode(),
    "report.html": "<html><body>適合性試験 / conformance report</body></html>\n".encode(),
    "junit.xml": b'<?xml version="1.0"?>\n<testsuite tests="1"/>\n',
    "evidence/CLIP-01/clipboard.txt": b"nothing crossed the boundary\n" * 20,
    "evidence/DL-01/screenshot.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
    "evidence/empty.log": b"",
    "allure-results/個人情報.json": '{"name": "マイナンバー"}'.encode(),
}
MEMBERS = sorted("run/" + name for name in FILES)


def make_run(folder: Path) -> Path:
    for name, data in FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    # Key generation is cheap, but one pair for the module keeps each tamper test down to one bundle.
    folder = tmp_path_factory.mktemp("keys")
    generate_keypair(folder / "signer", folder / "signer.pub")
    return folder / "signer", folder / "signer.pub"


@pytest.fixture
def bundle(tmp_path: Path, keys: tuple[Path, Path]) -> Path:
    return create_bundle(make_run(tmp_path / "run"), keys[0])


def rewrite(source: Path, target: Path, replace: dict[str, bytes | None], add: dict[str, bytes] | None = None) -> Path:
    """Copy a bundle member by member, replacing (or with None dropping) some and appending others."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = replace.get(info.filename, src.read(info))
            if data is not None:
                dst.writestr(info, data)
        for name, data in (add or {}).items():
            dst.writestr(name, data)
    return target


def assert_only(
    v: Verification, *, changed: tuple[str, ...] = (), added: tuple[str, ...] = (), missing: tuple[str, ...] = ()
) -> None:
    """Verification failed, naming exactly these files and no others."""
    assert (v.ok, v.changed, v.added, v.missing) == (False, list(changed), list(added), list(missing))


# --- keys -------------------------------------------------------------------------------------------------------


def test_keygen_writes_a_private_key_only_its_owner_can_read(tmp_path: Path) -> None:
    fingerprint = generate_keypair(tmp_path / "k", tmp_path / "k.pub")
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600
    assert (tmp_path / "k").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert (tmp_path / "k.pub").read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert fingerprint.startswith("sha256:") and len(fingerprint) == len("sha256:") + 64
    load_private_key(tmp_path / "k")
    load_public_key(tmp_path / "k.pub")


def test_keygen_gives_a_private_key_mode_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        generate_keypair(tmp_path / "k", tmp_path / "k.pub")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600


@pytest.mark.parametrize("existing", ["k", "k.pub"])
def test_keygen_never_overwrites_a_key(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_bytes(b"old key")
    with pytest.raises(InputError) as err:
        generate_keypair(tmp_path / "k", tmp_path / "k.pub")
    assert err.value.file == str(tmp_path / existing)
    assert (tmp_path / existing).read_bytes() == b"old key"
    # Refused before anything was written: no half pair is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing]


@pytest.mark.parametrize(
    ("loader", "content", "problem"),
    [
        (load_private_key, None, "no such"),
        (load_public_key, None, "no such"),
        (load_private_key, b"-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n", "not a PEM"),
        (load_public_key, b"garbage", "not a PEM"),
        (load_private_key, "public", "public key"),
        (load_public_key, "private", "private key"),
    ],
    ids=[
        "private-missing",
        "public-missing",
        "private-malformed",
        "public-malformed",
        "public-as-private",
        "private-as-public",
    ],
)
def test_a_bad_key_file_is_an_input_error_naming_it(
    tmp_path: Path, keys: tuple[Path, Path], loader: Callable[[Path], object], content: bytes | str | None, problem: str
) -> None:
    path = tmp_path / "key.pem"
    if content == "public":
        path.write_bytes(keys[1].read_bytes())
    elif content == "private":
        path.write_bytes(keys[0].read_bytes())
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(InputError) as err:
        loader(path)
    assert err.value.file == str(path)
    assert problem in err.value.problem
    assert err.value.fix


def test_a_key_of_another_algorithm_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "ec.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    with pytest.raises(InputError, match="not an Ed25519 key") as err:
        load_private_key(path)
    assert err.value.file == str(path)


# --- create and round trip --------------------------------------------------------------------------------------


def test_round_trip_verifies(bundle: Path, keys: tuple[Path, Path]) -> None:
    assert bundle.name == DEFAULT_NAME
    v = verify_bundle(bundle, keys[1])
    assert v.ok, render_verification(v)
    assert (v.signature, v.changed, v.added, v.missing, v.problems) == ("valid", [], [], [], [])
    text = render_verification(v)
    assert text.startswith(f"検証成功 / verified: {len(FILES)} files, signed by sha256:")
    assert v.fingerprint in text


def test_bundle_layout_and_manifest(bundle: Path, keys: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        manifest_bytes = zf.read("manifest.json")
        assert zf.read("run/evidence/DL-01/screenshot.png") == FILES["evidence/DL-01/screenshot.png"]
        assert base64.b64decode(zf.read("manifest.sig"), validate=False)
    assert names == [*MEMBERS, "manifest.json", "manifest.sig"]
    manifest = json.loads(manifest_bytes)
    # The exact bytes that were signed are the canonical serialisation, so anyone can re-derive them.
    assert manifest_bytes == (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    assert manifest["schema"] == SCHEMA
    assert manifest["suite"] == RESULTS["suite"]
    assert manifest["candidate"] == {"name": "fake-browser", "profile_sha256": "cd", "kind": "secure-browser"}
    assert manifest["exit_code"] == 1
    assert manifest["public_key"]["algorithm"] == "Ed25519"
    assert manifest["public_key"]["fingerprint"] == verify_bundle(bundle, keys[1]).fingerprint
    assert manifest["created"].endswith("+00:00") and len(manifest["created"]) == len("2026-12-05T05:24:50+00:00")
    assert [f["path"] for f in manifest["files"]] == MEMBERS
    assert {f["path"]: f["bytes"] for f in manifest["files"]} == {"run/" + k: len(v) for k, v in FILES.items()}


def test_bundle_skips_other_bundles_and_refuses_links_out(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    run = make_run(tmp_path / "run")
    (run / "old.bundle.zip").write_bytes(b"PK")
    (run / "evidence" / DEFAULT_NAME).write_bytes(b"PK")
    (run / "evidence" / "inside").symlink_to(run / "junit.xml")
    target = create_bundle(run, keys[0], run / "signed.zip")
    with zipfile.ZipFile(target) as zf:
        names = zf.namelist()
    assert names == [*sorted([*MEMBERS, "run/evidence/inside"]), "manifest.json", "manifest.sig"]
    assert verify_bundle(target, keys[1]).ok
    # Bundling the folder again leaves the earlier bundles out: they are known by name (a bundle under any
    # other name is only left out of itself, hence the unlink).
    target.unlink()
    create_bundle(run, keys[0], run / "first.bundle.zip")
    create_bundle(run, keys[0])
    again = create_bundle(run, keys[0])  # over the previous evidence-bundle.zip, which it must not contain
    with zipfile.ZipFile(again) as zf:
        assert not [name for name in zf.namelist() if name.endswith(".zip")]
    assert verify_bundle(again, keys[1]).ok

    (tmp_path / "secret").write_text("outside")
    (run / "evidence" / "outside").symlink_to(tmp_path / "secret")
    with pytest.raises(InputError, match="outside the run folder") as err:
        create_bundle(run, keys[0], tmp_path / "b.zip")
    assert err.value.file == str(run / "evidence" / "outside")
    assert not (tmp_path / "b.zip").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_a_folder_without_results_is_not_a_run(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    (tmp_path / "run").mkdir()
    with pytest.raises(InputError, match="not a finished run folder") as err:
        create_bundle(tmp_path / "run", keys[0])
    assert err.value.file == str(tmp_path / "run")
    assert list((tmp_path / "run").iterdir()) == []


def test_a_failed_write_leaves_nothing(
    tmp_path: Path, keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = make_run(tmp_path / "run")
    target = tmp_path / "out.zip"
    target.write_bytes(b"the previous bundle")

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("conformance.bundle.os.replace", fail)
    with pytest.raises(OSError):
        create_bundle(run, keys[0], target)
    assert target.read_bytes() == b"the previous bundle"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zip", "run"]


# --- tampering --------------------------------------------------------------------------------------------------


def flip_one_byte(data: bytes) -> bytes:
    if not data:
        return b"\x00"  # an empty file cannot have a byte changed; one byte appears instead
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]


@pytest.mark.parametrize("member", MEMBERS)
def test_a_changed_byte_in_any_file_names_that_file(
    tmp_path: Path, bundle: Path, keys: tuple[Path, Path], member: str
) -> None:
    with zipfile.ZipFile(bundle) as zf:
        original = zf.read(member)
    tampered = rewrite(bundle, tmp_path / "tampered.zip", {member: flip_one_byte(original)})
    v = verify_bundle(tampered, keys[1])
    assert_only(v, changed=(member,))
    assert (v.signature, v.problems) == ("valid", [])
    assert render_verification(v).splitlines()[0] == "検証失敗 / verification FAILED"
    assert f"改ざん / changed: {member}" in render_verification(v).splitlines()


def data_offset(archive: bytes, info: zipfile.ZipInfo) -> int:
    """Where a member's compressed bytes start: after its local header, whose extra field may differ."""
    name_length, extra_length = struct.unpack_from("<HH", archive, info.header_offset + 26)
    return info.header_offset + 30 + name_length + extra_length


def flip_in_archive(bundle: Path, target: Path, member: str, where: str, mask: int) -> Path:
    archive = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(bundle) as zf:
        info = zf.getinfo(member)
    archive[data_offset(archive, info) + (info.compress_size // 2 if where == "middle" else 0)] ^= mask
    target.write_bytes(archive)
    return target


@pytest.mark.parametrize(
    ("where", "mask"),
    # The middle: the content changes, zipfile's CRC or inflate fails. The first bit: a deflate stream's
    # final-block flag; cleared, the content is intact but the stream never ends, which zipfile alone misses.
    [("middle", 0xFF), ("first-bit", 0x01)],
)
@pytest.mark.parametrize("member", MEMBERS)
def test_a_flipped_byte_in_the_archive_names_that_file(
    tmp_path: Path, bundle: Path, keys: tuple[Path, Path], member: str, where: str, mask: int
) -> None:
    v = verify_bundle(flip_in_archive(bundle, tmp_path / "damaged.zip", member, where, mask), keys[1])
    assert_only(v, changed=(member,))
    assert v.signature == "valid"
    assert len(v.problems) == 1 and member in v.problems[0]


@pytest.mark.parametrize("member", ["manifest.json", "manifest.sig"])
def test_a_flipped_byte_in_the_signed_part_fails(
    tmp_path: Path, bundle: Path, keys: tuple[Path, Path], member: str
) -> None:
    v = verify_bundle(flip_in_archive(bundle, tmp_path / "damaged.zip", member, "middle", 0xFF), keys[1])
    assert_only(v)
    assert v.signature == "invalid"
    assert any(f"{member} cannot be read" in p for p in v.problems)


def test_an_added_file_is_named(tmp_path: Path, bundle: Path, keys: tuple[Path, Path]) -> None:
    tampered = rewrite(bundle, tmp_path / "t.zip", {}, add={"run/evidence/extra.txt": b"planted"})
    v = verify_bundle(tampered, keys[1])
    assert_only(v, added=("run/evidence/extra.txt",))
    assert "追加 / added: run/evidence/extra.txt" in render_verification(v)


def test_a_member_name_cannot_forge_a_line_of_the_result(tmp_path: Path, bundle: Path, keys: tuple[Path, Path]) -> None:
    forged = "run/x\n検証成功 / verified: 7 files"
    v = verify_bundle(rewrite(bundle, tmp_path / "t.zip", {}, add={forged: b"planted"}), keys[1])
    assert_only(v, added=(forged,))
    assert "追加 / added: run/x\\n検証成功 / verified: 7 files" in render_verification(v).splitlines()


def test_a_removed_file_is_named(tmp_path: Path, bundle: Path, keys: tuple[Path, Path]) -> None:
    tampered = rewrite(bundle, tmp_path / "t.zip", {"run/junit.xml": None})
    v = verify_bundle(tampered, keys[1])
    assert_only(v, missing=("run/junit.xml",))
    assert "欠落 / missing: run/junit.xml" in render_verification(v)


def test_a_duplicated_member_counts_as_changed(tmp_path: Path, bundle: Path, keys: tuple[Path, Path]) -> None:
    # Extractors disagree on which of two same-named members wins, so even an identical copy is a change.
    with zipfile.ZipFile(bundle) as zf:
        data = zf.read("run/report.html")
    with pytest.warns(UserWarning, match="Duplicate name"):
        tampered = rewrite(bundle, tmp_path / "t.zip", {}, add={"run/report.html": data})
    assert_only(verify_bundle(tampered, keys[1]), changed=("run/report.html",))


def test_an_edited_manifest_fails_the_signature(tmp_path: Path, bundle: Path, keys: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(bundle) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    manifest["exit_code"] = 0  # the classic forgery: turn a failed run into a passed one
    edited = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    v = verify_bundle(rewrite(bundle, tmp_path / "t.zip", {"manifest.json": edited}), keys[1])
    assert_only(v)
    assert v.signature == "invalid"
    assert any("does not match manifest.json" in p for p in v.problems)
    assert "署名 / signature: 無効 / invalid" in render_verification(v)


def test_a_bundle_signed_by_another_key_names_both_keys(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    other = generate_keypair(tmp_path / "other", tmp_path / "other.pub")
    signed = create_bundle(make_run(tmp_path / "run"), tmp_path / "other")
    v = verify_bundle(signed, keys[1])
    assert_only(v)
    assert v.signature == "other-key"
    assert other != v.fingerprint
    assert any(other in p and v.fingerprint in p for p in v.problems)


@pytest.mark.parametrize(
    ("replacement", "signature"),
    [(None, "missing"), (b"not base64 at all!", "invalid"), (base64.b64encode(bytes(64)), "invalid")],
    ids=["removed", "not-base64", "wrong"],
)
def test_a_missing_or_broken_signature_fails(
    tmp_path: Path, bundle: Path, keys: tuple[Path, Path], replacement: bytes | None, signature: str
) -> None:
    v = verify_bundle(rewrite(bundle, tmp_path / "t.zip", {"manifest.sig": replacement}), keys[1])
    assert_only(v)
    assert v.signature == signature
    assert v.problems


def test_a_broken_central_directory_is_a_failed_verification(
    tmp_path: Path, bundle: Path, keys: tuple[Path, Path]
) -> None:
    archive = bundle.read_bytes()
    # The end record (the last 22 bytes: the bundle has no comment) gives where the central directory starts.
    (start,) = struct.unpack_from("<L", archive, len(archive) - 22 + 16)
    assert archive[start : start + 4] == b"PK\x01\x02"
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(archive[:start] + b"XXXX" + archive[start + 4 :])
    v = verify_bundle(damaged, keys[1])
    assert not v.ok
    assert v.manifest is None
    assert any("central directory" in p for p in v.problems)
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive[: len(archive) // 2])
    v = verify_bundle(truncated, keys[1])
    assert not v.ok and any("damaged" in p for p in v.problems)


@pytest.mark.parametrize("content", [None, b"", b"just some text, not a zip\n"], ids=["missing", "empty", "text"])
def test_not_a_bundle_is_an_input_error(tmp_path: Path, keys: tuple[Path, Path], content: bytes | None) -> None:
    path = tmp_path / "bundle.zip"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as err:
        verify_bundle(path, keys[1])
    assert err.value.file == str(path)


def test_verify_names_a_bad_public_key(tmp_path: Path, bundle: Path) -> None:
    path = tmp_path / "nope.pub"
    with pytest.raises(InputError, match="conformance keygen") as err:
        verify_bundle(bundle, path)
    assert err.value.file == str(path)
