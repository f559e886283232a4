#!/usr/bin/env bash
# Deploy script of Next.js's deploy-test harness (NEXT_TEST_DEPLOY_SCRIPT_PATH).
#
# Runs with cwd = the test app (a package.json, nothing installed) and ADAPTER_DIR = this package.
# Installs the app and @acme/next-adapter (from this package's `npm run pack` tarballs, as a user
# would get it), builds through the adapter with NEXT_ADAPTER_PATH (zero-config), starts
# `acme-next start` on a free loopback port in the background, and prints ONLY the URL on stdout.
# Diagnostics go to stderr and to .adapter-build.log / .adapter-server.log in the app directory;
# the server's PID goes to .adapter-server.pid for e2e-cleanup.sh. Exits non-zero on any failure.
set -euo pipefail

APP_DIR="${NEXT_TEST_DIR:-$PWD}"
cd "$APP_DIR"
: "${ADAPTER_DIR:?ADAPTER_DIR must name the @acme/next-adapter package directory}"
ADAPTER_DIR="$(cd "$ADAPTER_DIR" && pwd)"

BUILD_LOG="$APP_DIR/.adapter-build.log"
SERVER_LOG="$APP_DIR/.adapter-server.log"
PID_FILE="$APP_DIR/.adapter-server.pid"
: >"$BUILD_LOG"

say() { echo "[acme e2e-deploy] $*" | tee -a "$BUILD_LOG" >&2; }
# Runs a command with its output in the build log and on stderr, never on stdout.
logged() { "$@" 2>&1 | tee -a "$BUILD_LOG" >&2; return "${PIPESTATUS[0]}"; }

say "packing the adapter from $ADAPTER_DIR"
TARBALLS="$(node "$ADAPTER_DIR/scripts/pack.js" 2>>"$BUILD_LOG")"
# shellcheck disable=SC2086
set -- $TARBALLS
[ "$#" -ge 2 ] || { say "npm run pack produced no tarballs"; exit 1; }

say "installing the app and the adapter"
logged npm install --no-audit --no-fund "$@"

# A deployment id baked into the build (skew protection) and reported to the harness.
DEPLOYMENT_ID="acme-$(node -e "process.stdout.write(require('crypto').randomBytes(6).toString('hex'))")"
export NEXT_DEPLOYMENT_ID="$DEPLOYMENT_ID"
NEXT_ADAPTER_PATH="$(node -p "require.resolve('@acme/next-adapter')")"
export NEXT_ADAPTER_PATH
export NEXT_TELEMETRY_DISABLED=1

say "building with NEXT_ADAPTER_PATH=$NEXT_ADAPTER_PATH"
if node -e "process.exit(require('./package.json').scripts?.build ? 0 : 1)"; then
  logged npm run build
else
  logged node node_modules/next/dist/bin/next build
fi
[ -f .acme/output/manifest.json ] || { say "the build wrote no .acme/output/manifest.json"; exit 1; }

BUILD_ID="$(cat .next/BUILD_ID)"
# The runtime does not serve an immutable asset namespace yet: declaring support would change
# which asset URLs the harness expects.
SUPPORTS_IMMUTABLE=0
{
  echo "BUILD_ID: $BUILD_ID"
  echo "DEPLOYMENT_ID: $DEPLOYMENT_ID"
  echo "NEXT_SUPPORTS_IMMUTABLE_ASSETS: $SUPPORTS_IMMUTABLE"
  echo "IMMUTABLE_ASSET_TOKEN: undefined"
} >>"$BUILD_LOG"

PORT="$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})")"
say "starting acme-next on 127.0.0.1:$PORT"
: >"$SERVER_LOG"
# Detached, with no fd shared with the harness: it must not wait for the server to exit.
DETACH=()
command -v setsid >/dev/null 2>&1 && DETACH=(setsid)
NEXT_DEPLOYMENT_ID="$DEPLOYMENT_ID" nohup "${DETACH[@]}" node node_modules/@acme/next-adapter/runtime/cli.js start \
  --dir .acme/output --port "$PORT" --hostname 127.0.0.1 </dev/null >>"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
echo "$SERVER_PID" >"$PID_FILE"

for _ in $(seq 1 120); do
  if grep -q "ready on http://" "$SERVER_LOG" 2>/dev/null; then
    echo "http://127.0.0.1:$PORT"
    exit 0
  fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    say "acme-next exited before it was ready:"
    cat "$SERVER_LOG" >&2
    exit 1
  fi
  sleep 0.5
done
say "acme-next was not ready within 60 s:"
cat "$SERVER_LOG" >&2
exit 1
