#!/usr/bin/env bash
# Instructions per routed request of the Rust core, counted by valgrind (callgrind): a figure the
# machine's noise cannot move, for changes of a few percent that timings here cannot resolve.
#   bash bench/instructions.sh [fixture ...]      (default: the three bench fixtures)
# Needs valgrind and the corpora of `node bench/dump-corpus.js`. corpus_timing routes the corpus
# once untimed and 3 times timed, as the addon routes it; callgrind counts only inside the
# routing calls (`--toggle-collect` on `resolve_indexed_passthrough` and `replay_indexed`), so
# loading the manifest and the corpus, and the harness around the calls, are left out. That is
# why the binary is built with its symbols (a release build otherwise strips them), into its own
# target directory. Counts this way are the same run after run; each printed figure is the median
# of RUNS runs (default 3) all the same. (The earlier method, a whole run with 3 passes minus one
# with 1, mixed two modes of mimalloc's slow path between runs, ±1.5k instructions per request.)
# `BIN=path` counts another corpus_timing build (it must keep its symbols).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 1; }
runs=${RUNS:-3}
bin=${BIN:-}
if [ -z "$bin" ]; then
  CARGO_PROFILE_RELEASE_STRIP=false CARGO_TARGET_DIR=target/instructions \
    cargo build -q --release -p acme-core --example corpus_timing
  bin=target/instructions/release/examples/corpus_timing
fi
fixtures=("$@")
[ ${#fixtures[@]} -gt 0 ] || fixtures=(app-router pages-router i18n-basepath)
for f in "${fixtures[@]}"; do
  [ -f "bench/.work/corpus-$f.json" ] || { echo "bench/.work/corpus-$f.json missing: run node bench/dump-corpus.js" >&2; exit 1; }
  n=$(node -e "console.log(require('./bench/.work/corpus-$f.json').length)")
  counts=$(for _ in $(seq "$runs"); do
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
      --toggle-collect='*resolve_indexed_passthrough*' --toggle-collect='*replay_indexed*' \
      "$bin" "bench/.work/manifest-$f.json" "bench/.work/corpus-$f.json" 3 2>&1 |
      sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
  done | sort -n)
  median=$(echo "$counts" | sed -n "$(( (runs + 1) / 2 ))p")
  [ "${median:-0}" -gt 0 ] || { echo "$f: nothing counted (are the routing calls' symbols in $bin?)" >&2; exit 1; }
  echo "$f: $(( median / (4 * n) )) instructions/request"
done
