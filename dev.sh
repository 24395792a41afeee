#!/usr/bin/env bash
# One entry point for a fresh Debian / Raspberry Pi OS machine:
#   ./dev.sh demo   set everything up, then run the demo (headless, screenshots in ./screenshots)
#   ./dev.sh test   set everything up, then run ruff and the tests
#   ./dev.sh setup  set everything up only
#   ./dev.sh deb [arm64|amd64]  build dist/diia-kiosk_<version>_<arch>.deb (deploy/debian)
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(python3 python3-venv python3-pip libzbar0 fonts-dejavu-core)
APT_PACKAGES+=(systemd)  # systemd-analyze: tests score and verify deploy/kiosk.service
APT_PACKAGES+=(curl)  # README.md "Trying it by hand" (and its test) mint codes with curl
APT_PACKAGES+=(gcc python3-dev linux-libc-dev)  # evdev has no wheel: pip builds it
# What ./dev.sh deb needs: debhelper builds the package, pip fetches the wheels.
DEB_PACKAGES=(debhelper dpkg-dev python3-pip)
VENV=.venv
EXTRAS="test,zbar"
# What the venv was last installed from: pyproject.toml's hash and the extras. When it still
# matches, setup touches neither pip nor the network (a second run is quiet and works offline).
STAMP=$VENV/.installed-from
# For the tests only: Debian's Prometheus (promtool, a real server on loopback) and
# Alertmanager (amtool) for the fleet's rules, alerts and dashboard, and the journal
# uploader and receiver (deploy/fleet/).
TEST_APT_PACKAGES=(prometheus prometheus-alertmanager systemd-journal-remote)
# The package's tests: lintian judges it, mmdebstrap makes the Debian root it is installed
# and booted in, reprepro and gnupg the signed fleet repository. python3-pil: a Debian
# machine often has it; the system tests must not see the host's dist-packages.
TEST_APT_PACKAGES+=("${DEB_PACKAGES[@]}" lintian mmdebstrap reprepro gnupg python3-pil)

need_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing system packages: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

need_test_apt() {
    command -v dpkg-query >/dev/null || return 0
    local APT_PACKAGES=()  # need_apt installs these, this once: the ones not yet installed
    for pkg in "${TEST_APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || APT_PACKAGES+=("$pkg")
    done
    [ ${#APT_PACKAGES[@]} -eq 0 ] && return 0
    need_apt "${APT_PACKAGES[@]}"
    # The tests want the binaries, not the services these packages just enabled here.
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo systemctl disable --now prometheus prometheus-alertmanager prometheus-node-exporter \
        systemd-journal-remote.socket systemd-journal-upload >/dev/null 2>&1 || true
}

setup() {
    command -v dpkg-query >/dev/null && need_apt "${APT_PACKAGES[@]}"
    local python=${PYTHON:-python3}
    if [ ! -x "$VENV/bin/python" ]; then
        "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || {
            echo "the kiosk needs Python 3.11 or later ($python is $("$python" -V 2>&1));" \
                 "Debian 12 and Raspberry Pi OS Bookworm have it; or set PYTHON=" >&2
            exit 1
        }
        # On a Pi the camera bindings come from apt (python3-picamera2), so the venv sees them.
        local site=""
        grep -qs "Raspberry Pi" /proc/device-tree/model && site="--system-site-packages"
        "$python" -m venv $site "$VENV"
    fi
    local wanted
    wanted="$(sha256sum pyproject.toml | cut -d' ' -f1) [$EXTRAS]"
    [ "$(cat "$STAMP" 2>/dev/null)" = "$wanted" ] && return 0
    echo "installing the kiosk and its Python packages into $VENV" >&2
    # PYTHONWARNINGS reaches the build backend: setuptools' notes on editable installs are
    # not for the user of this checkout.
    PYTHONWARNINGS=ignore "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    PYTHONWARNINGS=ignore "$VENV/bin/python" -m pip install -q -e ".[$EXTRAS]"
    echo "$wanted" > "$STAMP"
}

case "${1:-}" in
    setup) setup ;;
    demo) setup; shift; exec "$VENV/bin/kiosk" demo --headless --screenshots screenshots "$@" ;;
    test) setup; need_test_apt; shift; "$VENV/bin/ruff" check kiosk tests bench; "$VENV/bin/mypy"
          exec "$VENV/bin/python" -m pytest "$@" ;;
    deb) need_apt "${APT_PACKAGES[@]}" "${DEB_PACKAGES[@]}"; shift; exec deploy/debian/build.sh "$@" ;;
    *) echo "usage: ./dev.sh demo | test | setup | deb [arm64|amd64]" >&2; exit 2 ;;
esac
