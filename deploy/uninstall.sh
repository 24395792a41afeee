#!/usr/bin/env bash
# Remove the Diia kiosk service installed by deploy/install.sh.
#
#   sudo deploy/uninstall.sh            stop and remove the service and the program;
#                                       keep /etc/kiosk (config, secrets) and /var/lib/kiosk
#   sudo deploy/uninstall.sh --purge    also remove those, and the kiosk user
#   deploy/uninstall.sh --root DIR      the same under DIR, recording commands it would run
#                                       in DIR/uninstall-actions.log
set -euo pipefail

ROOT=""
PURGE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --root) [ $# -ge 2 ] || { echo "usage: $0 [--root DIR] [--purge]" >&2; exit 2; }
                ROOT=$(realpath -m "$2"); shift 2 ;;
        --purge) PURGE=1; shift ;;
        *) echo "usage: $0 [--root DIR] [--purge]" >&2; exit 2 ;;
    esac
done
LOG=$ROOT/uninstall-actions.log

act() {
    if [ -n "$ROOT" ]; then
        printf '%q ' "$@" >>"$LOG"
        printf '\n' >>"$LOG"
    else
        "$@"
    fi
}

if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
    echo "kiosk uninstall: run as root" >&2
    exit 1
fi
[ -n "$ROOT" ] && : >"$LOG"

# `|| true`: removing what is already gone is not an error (safe to run twice).
act systemctl disable --now kiosk.service || true
rm -f "$ROOT/etc/systemd/system/kiosk.service"
rm -f "$ROOT/etc/modules-load.d/kiosk.conf" "$ROOT/etc/udev/rules.d/70-kiosk-scanner.rules"
act systemctl daemon-reload || true
rm -rf "$ROOT/opt/kiosk"
if [ "$PURGE" -eq 1 ]; then
    # The state holds the audit log and the accepted remote config; the secrets live in /etc.
    rm -rf "$ROOT/etc/kiosk" "$ROOT/var/lib/kiosk"
    if [ -n "$ROOT" ] || id kiosk >/dev/null 2>&1; then
        act userdel kiosk || true
    fi
    echo "kiosk uninstall: removed everything, config and secrets included" >&2
else
    echo "kiosk uninstall: removed; kept /etc/kiosk and /var/lib/kiosk (--purge removes them)" >&2
fi
