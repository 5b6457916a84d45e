"""``conformance``: the command line. It composes everything and sets exit codes CI can use.

    conformance run [--candidate PROFILE ...] [--out DIR] [--requirement ID ...] [-k EXPR]
                    [--waivers TOML] [--sign-key KEY] [--artifacts LIST] [--repeat N] [-n N|auto]
                                                                       exit 0 / 1 / 3, 2 on bad input,
                                                                       4 when --repeat saw a verdict or a case differ
    conformance keygen --out NAME                                      NAME.key (0600) and NAME.pub
    conformance sign RUN --key KEY                                     RUN/evidence-bundle.zip
    conformance verify BUNDLE --pubkey KEY                             exit 0 verified, 1 not, 2 bad input
    conformance compare RUN RUN [RUN ...] [--out HTML]                 exit 0 same, 1 differences
    conformance catalog [--lang ja|en] [--format table|csv|markdown|json]
    conformance validate PROFILE ...                                   exit 0, or 2 naming the problem
    conformance report DIR                                             reprint a run's summary
    conformance wlan-peer --control ADDRESS:PORT [--port N ...]        WLAN-02's second terminal in a lab
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from conformance.errors import InputError
from conformance.plugin import OBSERVATION_CHOICES
from conformance.verdicts import EXIT_FAIL, EXIT_INPUT, EXIT_OK, EXIT_UNDECIDED, EXIT_UNSTABLE

PACKAGE_DIR = Path(__file__).resolve().parent
REFERENCE_DIR = PACKAGE_DIR.parent / "fixtures" / "candidates"
DEFAULT_CANDIDATE = REFERENCE_DIR / "chromium-hardened.toml"


def _validate(paths: list[Path], allow_lab_address: bool = False) -> list[Any]:
    """Validate every input before anything starts or is written. Raises InputError."""
    from conformance.attestation import load_for_profile
    from conformance.catalog import load_catalog
    from conformance.drivers import validate_settings
    from conformance.environment.maintenance_platform import validate_maintenance
    from conformance.environment.wlan import validate_wlan
    from conformance.oracles.wire import require_known
    from conformance.profile import load_profile

    catalog = load_catalog()
    profiles = []
    for path in paths:
        profile = load_profile(path)
        catalog.validate_claims(profile.kind, profile.candidate.catalog_profiles, file=str(path))
        settings = validate_settings(profile.driver["name"], profile.driver, profile.base_dir, str(path),
                                     allow_lab_address)
        require_known(getattr(settings, "wire_protocol", None), str(path))
        validate_maintenance(profile, allow_lab_address, str(path))
        validate_wlan(profile, allow_lab_address, str(path))
        load_for_profile(profile, catalog)  # attestations of the manual requirements (docs/attestations.md)
        profiles.append(profile)
    names = [p.name for p in profiles]
    if len(set(names)) != len(names):
        raise InputError(str(paths[-1]), "candidate.name", "two candidates share a name", "give each a unique name")
    return profiles


def _artifact_steps(text: str) -> tuple[str, ...]:
    from conformance.artifacts import STEPS

    steps = tuple(s.strip() for s in text.split(",") if s.strip() and s.strip() != "none")
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise InputError("--artifacts", "", f"unknown artefact {', '.join(unknown)}",
                         f"choose from {', '.join(STEPS)}, or none")
    return steps


def cmd_run(args: argparse.Namespace) -> int:
    from conformance.catalog import load_catalog

    paths = [Path(p) for p in (args.candidate or [DEFAULT_CANDIDATE])]
    profiles = _validate(paths, args.allow_lab_address)
    steps = _artifact_steps(args.artifacts)
    if args.case_timeout is not None and not 0 < args.case_timeout < math.inf:
        raise InputError("--case-timeout", "", f"{args.case_timeout} is not a time", "give seconds, e.g. 300")
    if args.repeat < 1:
        raise InputError("--repeat", "", f"{args.repeat} is not a number of runs", "give 1 or more (e.g. --repeat 10)")
    if args.repeat > 1 and (steps or args.sign_key):
        steps = ()  # stability mode compares verdicts; artefacts are for a run someone hands in
        if args.sign_key:
            raise InputError("--sign-key", "", "a stability run (--repeat) is not signed",
                             "sign one ordinary run instead, or drop --sign-key")
    waivers = Path(args.waivers).resolve() if args.waivers else None
    if waivers is not None:  # accepted failures: a bad or expired entry is bad input (exit 2) before anything runs
        from conformance.waivers import load_waivers

        load_waivers(waivers, load_catalog(), dt.date.today())
    sign_key = Path(args.sign_key).resolve() if args.sign_key else None
    if sign_key is not None:  # a key that cannot sign is found now, not after a long run
        from conformance.bundle import load_private_key

        load_private_key(sign_key)
    if args.requirement:
        load_catalog().select(args.requirement)  # an unknown ID is bad input (exit 2) before anything runs
    releases = Path(args.engine_releases).resolve() if args.engine_releases else None
    if releases is not None:  # MNT-05's run configuration: a bad file is bad input (exit 2) before anything runs
        from conformance.engine_releases import load_engine_releases

        load_engine_releases(releases)
    workers = _workers(args.workers)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else Path("reports") / stamp
    _require_writable(out)
    options = _pytest_options(args, releases, waivers)
    from conformance.parallel import parallel_obstacle

    obstacles = {profile.name: parallel_obstacle(profile) for profile in profiles}
    if workers > 1 and len(paths) > 1 and not any(obstacles.values()):
        # Several candidates and several workers: the candidates' runs side by side, each a `conformance run` of its
        # own with its share of the workers (one pytest session is one candidate).
        codes = _run_side_by_side(args, paths, profiles, out, workers, releases, waivers, sign_key)
        documents = _documents(out, profiles, codes) if args.repeat == 1 else []
        return _matrix_and_exit(out, documents, codes)
    codes, documents = [], []
    for path, profile in zip(paths, profiles, strict=True):
        target = out if len(paths) == 1 else out / profile.name
        print(f"== {profile.name} ({profile.kind}) → {target}", flush=True)
        run_options = options
        if workers > 1 and obstacles[profile.name]:
            print(f"並列にせず直列で実行 / run serially, not over {workers} workers: {obstacles[profile.name]}",
                  flush=True)  # fmt: skip
        elif workers > 1:
            from conformance.parallel import DIST_MODE

            # pytest-benchmark, where installed, warns in every worker that xdist disables it: not the suite's business
            run_options = [*options, "-n", str(workers), "--dist", DIST_MODE, "-p", "no:benchmark"]
        if args.repeat > 1:  # stability mode: the plan N times, then whether each verdict was the same
            from conformance.stability import check_stability

            folders = []
            for index in range(1, args.repeat + 1):
                folder = target / f"repeat-{index:02d}"
                print(f"-- {index}/{args.repeat} → {folder}", flush=True)
                _run_once(path, folder, run_options)
                folders.append(folder)
            stability = check_stability(target, folders)
            print(stability.render(), flush=True)
            codes.append(stability.exit_code)
            continue
        document = _run_once(path, target, run_options)
        if document is None:
            codes.append(EXIT_UNDECIDED)
            continue
        codes.append(document["summary"]["exit_code"])  # decided: nothing after this line changes it
        if steps or sign_key is not None:
            from conformance.artifacts import build_artifacts

            history = Path(args.allure_history) if args.allure_history else out.resolve().parent / "history"
            print("成果物 / artefacts:", flush=True)
            for step in build_artifacts(target, document, load_catalog(), steps, history / f"{profile.name}.jsonl",
                                        sign_key):  # fmt: skip
                print(step.line(), flush=True)
        documents.append(document)
    return _matrix_and_exit(out, documents, codes)


def _matrix_and_exit(out: Path, documents: list[dict[str, Any]], codes: list[int]) -> int:
    """Several candidates: the procurement matrix of `conformance compare`; the invocation's exit code."""
    if len(documents) > 1:
        from conformance.compare import compare, load_run, render_html

        runs = [load_run(out / document["candidate"]["name"]) for document in documents]
        (out / "index.html").write_text(render_html(compare(runs), out / "index.html"), encoding="utf-8")
        print(f"matrix: {out / 'index.html'}", flush=True)
    if EXIT_UNSTABLE in codes:
        return EXIT_UNSTABLE
    if EXIT_FAIL in codes:
        return EXIT_FAIL
    return EXIT_UNDECIDED if EXIT_UNDECIDED in codes else EXIT_OK


