#!/usr/bin/env bash
# Install the Diia kiosk as a service on Raspberry Pi OS (64-bit, Bookworm or later).
#
#   sudo deploy/install.sh              install or upgrade; safe to run again
#   deploy/install.sh --root DIR        write the files under DIR and record, in
#                                       DIR/install-actions.log, the commands it would run
#                                       (apt-get, useradd, pip, systemctl) instead of running them
#
# What it does: system packages from apt (camera, GPIO, pygame with KMSDRM, zbar, fonts), with
# the camera stack upgraded even when present (picamera2 >= 0.3.20 is needed) if apt's plan
# for that removes and adds nothing (else: do the full upgrade, it says), a system user
# "kiosk" with just the device groups it needs, a venv in /opt/kiosk/venv that sees apt's
# camera bindings, the package with everything the default config uses (pyzbar: the
# decoder's zbar second look), /etc/kiosk (config) and /etc/kiosk/credentials (Diia secrets,
# root only, handed to the service by systemd), the unit, enabled; the console boot target,
# so that no desktop holds the screen.
# An existing /etc/kiosk/kiosk.toml and existing secrets are never overwritten.
#
# A panel powered up after the Pi may offer no modes at boot, and the kiosk then waits for
# one. Force the output on the kernel command line (/boot/firmware/cmdline.txt, one line),
# with the connector's name and the panel's mode, e.g.  video=HDMI-A-1:800x480@60D
# (`kiosk doctor` names the connectors it sees).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOT=""
USER_NAME=kiosk
GROUPS_NEEDED=(gpio video render input dialout)
APT_PACKAGES=(
    python3 python3-venv python3-pip
    python3-picamera2      # camera; libcamera bindings exist only as apt packages
    python3-libcamera      # ABI-tied to the system libcamera; upgraded with picamera2
    python3-lgpio          # GPIO on Pi 4 and Pi 5 (gpiozero's default pin factory)
    python3-gpiozero       # Raspberry Pi OS ships 2.0.x (the Pi 5 chip fix)
    python3-pygame         # Debian's SDL has the KMSDRM console driver; PyPI's wheel does not
    python3-numpy          # the distro build picamera2 is compiled against (no numpy 2 on Bookworm)
    python3-evdev          # HID barcode scanners
    python3-serial         # USB-CDC barcode scanners
    python3-prometheus-client  # the health endpoint
    libzbar0               # zbar, for pyzbar (the decoder's second look), pip-installed
    fonts-dejavu-core      # screen text in Ukrainian
)

usage() {
    echo "usage: $0 [--root DIR]" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        --root) [ $# -ge 2 ] || usage; ROOT=$(realpath -m "$2"); shift 2 ;;
        -h|--help) sed -n '2,/^set -e/{/^set -e/!p}' "$0"; exit 0 ;;
        *) usage ;;
    esac
done

OPT=$ROOT/opt/kiosk
ETC=$ROOT/etc/kiosk
UNIT=$ROOT/etc/systemd/system/kiosk.service
LOG=$ROOT/install-actions.log

say() { echo "kiosk install: $*" >&2; }

# A command that changes the system: run it, or under --root only record it.
act() {
    if [ -n "$ROOT" ]; then
        printf '%q ' "$@" >>"$LOG"
        printf '\n' >>"$LOG"
    else
        "$@"
    fi
}

check_system() {
    [ -n "$ROOT" ] && return 0
    [ "$(id -u)" -eq 0 ] || { say "run as root (sudo $0)"; exit 1; }
    # shellcheck disable=SC1091
    . /etc/os-release
    if [ "${VERSION_ID:-0}" -lt 12 ] 2>/dev/null; then
        say "needs Raspberry Pi OS Bookworm (12) or later; this is ${PRETTY_NAME:-unknown}"
        exit 1
    fi
}

install_packages() {
    local missing=()
    if [ -n "$ROOT" ]; then
        missing=("${APT_PACKAGES[@]}")
    else
        for pkg in "${APT_PACKAGES[@]}"; do
            dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
                || missing+=("$pkg")
        done
    fi
    act apt-get update -qq
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]}"
        act env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}"
    fi
    # An older image keeps its old picamera2 otherwise: before 0.3.20 every capture with a
    # timeout raises TypeError, and a lost camera can never be opened again.
    upgrade_camera_stack
    check_picamera2
}

# What a planned upgrade (`apt-get -s` output on stdin) does besides upgrading what is
# installed: a line for each package it would remove or newly install.
partial_upgrade() {
    awk '$1 == "Remv" { print "remove " $2 } $1 == "Inst" && $3 !~ /^\[/ { print "install " $2 }'
}

