#!/usr/bin/env bash
# The fleet's signed apt repository (reprepro), on the machine that publishes it.
#
#   deploy/fleet/repo.sh keygen              make the ed25519 signing key (once)
#   deploy/fleet/repo.sh key FILE            write the public key for the kiosks' Signed-By
#   deploy/fleet/repo.sh publish DEB...      add packages to the canary ring
#   deploy/fleet/repo.sh promote VERSION     the canary's diia-kiosk VERSION goes to stable
#   deploy/fleet/repo.sh refresh             sign again with a new Valid-Until (daily)
#   deploy/fleet/repo.sh list                what each ring holds
#
# KIOSK_REPO (default /srv/diia-kiosk-apt) holds reprepro's database in db/ and what is
# served in public/ (dists/, pool/): serve public/ over HTTPS. The key lives in GNUPGHOME
# (default KIOSK_REPO/gnupg, 0700); keep a copy offline. The configuration is
# deploy/fleet/repo/conf: suites canary and stable, Origin diia-kiosk-fleet (what the
# kiosks' unattended-upgrades accept), ValidFor: 7d. A Release is good for 7 days, so a
# mirror or an attacker replaying an old one cannot hold kiosks on an old version for
# longer: run `refresh` daily (repo/diia-kiosk-apt-refresh.timer), or the kiosks stop taking
# updates after 7 days.
set -euo pipefail
CONF=$(cd "$(dirname "$0")/repo/conf" && pwd)
REPO=${KIOSK_REPO:-/srv/diia-kiosk-apt}
export GNUPGHOME=${GNUPGHOME:-$REPO/gnupg}
mkdir -p "$REPO" "$GNUPGHOME"
chmod 0700 "$GNUPGHOME"
reprepro() {
    command reprepro --silent --basedir "$REPO" --confdir "$CONF" --dbdir "$REPO/db" \
        --outdir "$REPO/public" "$@"
}
usage() { sed -n '2,/^set -e/{/^set -e/!p}' "$0" >&2; exit 2; }

case "${1:-}" in
    keygen)
        if gpg --batch --list-secret-keys 2>/dev/null | grep -q '^sec'; then
            echo "repo.sh: $GNUPGHOME already holds a key" >&2; exit 1
        fi
        gpg --batch --pinentry-mode loopback --passphrase '' \
            --quick-generate-key "Diia kiosk fleet <fleet@diia-kiosk.invalid>" ed25519 sign 3y
        ;;
    key)
        [ $# -eq 2 ] || usage
        gpg --batch --armor --export >"$2"
        ;;
    publish)
        [ $# -ge 2 ] || usage
        shift
        for deb in "$@"; do reprepro includedeb canary "$deb"; done
        ;;
    promote)
        [ $# -eq 2 ] || usage
        version=$2
        reprepro copyfilter stable canary "Package (== diia-kiosk), Version (== $version)"
        reprepro list stable diia-kiosk | grep -q " $version\$" \
            || { echo "repo.sh: canary has no diia-kiosk $version" >&2; exit 1; }
        ;;
    refresh)
        reprepro export
        ;;
    list)
        reprepro list canary
        reprepro list stable
        ;;
    *) usage ;;
esac
