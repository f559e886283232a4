#!/usr/bin/env bash
# Instructions per routed request of the Rust core, counted by valgrind (callgrind): a figure the
# machine's noise cannot move, for changes of a few percent that timings here cannot resolve.
#   bash bench/instructions.sh [fixture ...]      (default: the three bench fixtures)
# Needs valgrind and the corpora of `node bench/dump-corpus.js`. corpus_timing runs one untimed
# pass and then R timed passes; the count of a run with R=3 minus one with R=1, over 2 x N requests,
# leaves out loading the manifest and the corpus. Counts are not identical from run to run: a
# process falls into one of two modes (not ASLR, not mimalloc's purge timer): in the costlier
# one mimalloc's slow path, freeing and refetching pages, runs on every pass (~1.6k more
# instructions per app-router request). So each count is the least of RUNS runs (default 5),
# which is the cheaper mode unless every run fell into the other. `BIN=path` counts another
# corpus_timing build.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 1; }
runs=${RUNS:-5}
bin=${BIN:-}
if [ -z "$bin" ]; then
  cargo build -q --release -p acme-core --example corpus_timing
  bin=target/release/examples/corpus_timing
fi
fixtures=("$@")
[ ${#fixtures[@]} -gt 0 ] || fixtures=(app-router pages-router i18n-basepath)
count() { # fixture rounds -> the least instruction count of $runs runs
  for _ in $(seq "$runs"); do
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "bench/.work/manifest-$1.json" \
      "bench/.work/corpus-$1.json" "$2" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
  done | sort -n | head -1
}
for f in "${fixtures[@]}"; do
  [ -f "bench/.work/corpus-$f.json" ] || { echo "bench/.work/corpus-$f.json missing: run node bench/dump-corpus.js" >&2; exit 1; }
  n=$(node -e "console.log(require('./bench/.work/corpus-$f.json').length)")
  one=$(count "$f" 1)
  three=$(count "$f" 3)
  echo "$f: $(( (three - one) / 2 / n )) instructions/request"
done
