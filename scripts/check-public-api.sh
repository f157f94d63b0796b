#!/usr/bin/env bash
# The public API of the `pocketlm` crate as rustdoc documents it, compared with the checked-in
# list rust/pocketlm/public-api.txt: fails when an item, method, variant, field or trait impl
# becomes public (or stops being public) without the list changing with it. Stable Rust only:
# it reads rustdoc's HTML (rustdoc JSON and `cargo public-api` need nightly). `#[doc(hidden)]`
# items (pocketlm::internals, for the CLI and the kernel tests) are not listed on purpose.
# Also the doc build of `make lint`: RUSTDOCFLAGS=-D warnings (broken links, bad doc markup).
#   scripts/check-public-api.sh            check
#   scripts/check-public-api.sh --update   accept a deliberate change (commit the list)
# PUBLIC_API_DOC=DIR: compare the pages in DIR instead of building them (its self-test,
# scripts/test-check-public-api.sh, edits a copy of the built pages).
set -euo pipefail
cd "$(dirname "$0")/.."
LIST=rust/pocketlm/public-api.txt
DOC=${PUBLIC_API_DOC:-}
if [ -z "$DOC" ]; then
  RUSTDOCFLAGS="-D warnings" ${CARGO:-cargo} doc --no-deps -p pocketlm --quiet
  DOC=${CARGO_TARGET_DIR:-target}/doc/pocketlm
fi

extract() {
  (cd "$DOC" && find . -name '*.html' | sort) | while read -r f; do
    page="$DOC/${f#./}"
    grep -q 'http-equiv="refresh"' "$page" && continue # a redirect, not an item
    rel=${f#./}
    dir=$(dirname "$rel")
    mod="pocketlm"
    [ "$dir" != "." ] && mod="pocketlm::${dir//\//::}"
    base=$(basename "$rel" .html)
    case "$base" in
      index) echo "mod $mod"; continue ;;
      struct.* | enum.* | fn.* | trait.* | type.* | constant.* | macro.* | static.* | union.*) ;;
      *) continue ;;
    esac
    kind=${base%%.*}
    name=${base#*.}
    echo "$kind $mod::$name"
    # Inherent members, variants and fields: everything before the trait impls.
    tr '<' '\n' <"$page" | sed -n '1,/id="trait-implementations"/p' |
      grep -oE 'id="(method|variant|structfield|tymethod|associatedconstant|associatedtype)\.[A-Za-z0-9_]+"' |
      sed -E 's/id="([a-z]+)\.([A-Za-z0-9_]+)"/\1 \2/' | sort -u |
      while read -r k n; do echo "  $k $mod::$name::$n"; done
    # Traits it implements, auto traits (Send, Sync...) included, blanket impls left out.
    tr '<' '\n' <"$page" | sed -n '/id="trait-implementations"/,/id="blanket-implementations"/p' |
      grep -oE 'id="impl-[A-Za-z0-9_%<>;&-]+-for-' | sed -E 's/id="impl-(.*)-for-/\1/' | sort -u |
      while read -r t; do echo "  impl $t for $mod::$name"; done
  done
}

got=$(extract)
if [ "${1:-}" = "--update" ]; then
  printf '%s\n' "$got" >"$LIST"
  echo "wrote $LIST ($(grep -c . "$LIST") lines)"
  exit 0
fi
if ! diff -u "$LIST" <(printf '%s\n' "$got"); then
  echo "check-public-api: the public API of pocketlm changed (+ new, - gone)." >&2
  echo "If that is deliberate, document it and run scripts/check-public-api.sh --update." >&2
  exit 1
fi
echo "check-public-api: $(grep -c . "$LIST") lines, unchanged"