def _workers(text: str | None) -> int:
    """``-n N|auto``: how many pytest-xdist workers (1: serial, as without it). Bad input (exit 2) otherwise."""
    from conformance.parallel import parse_workers

    try:
        workers = parse_workers(text)
    except ValueError:
        raise InputError("-n", str(text), f"{text!r} is not a number of workers",
                         "give a number of workers (1 or more) or auto (one per CPU)") from None  # fmt: skip
    if workers > 1:
        import importlib.util

        if importlib.util.find_spec("xdist") is None:
            raise InputError("-n", str(text), "pytest-xdist is not installed, so the cases cannot be split over "
                             "workers", "pip install pytest-xdist (a dependency of the suite), or run without -n")
    return workers


def _run_side_by_side(args: argparse.Namespace, paths: list[Path], profiles: list[Any], out: Path, workers: int,
                      releases: Path | None, waivers: Path | None, sign_key: Path | None) -> list[int]:  # fmt: skip
    """Several candidates at once, each a `conformance run` process of its own (its results, artefacts and exit code
    exactly as alone) with its share of the workers; at most ``workers`` at a time. Each line a run prints is passed
    on with its candidate's name in front. Ctrl-C: each run gets it once (its own process group), ends its case,
    keeps its partial result; then this exits 130."""
    from conformance.parallel import split_workers

    history = Path(args.allure_history) if args.allure_history else out.resolve().parent / "history"
    common = [f"--network-observation={args.network_observation}", f"--artifacts={args.artifacts}",
              f"--repeat={args.repeat}", f"--allure-history={history}",
              *(f"--requirement={rid}" for rid in args.requirement or []),
              *(["-k", args.k] if args.k else []), *(["--headless"] if args.headless else []),
              *(["--allow-lab-address"] if args.allow_lab_address else []),
              *([f"--engine-releases={releases}"] if releases else []), *([f"--waivers={waivers}"] if waivers else []),
              *([f"--sign-key={sign_key}"] if sign_key else [])]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_DIR.parent),
                                                                     os.environ.get("PYTHONPATH")]))}  # fmt: skip
    lock = threading.Lock()
    waiting = list(zip(paths, profiles, strict=True))
    free = split_workers(workers, len(paths))  # the workers of each slot
    running: dict[subprocess.Popen[str], tuple[str, int, list[threading.Thread]]] = {}
    codes: dict[str, int] = {}
    interrupted = False
    print(f"候補を同時に実行 / candidates side by side: {len(paths)}, ワーカー / workers "
          f"{'+'.join(str(n) for n in free)} at a time", flush=True)  # fmt: skip
    try:
        while waiting or running:
            while waiting and free and not interrupted:
                path, profile = waiting.pop(0)
                share = free.pop(0)
                target = out / profile.name  # the run prints its own "== name (kind) → target" line
                proc = subprocess.Popen(
                    [sys.executable, "-m", "conformance.cli", "run", f"--candidate={path}", f"--out={target}",
                     "-n", str(share), *common], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                    start_new_session=True)  # fmt: skip
                pumps = [threading.Thread(target=_pass_on, args=(stream, sink, profile.name, lock), daemon=True)
                         for stream, sink in ((proc.stdout, sys.stdout), (proc.stderr, sys.stderr))]  # fmt: skip
                for pump in pumps:
                    pump.start()
                running[proc] = (profile.name, share, pumps)
            for proc in [p for p in running if p.poll() is not None]:
                name, share, pumps = running.pop(proc)
                for pump in pumps:
                    pump.join()
                codes[name] = proc.returncode
                free.append(share)
            time.sleep(0.2)
    except KeyboardInterrupt:
        interrupted = True
        for proc in running:  # once, to the run's whole process group, as a terminal's Ctrl-C would
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGINT)
        for proc, (name, _, pumps) in running.items():
            proc.wait()
            for pump in pumps:
                pump.join()
            codes[name] = proc.returncode
    if interrupted or 130 in codes.values():
        raise KeyboardInterrupt
    known = (EXIT_OK, EXIT_FAIL, EXIT_UNDECIDED, EXIT_UNSTABLE)
    return [codes[p.name] if codes.get(p.name) in known else EXIT_UNDECIDED for p in profiles]


