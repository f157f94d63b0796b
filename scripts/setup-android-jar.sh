#!/usr/bin/env bash
# Fetch a real Android API 23 `android.jar` for the Android compile check (scripts/check-android.sh),
# without an Android SDK and without touching the machine's apt configuration:
#   - Debian bullseye's `libandroid-23-java` (architecture `all`) ships
#     /usr/lib/android-sdk/platforms/android-23/android.jar;
#   - apt-get runs with a PRIVATE sources list, state and cache under $POCKETLM_CACHE/android-jar/apt
#     (`-o Dir::Etc::SourceList=... -o Dir::State=... -o Dir::Cache=...`): `update` + `download`
#     only, nothing is installed, the machine's sources and package lists are left alone;
#   - the .deb is unpacked with `dpkg-deb -x` and android.jar kept in the cache.
#
#   scripts/setup-android-jar.sh          fetch if needed (quiet when done)
#   scripts/setup-android-jar.sh --print  also print the jar's path
# Result: $POCKETLM_CACHE/android-jar/android-23/android.jar (marker: .ready next to it).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGE=libandroid-23-java
SUITE=bullseye
DIR="$POCKETLM_CACHE/android-jar"
JAR="$DIR/android-23/android.jar"
MARKER="$DIR/android-23/.ready"
STAMP="$PACKAGE $SUITE v1"
print=; [ "${1:-}" = --print ] && print=1

if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$STAMP" ] && [ -s "$JAR" ]; then
  [ -n "$print" ] && echo "$JAR"
  exit 0
fi
command -v apt-get >/dev/null || die "apt-get is needed to fetch $PACKAGE (a Debian/Ubuntu machine)"
command -v dpkg-deb >/dev/null || die "dpkg-deb is needed to unpack $PACKAGE"
start=$SECONDS
rm -f "$MARKER"

apt_dir="$DIR/apt"
mkdir -p "$apt_dir/etc/sources.list.d" "$apt_dir/etc/preferences.d" "$apt_dir/state/lists/partial" \
  "$apt_dir/cache/archives/partial" "$DIR/deb"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || die "$keyring is missing (the debian-archive-keyring package)"

# bullseye lives on the normal mirror while it is supported, then on archive.debian.org: try both.
mirrors=("$(debian_mirror)")
[ "${mirrors[0]}" = http://archive.debian.org/debian ] || mirrors+=(http://archive.debian.org/debian)

apt_private() {
  apt-get -q \
    -o Dir::Etc::SourceList="$apt_dir/etc/sources.list" \
    -o Dir::Etc::SourceParts="$apt_dir/etc/sources.list.d" \
    -o Dir::Etc::Preferences="$apt_dir/etc/preferences" \
    -o Dir::Etc::PreferencesParts="$apt_dir/etc/preferences.d" \
    -o Dir::State="$apt_dir/state" \
    -o Dir::State::status=/dev/null \
    -o Dir::Cache="$apt_dir/cache" \
    -o Acquire::Languages=none \
    -o APT::Sandbox::User=root \
    -o APT::Get::List-Cleanup=0 \
    "$@"
}

deb=
for mirror in "${mirrors[@]}"; do
  echo "deb [signed-by=$keyring] $mirror $SUITE main" >"$apt_dir/etc/sources.list"
  log "apt-get update (private lists: $SUITE main from $mirror)"
  if ! apt_private update >"$apt_dir/update.log" 2>&1 || grep -qE '^(E:|Err:)' "$apt_dir/update.log"; then
    log "apt-get update from $mirror failed (see $apt_dir/update.log)"
    continue
  fi
  rm -f "$DIR/deb"/*.deb
  log "apt-get download $PACKAGE"
  if (cd "$DIR/deb" && apt_private download "$PACKAGE" >"$apt_dir/download.log" 2>&1); then
    deb="$(ls "$DIR/deb"/"${PACKAGE}"_*.deb 2>/dev/null | head -n1 || true)"
    [ -n "$deb" ] && break
  fi
  log "apt-get download $PACKAGE from $mirror failed (see $apt_dir/download.log)"
done
[ -n "$deb" ] || die "could not download $PACKAGE from Debian $SUITE (tried: ${mirrors[*]})"

tmp="$(mktemp -d "$DIR/.x-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$deb" "$tmp"
src="$(find "$tmp" -path '*/platforms/android-23/android.jar' | head -n1)"
[ -n "$src" ] && [ -s "$src" ] || die "$deb has no platforms/android-23/android.jar"
mkdir -p "$(dirname "$JAR")"
cp "$src" "$JAR.tmp" && mv "$JAR.tmp" "$JAR"
# Sanity: the jar must hold the framework classes the samples use.
if command -v unzip >/dev/null; then
  unzip -l "$JAR" 'android/inputmethodservice/InputMethodService.class' >/dev/null \
    || die "$JAR has no android/inputmethodservice/InputMethodService.class"
fi
rm -f "$deb"
echo "$STAMP" >"$MARKER"
log "ready in $((SECONDS - start)) s: $JAR ($(du -h "$JAR" | cut -f1), from $(basename "$deb"))"
[ -n "$print" ] && echo "$JAR"
exit 0
