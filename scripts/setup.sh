#!/usr/bin/env bash
# Set up everything the suite needs on a fresh Debian 12 machine with Python 3.11 (run as root).
# Idempotent: packages already present are not installed again. Touches no configuration in /etc.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  chromium xvfb xclip xdotool x11-utils cups printer-driver-cups-pdf poppler-utils fonts-noto-cjk
  x11vnc tigervnc-standalone-server novnc websockify tesseract-ocr util-linux iproute2
  python3-gi gir1.2-gtk-3.0 xpra
)
missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "[setup] installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null  # with recommends, as the suite was proven
  # Debian's cups package may start the host's scheduler; the suite never uses it (it runs its own).
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import conformance, playwright, mitmproxy, allure' 2>/dev/null \
   || [ pyproject.toml -nt .setup-done ]; then
  echo "[setup] installing the Python package (pip install -e .[dev])"
  "$PYTHON" -m pip install -q --disable-pip-version-check -e '.[dev]'
  touch .setup-done
fi

# The terminal's CUPS client library: Debian's current libcups2 build may hang every GTK print dialog
# (CUPS issue #1439); the suite then gives the candidate the previous build, unpacked into tools/libcups
# (nothing is installed or downgraded). The versions live in conformance/environment/cups.py.
"$PYTHON" - <<'PY'
from conformance.environment.cups import fetch_client_library_fix
from conformance.errors import HarnessError
try:
    print(f"[setup] {fetch_client_library_fix()}")
except HarnessError as exc:
    print(f"[setup] warning: {exc}; the print cases will be error / 印刷の試験は判定不能になります")
PY

# Allure 3 for the HTML report (optional: the suite's own report.html needs nothing of it).
if command -v npm >/dev/null 2>&1 && [ ! -x tools/allure/node_modules/.bin/allure ]; then
  echo "[setup] installing Allure 3 (npm) into tools/allure"
  mkdir -p tools/allure
  (cd tools/allure && npm install --silent --no-audit --no-fund allure@3 >/dev/null 2>&1) \
    || echo "[setup] Allure could not be installed; report.html is still written"
fi