def _pass_on(stream: Any, sink: Any, name: str, lock: threading.Lock) -> None:
    for line in stream:
        with lock:
            print(f"[{name}] {line}", end="", file=sink, flush=True)


def _documents(out: Path, profiles: list[Any], codes: list[int]) -> list[dict[str, Any]]:
    """The results the side-by-side runs wrote (a run that ended without one has none)."""
    documents = []
    for profile, code in zip(profiles, codes, strict=True):
        result = out / profile.name / "conformance.json"
        if code in (EXIT_OK, EXIT_FAIL, EXIT_UNDECIDED) and result.is_file():
            documents.append(json.loads(result.read_text(encoding="utf-8")))
    return documents


def _pytest_options(args: argparse.Namespace, releases: Path | None, waivers: Path | None) -> list[str]:
    """The pytest options of every run of this invocation (the candidate and output folder are added per run)."""
    options = [
        "-c", str(PACKAGE_DIR / "cases" / "pytest.ini"),
        "--rootdir", str(PACKAGE_DIR),
        "-p", "no:terminal",
        "--pyargs", "conformance.cases",
        "--conformance-progress",
        "--clean-alluredir",
        "--continue-on-collection-errors",  # one broken case module must not stop every channel
    ]  # fmt: skip
    if args.k:
        options += ["-k", args.k]
    options += [f"--requirement={rid}" for rid in args.requirement or []]
    if args.headless:
        options.append("--conformance-headless")
    if args.case_timeout is not None:
        options.append(f"--conformance-case-timeout={args.case_timeout}")
    if args.allow_lab_address:
        options.append("--allow-lab-address")
    options.append(f"--network-observation={args.network_observation}")
    if releases is not None:
        options.append(f"--engine-releases={releases}")
    if waivers is not None:
        options.append(f"--waivers={waivers}")
    return options


