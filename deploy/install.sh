#!/usr/bin/env bash
# Install the Diia kiosk on Raspberry Pi OS (64-bit, Bookworm) from a checkout: build the
# package for this machine (./dev.sh deb), install it with apt (which brings what it depends
# on), upgrade the camera stack, boot to the console. A fleet installs the same package
# from its signed repository instead (README, "Installing on a Pi").
#
#   sudo deploy/install.sh                 build and install; an upgrade is the same command
#   sudo deploy/install.sh --deb FILE      install FILE, built elsewhere (./dev.sh deb arm64)
#   deploy/install.sh --dry-run [...]      print the commands instead of running them
#
# An existing /etc/kiosk/kiosk.toml and existing secrets are never touched.
# A panel powered up after the Pi may offer no modes at boot. Force the output on the
# kernel command line (/boot/firmware/cmdline.txt, one line), with the connector's name and
# the panel's mode, e.g.  video=HDMI-A-1:800x480@60D  (`kiosk doctor` names the connectors).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
DEB=""
DRY=0
usage() { echo "usage: $0 [--deb FILE] [--dry-run]" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --deb) [ $# -ge 2 ] || usage; DEB=$(realpath "$2"); shift 2 ;;
        --dry-run) DRY=1; shift ;;
        -h|--help) sed -n '2,/^set -e/{/^set -e/!p}' "$0"; exit 0 ;;
        *) usage ;;
    esac
done
say() { echo "kiosk install: $*" >&2; }
act() { if [ "$DRY" -eq 1 ]; then printf '%q ' "$@"; printf '\n'; else "$@"; fi; }

if [ "$DRY" -eq 0 ]; then
    [ "$(id -u)" -eq 0 ] || { say "run as root (sudo $0)"; exit 1; }
    # shellcheck disable=SC1091
    . /etc/os-release
    [ "${VERSION_ID:-0}" -ge 12 ] 2>/dev/null \
        || { say "needs Raspberry Pi OS Bookworm (12) or later; this is ${PRETTY_NAME:-?}"; exit 1; }
fi
if [ -z "$DEB" ]; then
    arch=$(dpkg --print-architecture)
    act "$SRC/dev.sh" deb "$arch"
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$SRC/pyproject.toml")
    DEB=$SRC/dist/diia-kiosk_${version}-1_$arch.deb
fi
# The unit this script wrote before the package existed would hide the package's.
if grep -qs '/opt/kiosk/venv/bin/kiosk' /etc/systemd/system/kiosk.service; then
    act rm -rf /etc/systemd/system/kiosk.service /opt/kiosk /etc/modules-load.d/kiosk.conf \
        /etc/udev/rules.d/70-kiosk-scanner.rules
fi
act apt-get update -qq
act env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$DEB"
# An older image keeps its old picamera2 otherwise: before 0.3.20 every capture with a
# timeout raises TypeError, and a lost camera can never be opened again.
act env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --only-upgrade \
    python3-picamera2 python3-libcamera
# KMSDRM needs DRM master, which a desktop's display manager holds: boot to the console.
act systemctl set-default multi-user.target
act systemctl restart kiosk.service  # skipped by the unit until config and secrets exist
say "done; put the Diia secrets in /etc/kiosk/credentials, set diia.branch_id in" \
    "/etc/kiosk/kiosk.toml, then: sudo systemctl start kiosk; sudo kiosk doctor"