# The camera stack upgraded alone only when that is like for like. libcamera's packages pin
# each other, and `--only-upgrade -y` can pull in a new libcamera or remove rpicam-apps while
# the kernel and firmware stay old; apt simulates first, and such a plan is refused in favour
# of Raspberry Pi's documented full upgrade.
upgrade_camera_stack() {
    local packages=(python3-picamera2 python3-libcamera) plan changes
    if [ -n "$ROOT" ]; then
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

check_picamera2() {
    [ -n "$ROOT" ] && return 0
    local version
    version=$(python3 -c 'import importlib.metadata as m; print(m.version("picamera2"))' \
        2>/dev/null) || version="?"
    if ! python3 - "$version" <<'PY'
import re, sys
parts = tuple(int(p) for p in re.findall(r"\d+", sys.argv[1].split("+")[0])[:3])
sys.exit(0 if parts >= (0, 3, 20) else 1)
PY
    then
        say "WARNING: picamera2 $version is older than 0.3.20 even after upgrading;"
        say "  update the system (sudo apt full-upgrade) or the camera cannot recover"
    fi
}

create_user() {
    local group
    for group in "${GROUPS_NEEDED[@]}"; do
        # Raspberry Pi OS has them all; a plain Debian box may lack gpio.
        if [ -n "$ROOT" ] || ! getent group "$group" >/dev/null; then
            act groupadd --system -f "$group"
        fi
    done
    if [ -n "$ROOT" ] || ! id "$USER_NAME" >/dev/null 2>&1; then
        act useradd --system --user-group --no-create-home --home-dir /var/lib/kiosk \
            --shell /usr/sbin/nologin --comment "Diia kiosk" "$USER_NAME"
    fi
    local list
    list=$(IFS=,; echo "${GROUPS_NEEDED[*]}")
    act usermod --append --groups "$list" "$USER_NAME"
}

install_venv() {
    mkdir -p "$OPT"
    chmod 0755 "$OPT"
    if [ ! -x "$OPT/venv/bin/python" ]; then
        # System site packages: picamera2, libcamera, lgpio and pygame come from apt.
        act python3 -m venv --system-site-packages "$ROOT/opt/kiosk/venv"
    fi
    # [zbar]: pyzbar, the decoder's second look in the default config (libzbar0 from apt).
    act "$ROOT/opt/kiosk/venv/bin/python" -m pip install --quiet --upgrade "$SRC[zbar]"
    install -m 0644 "$SRC/README.md" "$OPT/README.md"
}

install_config() {
    mkdir -p "$ETC"
    chmod 0750 "$ETC"  # as the unit's ConfigurationDirectoryMode= (else a notice each start)
    act chown root:"$USER_NAME" "$ROOT/etc/kiosk"
    if [ -e "$ETC/kiosk.toml" ]; then
        say "kept the existing /etc/kiosk/kiosk.toml"
    else
        # The example with every default, switched to the appliance's full screen.
        sed -e 's/^fullscreen = false/fullscreen = true/' \
            "$SRC/config/kiosk.example.toml" >"$ETC/kiosk.toml"
        say "wrote /etc/kiosk/kiosk.toml: set diia.branch_id there"
    fi
    chmod 0640 "$ETC/kiosk.toml"
    act chown root:"$USER_NAME" "$ROOT/etc/kiosk/kiosk.toml"
    # Secrets: root only; systemd copies them into the service's $CREDENTIALS_DIRECTORY.
    mkdir -p "$ETC/credentials"
    chmod 0700 "$ETC/credentials"
    act chown root:root "$ROOT/etc/kiosk/credentials"
    local name
    for name in diia-acquirer-token diia-auth-token; do
        if [ -e "$ETC/credentials/$name" ]; then
            chmod 0600 "$ETC/credentials/$name"
        else
            say "put the Diia secret in /etc/kiosk/credentials/$name (mode 0600)"
        fi
    done
}

install_system_files() {
    # The drivers whose device classes the unit allows (display, camera, serial scanners)
    # must be loaded when the unit starts, or DeviceAllow= finds no such class and their
    # devices stay locked out: see the file.
    mkdir -p "$ROOT/etc/modules-load.d"
    install -m 0644 "$SRC/deploy/modules-load.conf" "$ROOT/etc/modules-load.d/kiosk.conf"
    # ModemManager probes new ttyACM devices with AT commands and garbles a scanner.
    mkdir -p "$ROOT/etc/udev/rules.d"
    cat >"$ROOT/etc/udev/rules.d/70-kiosk-scanner.rules" <<'EOF'
# Diia kiosk: keep ModemManager away from serial barcode scanners.
SUBSYSTEM=="tty", KERNEL=="ttyACM[0-9]*", ENV{ID_MM_DEVICE_IGNORE}="1"
EOF
    chmod 0644 "$ROOT/etc/udev/rules.d/70-kiosk-scanner.rules"
}

boot_to_console() {
    # KMSDRM needs DRM master: a desktop's display manager holds it. The console target
    # starts no display manager (it is only pulled in by graphical.target).
    local current=""
    [ -z "$ROOT" ] && current=$(systemctl get-default 2>/dev/null || true)
    if [ -n "$ROOT" ] || [ "$current" != "multi-user.target" ]; then
        act systemctl set-default multi-user.target
        [ -n "$ROOT" ] || say "boot target was ${current:-unknown}: now the console; reboot" \
            "so the desktop lets go of the screen"
    fi
    if [ -z "$ROOT" ] && ! grep -qs 'video=' /proc/cmdline; then
        say "a panel powered up after the Pi needs video=<connector>:<mode>D in" \
            "/boot/firmware/cmdline.txt (see the top of this script)"
    fi
}

install_unit() {
    mkdir -p "$(dirname "$UNIT")"
    install -m 0644 "$SRC/deploy/kiosk.service" "$UNIT"
    act systemctl daemon-reload
    act systemctl enable kiosk.service
    if [ -s "$ETC/credentials/diia-acquirer-token" ] && [ -s "$ETC/credentials/diia-auth-token" ]
    then
        act systemctl restart kiosk.service
    else
        say "not started: the Diia secrets are missing; then: systemctl start kiosk"
    fi
}

main() {
    check_system
    if [ -n "$ROOT" ]; then
        mkdir -p "$ROOT"
        : >"$LOG"
    fi
    install_packages
    create_user
    install_venv
    install_config
    install_system_files
    boot_to_console
    install_unit
    say "done; check with: sudo /opt/kiosk/venv/bin/kiosk doctor"
}

# Run, unless sourced (the tests call its functions on their own).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    main
fi