def _require_writable(out: Path) -> None:
    """The output folder can be made and written to, found before anything starts: else bad input (exit 2). Only
    trying tells: root writes into a read-only folder, no one makes a folder below a file."""
    probe = out / f".write-check-{os.getpid()}"
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError("--out", str(out), f"cannot make or write the output folder: {exc.strerror or exc}",
                         "give a folder that can be made and written to") from None


def _run_once(path: Path, target: Path, options: list[str]) -> dict[str, Any] | None:
    """One run of the plan against one candidate into ``target``; its document, or None if none was written."""
    import pytest

    from conformance.catalog import load_catalog
    from conformance.report import render_summary

    per_run = [f"--candidate={path}", f"--conformance-out={target}", f"--junitxml={target / 'junit.xml'}",
               f"--alluredir={target / 'allure-results'}"]  # fmt: skip
    try:
        status = pytest.main([*options, *per_run])
    except OSError as exc:  # a plugin could not write its part of the run folder (junit.xml on a full disk)
        print(f"the run could not write to {target}: {exc}", file=sys.stderr)
        status = pytest.ExitCode.INTERNAL_ERROR
    result = target / "conformance.json"
    if not result.exists():
        if status == pytest.ExitCode.INTERRUPTED:
            raise KeyboardInterrupt
        print(f"the run did not finish (pytest exit {status}); no result was written", file=sys.stderr)
        return None
    document = json.loads(result.read_text(encoding="utf-8"))
    print(render_summary(document, load_catalog()), flush=True)
    print(f"report: {target / 'report.html'}", flush=True)
    if document.get("incomplete"):  # Ctrl-C: partial results are kept, but this is no run's verdict (exit 130)
        print(f"結果は不完全 / the result is incomplete: {document.get('incomplete_reason')}", file=sys.stderr)
        raise KeyboardInterrupt
    return document


