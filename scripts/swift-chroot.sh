#!/usr/bin/env bash
# Run a command inside the Swift chroot made by scripts/setup-swift.sh (Debian trixie + swiftlang).
#
#   scripts/swift-chroot.sh [-C DIR] [--bind DIR]... [-e NAME=VALUE]... [--no-repo] CMD [ARG...]
#
#   -C DIR        working directory inside the chroot (default: the current directory when it is
#                 inside the repo or a --bind DIR, else /)
#   --bind DIR    also bind-mount host DIR at the same absolute path (e.g. a CARGO_TARGET_DIR
#                 outside the repo); may be repeated
#   -e NAME=VAL   set an environment variable inside (the environment is otherwise clean:
#                 HOME=/root, a standard PATH, LANG=C.UTF-8, TERM)
#   --no-repo     do not bind-mount the repo (used by setup-swift.sh)
#
# The repo (this script's checkout) is bind-mounted at its own absolute path, so
#   scripts/swift-chroot.sh -C "$PWD/ios" swift test
# works on a package inside the clone. Everything runs in a private mount namespace
# (unshare -m): /proc, /sys, /dev and the binds vanish when the command exits, so nothing is
# left mounted on the host and deleting the cache can never reach into the repo.
# Exit status is the command's. Needs root (mount, chroot).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT="${POCKETLM_SWIFT_CHROOT:-$POCKETLM_CACHE/swift-chroot}"

if [ -z "${_POCKETLM_IN_NS:-}" ]; then
  need_root "mount and chroot"
  [ -x "$ROOT/usr/bin/apt-get" ] || die "no chroot at $ROOT: run scripts/setup-swift.sh first"
  _POCKETLM_IN_NS=1 exec unshare --mount --propagation private -- "$BASH" "${BASH_SOURCE[0]}" "$@"
fi

# --- inside the private mount namespace ---
cwd= bind_repo=1 binds=() envs=()
while [ $# -gt 0 ]; do
  case "$1" in
    -C) cwd="$2"; shift 2 ;;
    --bind) binds+=("$(cd "$2" && pwd)"); shift 2 ;;
    -e) envs+=("$2"); shift 2 ;;
    --no-repo) bind_repo=; shift ;;
    --) shift; break ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || die "no command given (see --help)"
[ -n "$bind_repo" ] && binds=("$REPO_ROOT" "${binds[@]}")

mount -t proc proc "$ROOT/proc"
mount --rbind /sys "$ROOT/sys"
mount --rbind /dev "$ROOT/dev"
# mkdir -p on a fresh path inside the chroot is harmless (it stays an empty directory).
for d in "${binds[@]}"; do
  mkdir -p "$ROOT$d"
  mount --bind "$d" "$ROOT$d"
done
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true

if [ -z "$cwd" ]; then
  cwd=/
  for d in "${binds[@]}"; do
    case "$PWD/" in "$d"/*) cwd="$PWD"; break ;; esac
  done
fi

exec chroot "$ROOT" /usr/bin/env -i \
  HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  LANG=C.UTF-8 TERM="${TERM:-dumb}" "${envs[@]}" \
  /bin/sh -c 'cd "$1" || exit 1; shift; exec "$@"' sh "$cwd" "$@"
