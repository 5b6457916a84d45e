#!/usr/bin/env bash
# The main job: set up, run the full conformance suite against the bundled hardened reference
# candidates (secure browser and screen transfer), and build the reports.
# Exit code: 0 conformant, 1 a must-level failure, 2 bad input, 3 undecided.
# Other candidates: bash scripts/run-conformance.sh --candidate my-product.toml
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "set-up failed; nothing was tested" >&2; exit 3; }
out=${OUT:-reports/latest}
rm -rf "$out"
if [ $# -eq 0 ]; then
  set -- --candidate fixtures/candidates/chromium-hardened.toml --candidate fixtures/candidates/novnc-hardened.toml
fi
conformance run --out "$out" --engine-releases fixtures/engine-releases.toml "$@"
status=$?
if [ -x tools/allure/node_modules/.bin/allure ]; then
  for results in "$out"/allure-results "$out"/*/allure-results; do
    [ -d "$results" ] && { bash scripts/allure-report.sh "$(dirname "$results")" || echo "Allure report not generated"; }
  done
fi
ls "$out"/report.html "$out"/*/report.html 2>/dev/null | sed 's/^/report: /'

exit $status
