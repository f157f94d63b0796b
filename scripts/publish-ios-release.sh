#!/usr/bin/env bash
# Publishes an iOS release (.github/workflows/release.yml, after `make ios-release`):
#   1. attaches ios/PocketLMFFI.xcframework.zip to the GitHub release TAG of this repository
#      (creating the release if needed) with the `gh` CLI;
#   2. pushes the Swift package -- ios/ with Package.swift already pointing at that zip and its
#      checksum (scripts/build-ios.sh --release-url did it) -- to the root of the distribution
#      repository SWIFT_PACKAGE_REPO (default <owner>/pocketlm-swift) and tags it X.Y.Z, the
#      version SwiftPM resolves: `.package(url: "https://github.com/<owner>/pocketlm-swift",
#      from: "X.Y.Z")`. SwiftPM reads Package.swift at a repository's root, and this repository's
#      is in ios/, hence the second repository (as matrix-rust-sdk publishes
#      matrix-rust-components-swift). Pushing needs SWIFT_PACKAGE_TOKEN (a token with write access
#      to it); without one the step says so and fails.
#   scripts/publish-ios-release.sh TAG        (TAG = vX.Y.Z)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
tag="${1:?usage: scripts/publish-ios-release.sh vX.Y.Z}"
version="${tag#v}"
zip=ios/PocketLMFFI.xcframework.zip
[ -f "$zip" ] || die "$zip is missing: make ios-release"
grep -q "releases/download/$tag/PocketLMFFI.xcframework.zip" ios/Package.swift ||
  die "ios/Package.swift does not point at the $tag release asset: make ios-release VERSION=$version"
command -v gh >/dev/null || die "the gh CLI is needed"
gh release view "$tag" >/dev/null 2>&1 || gh release create "$tag" --verify-tag --title "PocketLM $version" --notes ""
gh release upload "$tag" "$zip" --clobber
log "ok: $zip attached to release $tag"

repo="${SWIFT_PACKAGE_REPO:-${GITHUB_REPOSITORY%%/*}/pocketlm-swift}"
[ -n "${SWIFT_PACKAGE_TOKEN:-}" ] ||
  die "SWIFT_PACKAGE_TOKEN is not set: cannot push the Swift package to $repo (create the repository and a token with write access to it)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
git clone --quiet "https://x-access-token:${SWIFT_PACKAGE_TOKEN}@github.com/$repo.git" "$work/pkg"
(cd "$work/pkg" && git rm -rq --ignore-unmatch . )
tar -C ios --exclude .build --exclude .swiftpm --exclude 'PocketLMFFI.xcframework*' -cf - . | tar -C "$work/pkg" -xf -
cd "$work/pkg"
git add -A
git -c user.name="PocketLM release" -c user.email="release@pocketlm.invalid" commit -qm "PocketLM $version"
git tag "$version"
git push --quiet origin HEAD "$version"
log "ok: Swift package $version pushed to $repo"
