#!/usr/bin/env bash
# The main job: set up, run the full conformance suite against the bundled hardened reference
# candidate, and build the reports. Exit code: 0 conformant, 1 a must-level failure, 3 undecided.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 2
out=${OUT:-reports/latest}
rm -rf "$out"
conformance run --out "$out" "$@"
status=$?
if [ -x tools/allure/node_modules/.bin/allure ] && [ -d "$out/allure-results" ]; then
  bash scripts/allure-report.sh "$out" || echo "Allure report not generated (see above)"
fi
echo "report: $out/report.html"
exit $status
