#!/usr/bin/env bash
# The main job: set up, run the full conformance suite against the bundled hardened reference
# candidates (secure browser and screen transfer), and build every artefact: report.html, the
# single-file Allure report, the conformance statement (ja/en, HTML and PDF), the checklist (.xlsx)
# and the signed evidence bundle with its public key.
# Exit code: 0 conformant, 1 a must-level failure, 2 bad input, 3 undecided (never changed by a report step).
# Other candidates: bash scripts/run-conformance.sh --candidate my-product.toml
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "set-up failed; nothing was tested" >&2; exit 3; }
out=${OUT:-reports/latest}
rm -rf "$out"
# The signing key of this machine's reference runs: kept under reports/keys (never committed), made once.
key=${SIGN_KEY:-reports/keys/reference}
[ -f "$key.key" ] || conformance keygen --out "$key" || exit 3
if [ $# -eq 0 ]; then
  set -- --candidate fixtures/candidates/chromium-hardened.toml --candidate fixtures/candidates/novnc-hardened.toml
fi
conformance run --out "$out" --engine-releases fixtures/engine-releases.toml --sign-key "$key.key" "$@"
status=$?
cp "$key.pub" "$out/signer.pub" 2>/dev/null
for bundle in "$out"/evidence-bundle.zip "$out"/*/evidence-bundle.zip; do
  [ -f "$bundle" ] && echo "verify: conformance verify $bundle --pubkey $out/signer.pub"
done
exit $status
