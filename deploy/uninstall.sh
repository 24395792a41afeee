#!/usr/bin/env bash
# Remove the Diia kiosk (the diia-kiosk package).
#
#   sudo deploy/uninstall.sh            stop and remove the service and the program;
#                                       keep /etc/kiosk (config, secrets) and /var/lib/kiosk
#   sudo deploy/uninstall.sh --purge    also remove those
set -euo pipefail
case "${1:-}" in
    "") exec apt-get remove -y diia-kiosk ;;
    --purge) exec apt-get purge -y diia-kiosk ;;
    *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
esac
