#!/usr/bin/env bash
# Installs the Swift toolchain the Swift binding is built and tested with.
#
# Debian bookworm has no Swift, and trixie's `swiftlang` needs trixie's libc, so the toolchain
# lives in a Debian trixie root made with debootstrap from the same Debian mirror the host's
# apt sources use. Commands run inside it with scripts/swift-chroot.sh.
#
# The root is cached (TIDEPOOL_TRIXIE_ROOT, default ~/.cache/tidepool-trixie). A finished root
# carries a marker file naming the installed package versions; a later run that finds it does
# nothing. A root left half-made by an interrupted run is removed and made again.
#
# Prints the root's path as its last line.
set -euo pipefail

root="${TIDEPOOL_TRIXIE_ROOT:-$HOME/.cache/tidepool-trixie}"
ready="$root/.tidepool-swift-ready"
bootstrapped="$root/.tidepool-debootstrap-ok"
# What the Swift package needs: the compiler and SwiftPM (swiftlang), and the C library headers
# and startup files the linker needs.
packages=(swiftlang libc6-dev)

log() { echo "swift-toolchain: $*" >&2; }

# The marker names every package asked for (the first column of dpkg-query's lines), so adding
# a package to the list makes the next run install it.
wanted="$(printf '%s\n' "${packages[@]}" | sort | tr '\n' ' ')"
installed() { cut -f1 "$ready" 2>/dev/null | sed 's/:.*//' | sort | tr '\n' ' '; }
# usr/bin/swift is an absolute symlink inside the root: test its target.
if [ -f "$ready" ] && [ "$(installed)" = "$wanted" ] && [ -x "$root/usr/libexec/swift/bin/swift" ]; then
    log "cached root $root ($(tr '\n' ' ' <"$ready"))"
    echo "$root"
    exit 0
fi

[ "$(id -u)" = 0 ] || { log "must run as root (debootstrap and chroot)"; exit 1; }

# Unmounts whatever an interrupted run left mounted under the root, deepest first.
unmount_all() {
    local m
    findmnt -rn -o TARGET | awk -v r="$root/" 'index($0, r) == 1' | sort -r | while read -r m; do
        umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
}

# The Debian mirror the host's apt uses; only that host is reachable.
mirror() {
    local uri
    uri="$(grep -rhoE '^(URIs:[[:space:]]*|deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
        /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
        grep -oE 'https?://[^[:space:]]+/debian/?' | head -n1 || true)"
    echo "${uri:-http://deb.debian.org/debian}"
}

start=$SECONDS
unmount_all
if [ -d "$root" ] && [ ! -f "$bootstrapped" ]; then
    log "removing the half-made root $root"
    if findmnt -rn -o TARGET | grep -q "^$root/"; then
        log "something is still mounted under $root; not removing it"
        exit 1
    fi
    rm -rf --one-file-system "$root"
fi

if [ ! -f "$bootstrapped" ]; then
    command -v debootstrap >/dev/null || {
        log "installing debootstrap"
        apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2
    }
    m="$(mirror)"
    log "debootstrap trixie from $m into $root"
    mkdir -p "$(dirname "$root")"
    debootstrap --variant=minbase trixie "$root" "$m" >&2
    touch "$bootstrapped"
fi

log "installing ${packages[*]} in the trixie root"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/swift-chroot.sh" sh -c "
    set -e
    export DEBIAN_FRONTEND=noninteractive
    # Finishes whatever an interrupted earlier install left unpacked.
    dpkg --configure -a
    apt-get update -q
    apt-get install -y -q --no-install-recommends ${packages[*]}
    apt-get clean
" >&2
bash "$here/swift-chroot.sh" swift --version >&2
bash "$here/swift-chroot.sh" dpkg-query -W "${packages[@]}" >"$ready.tmp"
mv "$ready.tmp" "$ready"
log "ready in $((SECONDS - start)) s: $(tr '\n' ' ' <"$ready")"
echo "$root"
