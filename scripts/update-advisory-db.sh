#!/usr/bin/env bash
# Refreshes .ci/advisory-db, the snapshot of the RustSec advisory database
# that `cargo deny check advisories` reads offline (scripts/cargo-deny.sh; CI
# cannot reach GitHub). Only its crates/ folder is kept: the advisories for
# crates.io crates, all cargo-deny reads for this project.
#
#   scripts/update-advisory-db.sh [SOURCE]
#
# SOURCE is the database's git URL (default: GitHub) or a local clone of it.
# Then run scripts/cargo-deny.sh, read `git diff --stat .ci/advisory-db`, and
# commit the new snapshot with whatever deny.toml changes it calls for.
set -euo pipefail
cd "$(dirname "$0")/.."

source=${1:-https://github.com/rustsec/advisory-db}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

git clone --quiet --depth 1 "$source" "$tmp/db"
rm -rf .ci/advisory-db/crates
mkdir -p .ci/advisory-db
git -C "$tmp/db" archive HEAD crates | tar -x -C .ci/advisory-db
# Which upstream commit the snapshot is, and its date (the date cargo-deny
# is shown as the database's age).
git -C "$tmp/db" log -1 --format='commit %H%ndate %cI' >.ci/advisory-db/SNAPSHOT
echo "advisory database: $(tr '\n' ' ' <.ci/advisory-db/SNAPSHOT)"
