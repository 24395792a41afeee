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

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEB=""
DRY=0

usage() { echo "usage: $0 [--deb FILE] [--dry-run]" >&2; exit 2; }
say() { echo "kiosk install: $*" >&2; }
# A command that changes the system: run it, or under --dry-run only print it.
act() { if [ "$DRY" -eq 1 ]; then printf '%q ' "$@"; printf '\n'; else "$@"; fi; }

check_system() {
    [ "$DRY" -eq 1 ] && return 0
    [ "$(id -u)" -eq 0 ] || { say "run as root (sudo $0)"; exit 1; }
    # shellcheck disable=SC1091
    . /etc/os-release
    if [ "${VERSION_ID:-0}" -lt 12 ] 2>/dev/null; then
        say "needs Raspberry Pi OS Bookworm (12) or later; this is ${PRETTY_NAME:-unknown}"
        exit 1
    fi
}

# The package for this machine, built from this checkout.
build_deb() {
    local arch version
    arch=$(dpkg --print-architecture)
    act "$SRC/dev.sh" deb "$arch"
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$SRC/pyproject.toml")
    DEB=$SRC/dist/diia-kiosk_${version}-1_$arch.deb
}

# What this script installed before the package existed: its unit would hide the package's.
retire_old_install() {
    if grep -qs '/opt/kiosk/venv/bin/kiosk' /etc/systemd/system/kiosk.service; then
        act rm -rf /etc/systemd/system/kiosk.service /opt/kiosk \
            /etc/modules-load.d/kiosk.conf /etc/udev/rules.d/70-kiosk-scanner.rules
    fi
}

# What a planned upgrade (`apt-get -s` output on stdin) does besides upgrading what is
# installed: a line for each package it would remove or newly install.
partial_upgrade() {
    awk '$1 == "Remv" { print "remove " $2 } $1 == "Inst" && $3 !~ /^\[/ { print "install " $2 }'
}

# The camera stack upgraded alone only when that is like for like: an older image keeps its
# old picamera2 otherwise (before 0.3.20 every capture with a timeout raises TypeError, and a
# lost camera can never be opened again). libcamera's packages pin each other, and
# `--only-upgrade -y` can pull in a new libcamera or remove rpicam-apps while the kernel and
# firmware stay old; apt simulates first, and such a plan is refused in favour of Raspberry
# Pi's documented full upgrade.
upgrade_camera_stack() {
    local packages=(python3-picamera2 python3-libcamera) plan changes
    if [ "$DRY" -eq 1 ]; then
        act apt-get -s install --only-upgrade "${packages[@]}"
        act env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --only-upgrade \
            "${packages[@]}"
        return 0
    fi
    if ! plan=$(LC_ALL=C apt-get -s install --only-upgrade "${packages[@]}" 2>&1); then
        say "cannot plan an upgrade of the camera stack (apt-get -s failed): left as it is"
        return 0
    fi
    changes=$(printf '%s\n' "$plan" | partial_upgrade | paste -sd, -)
    if [ -n "$changes" ]; then
        say "NOT upgrading the camera stack alone: it would ${changes//,/, } while the kernel"
        say "  and firmware stay as they are; upgrade the whole system instead:"
        say "  sudo apt update && sudo apt full-upgrade, reboot, then run this again"
        return 0
    fi
    env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --only-upgrade "${packages[@]}"
}

main() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --deb) [ $# -ge 2 ] || usage; DEB=$(realpath "$2"); shift 2 ;;
            --dry-run) DRY=1; shift ;;
            -h|--help) sed -n '2,/^set -e/{/^set -e/!p}' "$0"; exit 0 ;;
            *) usage ;;
        esac
    done
    check_system
    [ -n "$DEB" ] || build_deb
    retire_old_install
    act apt-get update -qq
    act env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$DEB"
    upgrade_camera_stack
    # KMSDRM needs DRM master, which a desktop's display manager holds: boot to the console.
    act systemctl set-default multi-user.target
    # Skipped by the unit (ConditionPathExists=) until the config and the secrets exist.
    act systemctl restart kiosk.service
    say "done; put the Diia secrets in /etc/kiosk/credentials, set diia.branch_id in" \
        "/etc/kiosk/kiosk.toml, then: sudo systemctl start kiosk; sudo kiosk doctor"
}

# Run, unless sourced (the tests call its functions on their own).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    main "$@"
fi
