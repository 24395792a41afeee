#!/bin/bash
# Boot systemd as PID 1 on a root of its own. Run by tests/system as
#   unshare --mount --pid --fork --net --cgroup --kill-child -- bash boot.sh BASE LOWER \
#       [HOST_DIR:INSIDE_DIR ...]
# (after moving itself into a cgroup of its own), so this script is PID 1 of fresh PID, mount,
# network and cgroup namespaces. LOWER is a Debian root (made by mmdebstrap, see
# debian_root.py); it is never written to: the root booted is an overlay of it whose upper
# layer is a tmpfs, and /run, /tmp and /var/tmp are fresh tmpfs. Nothing it mounts is seen
# outside, and no write reaches the host's file system. Each HOST_DIR is bound read-only at
# INSIDE_DIR.
set -euo pipefail
BASE=$1 LOWER=$2
shift 2
mount --make-rprivate /
mount -t tmpfs -o mode=0755 kiosk-systest "$BASE"
mkdir -p "$BASE/upper" "$BASE/work" "$BASE/root"
mount -t overlay kiosk-systest -o "lowerdir=$LOWER,upperdir=$BASE/upper,workdir=$BASE/work" \
    "$BASE/root"
R=$BASE/root
mount -t proc proc "$R/proc"
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$R/sys/fs/cgroup"
mount -t tmpfs -o mode=0755,nosuid,size=64m kiosk-dev "$R/dev"
for node in null zero full random urandom tty; do
    touch "$R/dev/$node"
    mount --bind "/dev/$node" "$R/dev/$node"
done
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/dev/shm"
for dir in run tmp var/tmp; do
    mount -t tmpfs -o mode=1777,nosuid,nodev,size=256m "kiosk-$dir" "$R/$dir"
done
chmod 0755 "$R/run"
for pair in "$@"; do
    mkdir -p "$R${pair#*:}"
    mount --bind "${pair%%:*}" "$R${pair#*:}"
    mount -o remount,bind,ro "$R${pair#*:}"
done
: >"$R/etc/fstab"  # no disks or swap for the fstab generator
rm -f "$R/etc/machine-id" && touch "$R/etc/machine-id"
# Units that touch hardware, the host's kernel settings or the network: masked. The apt
# timers too: the tests start apt's services themselves.
for unit in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
    systemd-udev-trigger.service systemd-udev-settle.service systemd-modules-load.service \
    kmod-static-nodes.service systemd-sysctl.service systemd-binfmt.service \
    proc-sys-fs-binfmt_misc.automount systemd-networkd.service systemd-networkd.socket \
    systemd-resolved.service systemd-timesyncd.service networking.service \
    getty@.service console-getty.service serial-getty@.service getty.target \
    systemd-logind.service cron.service ssh.service systemd-remount-fs.service \
    systemd-random-seed.service sys-kernel-debug.mount sys-kernel-tracing.mount \
    sys-kernel-config.mount sys-fs-fuse-connections.mount dev-hugepages.mount \
    dev-mqueue.mount systemd-firstboot.service systemd-hwdb-update.service \
    apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
    systemd-pstore.service systemd-update-utmp.service; do
    ln -sf /dev/null "$R/etc/systemd/system/$unit"
done
cd "$R"
mkdir -p .oldroot
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot
# systemd skips this when it sees a container; LoadCredential= needs it.
mount --make-rshared /
exec env -i container=kiosk-systest /lib/systemd/systemd --system --unit=multi-user.target \
    --log-target=journal --show-status=no