def cmd_keygen(args: argparse.Namespace) -> int:
    from conformance.bundle import generate_keypair

    base = Path(args.out)
    private, public = base.with_name(base.name + ".key"), base.with_name(base.name + ".pub")
    base.parent.mkdir(parents=True, exist_ok=True)
    fingerprint = generate_keypair(private, public)
    print(f"秘密鍵 / private key: {private} (0600: 署名する人だけが持つ / keep it to the signer)")
    print(f"公開鍵 / public key:  {public} (検証する人に渡す / hand it to whoever verifies)")
    print(f"fingerprint: {fingerprint}")
    return EXIT_OK


def cmd_sign(args: argparse.Namespace) -> int:
    from conformance.bundle import create_bundle

    run_dir = Path(args.run)
    bundle = create_bundle(run_dir, Path(args.key), Path(args.out) if args.out else None)
    print(f"署名付き証跡バンドル / signed evidence bundle: {bundle}")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from conformance.bundle import render_verification, verify_bundle

    verification = verify_bundle(Path(args.bundle), Path(args.pubkey))
    print(render_verification(verification))
    return EXIT_OK if verification.ok else EXIT_FAIL


def cmd_compare(args: argparse.Namespace) -> int:
    from conformance.compare import compare, exit_code, load_run, render_html, render_text

    comparison = compare([load_run(Path(p)) for p in args.runs])
    print(render_text(comparison))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_html(comparison, out), encoding="utf-8")
        print(f"比較表 / comparison: {out}")
    return exit_code(comparison)


def cmd_catalog(args: argparse.Namespace) -> int:
    from conformance.catalog import load_catalog
    from conformance.catalog.render import render

    print(render(load_catalog(), lang=args.lang, fmt=args.format))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    profiles = _validate([Path(p) for p in args.profiles])
    for profile in profiles:
        print(f"OK  {profile.path}  ({profile.name}, {profile.kind}, driver {profile.driver['name']})")
    return EXIT_OK


