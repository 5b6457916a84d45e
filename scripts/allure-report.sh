#!/usr/bin/env bash
# Build the Allure 3 HTML report (Japanese UI) for one run folder: scripts/allure-report.sh reports/latest
set -euo pipefail
run=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
cat > "$run/allurerc.mjs" <<CFG
export default {
  name: "適合性試験 / Conformance",
  output: "$run/allure-report",
  plugins: { awesome: { options: { reportLanguage: "ja", singleFile: false, groupBy: ["parentSuite", "suite"] } } },
};
CFG
(cd "$run" && "$OLDPWD/tools/allure/node_modules/.bin/allure" generate --config allurerc.mjs allure-results >/dev/null)
echo "allure: $run/allure-report/index.html"
