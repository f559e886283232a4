#!/usr/bin/env bash
# Cleanup script of Next.js's deploy-test harness (NEXT_TEST_CLEANUP_SCRIPT_PATH).
# Stops exactly the server e2e-deploy.sh started (by its recorded PID, after checking that the
# PID still belongs to acme-next) and removes what the deploy created: the output, the cache and
# the PID file. The logs stay for the logs script.
set -euo pipefail

APP_DIR="${NEXT_TEST_DIR:-$PWD}"
cd "$APP_DIR"
PID_FILE=.adapter-server.pid

if [ -f "$PID_FILE" ]; then
  PID="$(cat "$PID_FILE")"
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    # A PID can be reused by an unrelated process once ours has exited: only signal ours.
    if tr '\0' ' ' <"/proc/$PID/cmdline" 2>/dev/null | grep -q "runtime/cli.js start"; then
      kill -TERM "$PID" 2>/dev/null || true
      for _ in $(seq 1 40); do
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.25
      done
      if kill -0 "$PID" 2>/dev/null; then
        echo "[acme e2e-cleanup] $PID did not stop on SIGTERM within 10 s; sending SIGKILL" >&2
        kill -KILL "$PID" 2>/dev/null || true
      fi
    else
      echo "[acme e2e-cleanup] PID $PID is not acme-next any more; left alone" >&2
    fi
  fi
  rm -f "$PID_FILE"
fi
rm -rf .acme
