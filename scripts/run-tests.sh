#!/usr/bin/env bash
# The project's own tests: set up, then unit tests and the reference matrix (both reference
# candidates of each kind, verdicts asserted). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec python3 -m pytest tests "$@"
