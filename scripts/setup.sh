#!/usr/bin/env bash
# Set up everything the suite needs on a fresh Debian 12 machine with Python 3.11 (run as root).
# Idempotent: packages already present are not installed again. Touches no configuration in /etc.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  chromium xvfb xclip xdotool x11-utils cups printer-driver-cups-pdf poppler-utils fonts-noto-cjk
  x11vnc tigervnc-standalone-server novnc websockify tesseract-ocr util-linux iproute2
  python3-gi gir1.2-gtk-3.0 xpra iputils-ping arping  # ping/arping: WLAN-02 between test terminals
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

# An unpatched engine for MNT-05 (fixtures/candidates/chromium-stale.toml): the oldest chromium apt offers below
# the installed one (Debian 12's bookworm-main build, without the bookworm-security updates), downloaded and
# unpacked into tools/chromium-stale with chromium-common (nothing is installed or downgraded). It runs with the
# system's shared libraries and finds its resources next to its binary.
STALE=tools/chromium-stale
if [ -x "$STALE/usr/lib/chromium/chromium" ]; then
  echo "[setup] stale chromium $(cat "$STALE/DEBIAN-VERSION" 2>/dev/null) already in $STALE"
else
  installed=$(dpkg-query -W -f='${Version}' chromium 2>/dev/null || true)
  stale=""
  for version in $(apt-cache madison chromium 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); print $2}'); do
    if [ -n "$installed" ] && dpkg --compare-versions "$version" lt "$installed" \
       && { [ -z "$stale" ] || dpkg --compare-versions "$version" lt "$stale"; }; then
      stale=$version
    fi
  done
  if [ -z "$stale" ]; then
    echo "[setup] apt offers no chromium older than ${installed:-the installed one}: no stale reference for MNT-05" \
         "(chromium-stale.toml cannot run) / 旧版の Chromium が得られないため chromium-stale は使えません"
  else
    echo "[setup] unpacking chromium $stale (older than the installed $installed) into $STALE"
    rm -rf "$STALE.download"
    mkdir -p "$STALE.download/root"
    chmod 777 "$STALE.download"  # apt's download sandbox user must be able to write there
    if (cd "$STALE.download" && apt-get download -q "chromium=$stale" "chromium-common=$stale" >/dev/null 2>&1) \
       && (for deb in "$STALE.download"/*.deb; do dpkg-deb -x "$deb" "$STALE.download/root" || exit 1; done) \
       && "$STALE.download/root/usr/lib/chromium/chromium" --version; then
      echo "$stale" > "$STALE.download/root/DEBIAN-VERSION"
      mv "$STALE.download/root" "$STALE"
    else
      echo "[setup] warning: chromium $stale could not be downloaded or does not run; no stale reference for MNT-05"
    fi
    rm -rf "$STALE.download"
  fi
fi

# Allure 3 for the HTML report (optional: the suite's own report.html needs nothing of it).
if command -v npm >/dev/null 2>&1 && [ ! -x tools/allure/node_modules/.bin/allure ]; then
  echo "[setup] installing Allure 3 (npm) into tools/allure"
  mkdir -p tools/allure
  (cd tools/allure && npm install --silent --no-audit --no-fund allure@3 >/dev/null 2>&1) \
    || echo "[setup] Allure could not be installed; report.html is still written"
fi