def cmd_wlan_peer(args: argparse.Namespace) -> int:
    from conformance.environment.wlan import serve_peer
    from conformance.oracles.reachability import PEER_PORTS

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a tester ends it
        serve_peer(args.control, [*PEER_PORTS, *args.port])
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from conformance.catalog import load_catalog
    from conformance.report import render_summary

    result = Path(args.dir) / "conformance.json"
    try:
        document = json.loads(result.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fix = "give the folder of a finished run"
        raise InputError(str(result), "", f"cannot read the result: {exc}", fix) from None
    print(render_summary(document, load_catalog()))
    return int(document["summary"]["exit_code"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="conformance",
        description="セキュアブラウザ・画面転送の適合性試験 / "
        "conformance suite for secure browsers and screen transfer",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the conformance cases against candidates / 試験を実行")
    run.add_argument("--candidate", action="append", help="candidate profile (TOML); repeatable")
    run.add_argument("--out", help="output folder (default: reports/<timestamp>)")
    run.add_argument("--requirement", action="append", metavar="ID",
                     help="only this requirement ID or catalog profile ID (repeatable) / 要件IDで絞り込み")
    run.add_argument("-k", help="only cases matching this pytest -k expression")
    run.add_argument("--headless", action="store_true", help="headless candidate (debugging only)")
    run.add_argument("--case-timeout", type=float, metavar="SECONDS",
                     help="a case still running after this is ended as error, its candidate stopped (default 300; "
                          "the reference cases take 20 s at most) / 1ケースの上限時間")
    run.add_argument("--allow-lab-address", action="store_true",
                     help="allow a non-loopback remote.probe_address (a real lab) / 検証環境のアドレスを許可")
    run.add_argument("--network-observation", choices=OBSERVATION_CHOICES, default="auto",
                     help="how the candidate's traffic is observed: 'namespace' (every packet, needs root and "
                          "/dev/net/tun), 'proxy' (what it sends to the proxy), 'auto' (namespace where possible, "
                          "else proxy, saying why) / 通信の観測方法")
    run.add_argument("--engine-releases", metavar="TOML",
                     help="stable releases of browser engines with their dates, for MNT-05's patch lag "
                          "(e.g. fixtures/engine-releases.toml) / エンジン安定版の一覧")
    run.add_argument("--waivers", metavar="TOML",
                     help="accepted failures with justification, approver and expiry; a waived failure is shown as "
                          "waived, never as pass (docs/certification.md) / 免除ファイル")
    run.add_argument("--sign-key", metavar="KEY",
                     help="sign the run folder at the end into RUN/evidence-bundle.zip with this Ed25519 key "
                          "(conformance keygen) / 署名鍵")
    run.add_argument("--artifacts", default=",".join(("statement", "checklist", "allure")), metavar="LIST",
                     help="artefacts built after the verdicts (never changing them): statement, checklist, allure, "
                          "comma-separated, or none (default: all) / 作成する成果物")
    run.add_argument("--repeat", type=int, default=1, metavar="N",
                     help="stability mode: run the plan N times (RUN/repeat-01 …) and report per requirement whether "
                          "the verdict (and each case's outcome) was the same each time; any difference exits 4 / "
                          "安定性の確認")
    run.add_argument("-n", "--workers", metavar="N|auto", dest="workers",
                     help="split the cases over N worker processes (pytest-xdist), each with its own display, oracle, "
                          "namespaces and CUPS; auto: one per CPU; 1 or absent: serial. With several candidates, their "
                          "runs go side by side, sharing the workers / 並列実行のワーカー数")
    run.add_argument("--allure-history", metavar="DIR",
                     help="folder of the Allure history, one file per candidate, bounded (default: 'history' beside "
                          "the output folder)")
    run.set_defaults(func=cmd_run)
    catalog = sub.add_parser("catalog", help="list the requirement catalog / 要件カタログを表示")
    catalog.add_argument("--lang", choices=("ja", "en"), default="ja")
    catalog.add_argument("--format", choices=("table", "csv", "markdown", "json"), default="table")
    catalog.set_defaults(func=cmd_catalog)
    validate = sub.add_parser("validate", help="validate candidate profiles / プロファイルを検証")
    validate.add_argument("profiles", nargs="+")
    validate.set_defaults(func=cmd_validate)
    peer = sub.add_parser("wlan-peer", help="the second test terminal of WLAN-02 in a lab (runs until Ctrl-C) / "
                                            "無線LAN試験の相手端末")
    peer.add_argument("--control", required=True, metavar="ADDRESS:PORT",
                      help="where the suite asks what reached this terminal: an address on another path (wired)")
    peer.add_argument("--port", type=int, action="append", default=[],
                      help="also listen on this TCP port (a declared exception); repeatable")
    peer.set_defaults(func=cmd_wlan_peer)
    keygen = sub.add_parser("keygen", help="create an Ed25519 key pair for signing evidence bundles / 署名鍵を作成")
    keygen.add_argument("--out", required=True, metavar="NAME", help="writes NAME.key (mode 0600) and NAME.pub")
    keygen.set_defaults(func=cmd_keygen)
    sign = sub.add_parser("sign", help="sign a finished run folder into an evidence bundle / 証跡バンドルに署名")
    sign.add_argument("run", help="the run folder (holding conformance.json)")
    sign.add_argument("--key", required=True, help="the private key (conformance keygen)")
    sign.add_argument("--out", help="the bundle to write (default: RUN/evidence-bundle.zip)")
    sign.set_defaults(func=cmd_sign)
    verify = sub.add_parser("verify", help="verify an evidence bundle offline / 証跡バンドルを検証")
    verify.add_argument("bundle")
    verify.add_argument("--pubkey", required=True, help="the signer's public key (NAME.pub)")
    verify.set_defaults(func=cmd_verify)
    compare = sub.add_parser("compare", help="compare runs: one candidate twice, or several candidates / 結果を比較")
    compare.add_argument("runs", nargs="+", metavar="RUN", help="run folders (or their conformance.json)")
    compare.add_argument("--out", metavar="HTML", help="also write the comparison as HTML")
    compare.set_defaults(func=cmd_compare)
    report = sub.add_parser("report", help="print the summary of a finished run / 結果の要約を表示")
    report.add_argument("dir")
    report.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
        print(f"入力エラー / bad input: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("中断しました / interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
