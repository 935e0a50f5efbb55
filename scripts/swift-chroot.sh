#!/usr/bin/env bash
# Runs a command inside the Debian trixie root that holds the Swift toolchain
# (scripts/swift-toolchain.sh makes it).
#
#   TIDEPOOL_CHROOT_BINDS="/dir/a:/dir/b" scripts/swift-chroot.sh swift build ...
#
# /proc and /dev are mounted in the root, and each directory in TIDEPOOL_CHROOT_BINDS is
# bind-mounted at the same path inside it, so host paths mean the same thing on both sides. The
# command runs in the caller's working directory (which must be inside a bound directory, or
# exist in the root). Everything mounted is unmounted when the command ends, however it ends.
# The network namespace is the host's: loopback servers started on the host are reachable.
set -euo pipefail

root="${TIDEPOOL_TRIXIE_ROOT:-$HOME/.cache/tidepool-trixie}"
[ -d "$root/usr" ] || { echo "swift-chroot: no root at $root (run scripts/swift-toolchain.sh)" >&2; exit 1; }
[ $# -gt 0 ] || { echo "usage: swift-chroot.sh COMMAND [ARGS...]" >&2; exit 2; }

# One session at a time: sessions share the mount points.
exec 9>"$root.lock"
flock 9

# Sessions are serialised, so anything still mounted under the root was left by a session that
# was killed before its trap ran: unmount it, deepest first, so no bind mount of the repository
# outlives its session.
findmnt -rn -o TARGET | awk -v r="$root/" 'index($0, r) == 1' | sort -r | while read -r stale; do
    umount -R "$stale" 2>/dev/null || umount -l "$stale" 2>/dev/null || true
done

mounted=()
cleanup() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount -R "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mount -t proc proc "$root/proc"
mounted+=("$root/proc")
mount --rbind /dev "$root/dev"
mount --make-rslave "$root/dev"
mounted+=("$root/dev")

IFS=: read -r -a binds <<<"${TIDEPOOL_CHROOT_BINDS:-}"
for dir in "${binds[@]}"; do
    [ -n "$dir" ] || continue
    mkdir -p "$dir" "$root$dir"
    mount --bind "$dir" "$root$dir"
    mounted+=("$root$dir")
done

cwd="$PWD"
[ -d "$root$cwd" ] || cwd=/
env_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Not exec: the trap must run after the command.
status=0
chroot "$root" /usr/bin/env PATH="$env_path" HOME=/root sh -c 'cd "$1" && shift && exec "$@"' \
    sh "$cwd" "$@" || status=$?
exit "$status"
