#!/usr/bin/env bash
# Installs what the aarch64 kernel tests and the mobile compile checks need (idempotent):
#   rustup targets aarch64-unknown-linux-gnu, aarch64-linux-android, aarch64-apple-ios;
#   Debian packages gcc-aarch64-linux-gnu (linker + sysroot) and qemu-user (runner).
# `apt-get update` runs at most once, and only when a package is missing.
set -euo pipefail

log() { printf '[setup-cross] %s\n' "$*" >&2; }
die() { printf '[setup-cross] error: %s\n' "$*" >&2; exit 1; }

command -v rustup >/dev/null || die "rustup not found: install Rust with rustup first"

targets=(aarch64-unknown-linux-gnu aarch64-linux-android aarch64-apple-ios)
installed="$(rustup target list --installed)"
missing_targets=()
for t in "${targets[@]}"; do
  grep -qx "$t" <<<"$installed" || missing_targets+=("$t")
done
if [ "${#missing_targets[@]}" -gt 0 ]; then
  log "rustup target add ${missing_targets[*]}"
  rustup target add "${missing_targets[@]}" >&2
fi

pkgs=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "needs root to apt-get install ${missing[*]}"
  log "apt-get update (missing: ${missing[*]})"
  apt-get update -qq >&2
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

command -v aarch64-linux-gnu-gcc >/dev/null || die "aarch64-linux-gnu-gcc missing after install"
command -v qemu-aarch64 >/dev/null || die "qemu-aarch64 missing after install"
log "ok: $(aarch64-linux-gnu-gcc --version | head -1); $(qemu-aarch64 --version | head -1)"
