#!/usr/bin/env bash
# Checks examples/custom-orchestrator against the package as npm would ship it: builds
# plato-eas, packs it with `npm pack`, installs the tarball into a new project outside the
# repository, then type-checks, compiles and runs the example there. The example sees only what
# a user gets from npm — the "files" list, the "exports" map, the built .d.ts — so a missing
# export, a broken type declaration or a file left out of the tarball fails here.
#
# Usage: bash scripts/check-packed-example.sh   (from a clone after `npm ci`; needs the npm
# registry for typescript and @types/node, and a C++ toolchain or prebuilt binary for
# better-sqlite3). Everything happens in a temporary directory, removed on exit.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
example="$repo/examples/custom-orchestrator"
# The versions the example is checked with: the compiler the repository builds with, and the
# Node types of the oldest Node line plato-eas supports (engines: >=20.19).
typescript_spec='typescript@5.9.3'
node_types_spec='@types/node@20'

work=$(mktemp -d "${TMPDIR:-/tmp}/eas-packed-example.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/pack" "$work/project" "$work/logs"
started=$SECONDS

say() { printf '[check-packed-example %4ss] %s\n' "$((SECONDS - started))" "$*"; }

# Runs a command with its output in a log file; on failure prints the log and stops.
run() {
  local name=$1
  shift
  if ! "$@" >"$work/logs/$name.log" 2>&1; then
    printf '\n[check-packed-example] FAILED after %ss: %s\n' "$((SECONDS - started))" "$*" >&2
    printf '[check-packed-example] in %s; output:\n' "$PWD" >&2
    sed 's/^/    /' "$work/logs/$name.log" >&2
    exit 1
  fi
}

trap 'status=$?; printf "\n[check-packed-example] FAILED (exit %s) at line %s: %s\n" "$status" "$LINENO" "$BASH_COMMAND" >&2' ERR

cd "$repo"
say "building plato-eas (npm run build)"
run build npm run build

say "packing (npm pack) into $work/pack"
# The build just ran; --ignore-scripts keeps `prepare` from running it a second time.
run pack npm pack --ignore-scripts --pack-destination "$work/pack"
tarballs=("$work"/pack/*.tgz)
if [[ ${#tarballs[@]} -ne 1 || ! -f ${tarballs[0]} ]]; then
  echo "[check-packed-example] FAILED: expected one tarball in $work/pack, found: ${tarballs[*]}" >&2
  exit 1
fi
tarball=${tarballs[0]}
say "packed $(basename "$tarball") ($(du -k "$tarball" | cut -f1) kB, $(tar -tzf "$tarball" | wc -l) files)"

say "copying examples/custom-orchestrator into $work/project"
(cd "$example" && tar -cf - --exclude=./node_modules --exclude=./dist --exclude=./package-lock.json .) |
  (cd "$work/project" && tar -xf -)

cd "$work/project"
say "installing the tarball, $typescript_spec and $node_types_spec (npm install)"
run install npm install --no-audit --no-fund "$tarball" "$typescript_spec" "$node_types_spec"
say "installed plato-eas $(node -p 'require("plato-eas/package.json").version') from the tarball, typescript $(npx --no -- tsc --version | cut -d' ' -f2)"

say "type-checking the example (npx tsc --noEmit -p .)"
run typecheck npx --no -- tsc --noEmit -p .

say "compiling the example (npx tsc -p .)"
run compile npx --no -- tsc -p .

say "running the example (node dist/main.js)"
if ! node dist/main.js 2>&1 | sed 's/^/    /'; then
  echo "[check-packed-example] FAILED: the example exited non-zero (see its output above)" >&2
  exit 1
fi

say "passed"
