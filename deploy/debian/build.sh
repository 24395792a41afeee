#!/usr/bin/env bash
# Builds dist/diia-kiosk_<version>_<arch>.deb (run through `./dev.sh deb [ARCH]`).
#
#   deploy/debian/build.sh [arm64|amd64]      default: this machine's architecture
#   DEB_VERSION=0.1.0-2 deploy/debian/build.sh    another Debian version than <pyproject>-1
#
# The kiosk's own wheel, and the wheels of its requirements for the target architecture
# (pip download --platform: no compiler, no emulation), go into the package with a
# hash-pinned list; postinst installs them with no index. What apt provides (apt-provided)
# is left out.
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=$PWD
ARCH=${1:-$(dpkg --print-architecture)}
case "$ARCH" in
    arm64) MACHINE=aarch64 ;;
    amd64) MACHINE=x86_64 ;;
    *) echo "build.sh: ARCH is arm64 (the Pi) or amd64, not $ARCH" >&2; exit 2 ;;
esac
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && PY=.venv/bin/python
# Bookworm's Python and C library: 3.11, glibc 2.36 (Raspberry Pi OS Bookworm is the same).
PY_VERSION=3.11
PLATFORMS=()
for minor in $(seq 36 -1 17); do PLATFORMS+=(--platform "manylinux_2_${minor}_$MACHINE"); done
PLATFORMS+=(--platform "manylinux2014_$MACHINE")
[ "$MACHINE" = x86_64 ] && PLATFORMS+=(--platform manylinux2010_x86_64 --platform manylinux1_x86_64)

UPSTREAM=$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
VERSION=${DEB_VERSION:-$UPSTREAM-1}
WORK=build/deb/$ARCH
STAGE=$WORK/diia-kiosk-$UPSTREAM
rm -rf "$WORK"
mkdir -p "$STAGE/wheels" dist
say() { echo "deb: $*" >&2; }

# The package's sources: packaging files, unit, appliance config, fleet files, README.
cp -r deploy/debian "$STAGE/debian"
rm -f "$STAGE/debian/build.sh" "$STAGE/debian/wheelhouse.py"
cp deploy/kiosk.service deploy/modules-load.conf README.md "$STAGE/"
# The example with every default, switched to the appliance's full screen.
sed -e 's/^fullscreen = false/fullscreen = true/' config/kiosk.example.toml >"$STAGE/kiosk.toml"
cp -r deploy/fleet/kiosk "$STAGE/fleet"
DATE=$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")
cat >"$STAGE/debian/changelog" <<CHANGES
diia-kiosk ($VERSION) bookworm; urgency=medium

  * Built from diia-kiosk $UPSTREAM.

 -- Diia kiosk maintainers <kiosk-maintainers@example.org>  $DATE
CHANGES

say "the kiosk's wheel"
PIP=("$PY" -m pip --disable-pip-version-check)
"${PIP[@]}" wheel --quiet --no-deps --wheel-dir "$STAGE/wheels" "$SRC"
say "wheels for $ARCH (cp311, manylinux up to glibc 2.36)"
"$PY" deploy/debian/wheelhouse.py wants pyproject.toml deploy/debian/apt-provided \
    >"$WORK/wants.txt"
"${PIP[@]}" download --quiet --only-binary=:all: --implementation cp \
    --python-version "$PY_VERSION" --abi "cp${PY_VERSION/./}" "${PLATFORMS[@]}" \
    --dest "$STAGE/wheels" -r "$WORK/wants.txt"
"$PY" deploy/debian/wheelhouse.py lock "$STAGE/wheels" deploy/debian/apt-provided \
    "$STAGE/requirements.txt"

say "dpkg-buildpackage -a$ARCH ($VERSION)"
(cd "$STAGE" && dpkg-buildpackage --host-arch="$ARCH" --build=binary --no-sign \
    --no-check-builddeps >"$SRC/$WORK/build.log" 2>&1) \
    || { tail -40 "$WORK/build.log" >&2; exit 1; }
DEB=diia-kiosk_${VERSION#*:}_$ARCH.deb
mv "$WORK/$DEB" dist/
say "dist/$DEB ($(du -k "dist/$DEB" | cut -f1) KiB)"
