#!/usr/bin/env bash
# Install Swift 6.0 (Debian trixie's `swiftlang`: swift, swiftc, SwiftPM, XCTest, Swift Testing)
# into a Debian trixie chroot under the cache, for the Swift binding tests.
#
#   scripts/setup-swift.sh          install if needed (quiet when already done)
#   scripts/setup-swift.sh --print  also print the chroot path and `swift --version`
#
# Chroot: ${POCKETLM_CACHE:-~/.cache/pocketlm}/swift-chroot (override: POCKETLM_SWIFT_CHROOT).
# Run things in it with scripts/swift-chroot.sh (repo bind-mounted at the same path).
# From scratch: ~2.6 GB, a few minutes. A marker file makes reruns instant; a half-finished run
# (interrupted debootstrap or apt) is detected and resumed or redone. Needs root.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SUITE=trixie
PKGS=(swiftlang)
ROOT="${POCKETLM_SWIFT_CHROOT:-$POCKETLM_CACHE/swift-chroot}"
PARTIAL="$ROOT.partial"
MARKER="$ROOT/.pocketlm-swift-ready"   # (/usr/bin/swift is an absolute symlink: test the target)
STAMP="suite=$SUITE pkgs=${PKGS[*]} v1"
print=; [ "${1:-}" = --print ] && print=1

chroot_run() { "$REPO_ROOT/scripts/swift-chroot.sh" --no-repo "$@"; }

report() {
  [ -n "$print" ] || return 0
  echo "SWIFT_CHROOT=$ROOT"
  chroot_run swift --version 2>&1 | head -n1
}

if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$STAMP" ] && [ -x "$ROOT/usr/libexec/swift/bin/swift" ]; then
  report; exit 0
fi

need_root "debootstrap, mount and chroot"
start=$SECONDS

# Remove a directory tree that may still have something mounted under it (from an older run or
# a crash), without ever crossing into a mounted filesystem (e.g. a bind-mounted repo).
safe_rm() {
  local dir="$1" m
  [ -e "$dir" ] || return 0
  dir="$(cd "$dir" && pwd -P)"
  while read -r m; do
    umount -R -l "$m" 2>/dev/null || true
  done < <(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  rm -rf --one-file-system "$dir"
}

apt_ensure debootstrap

# 1. debootstrap into $PARTIAL, moved to $ROOT only once it completed.
if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
  [ -e "$ROOT" ] && { log "removing incomplete chroot $ROOT"; safe_rm "$ROOT"; }
  [ -e "$PARTIAL" ] && { log "removing half-finished debootstrap $PARTIAL"; safe_rm "$PARTIAL"; }
  mirror="$(debian_mirror)"
  log "debootstrap --variant=minbase $SUITE from $mirror (about a minute)"
  mkdir -p "$(dirname "$ROOT")"
  if ! debootstrap --variant=minbase "$SUITE" "$PARTIAL" "$mirror" >"$PARTIAL.log" 2>&1; then
    tail -n 20 "$PARTIAL.log" >&2
    die "debootstrap failed (full log: $PARTIAL.log)"
  fi
  mv "$PARTIAL" "$ROOT"
  rm -f "$PARTIAL.log"
fi

# 2. packages inside (resumes an interrupted dpkg run; apt-get install is idempotent).
rm -f "$MARKER"
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"; chmod +x "$ROOT/usr/sbin/policy-rc.d"
log "installing ${PKGS[*]} inside the chroot (about 2.5 GB)"
in_chroot_apt() {
  chroot_run -e DEBIAN_FRONTEND=noninteractive /bin/sh -ec '
    dpkg --configure -a >/dev/null
    apt-get update -qq
    apt-get install -y -qq -o Dpkg::Use-Pty=0 "$@" >/dev/null
    apt-get clean' sh "${PKGS[@]}"
}
if ! in_chroot_apt; then
  log "apt inside the chroot failed; retrying once with apt-get -f install"
  chroot_run -e DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -f >/dev/null || true
  in_chroot_apt || die "could not install ${PKGS[*]} in $ROOT (delete it and rerun to start over)"
fi

ver="$(chroot_run swift --version 2>&1 | head -n1)" || die "swift does not run in the chroot: $ver"
echo "$STAMP" >"$MARKER"
log "ready in $((SECONDS - start)) s: $ver (chroot $ROOT, $(du -sh --one-file-system "$ROOT" | cut -f1))"
report
