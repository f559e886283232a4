#!/usr/bin/env bash
# Logs script of Next.js's deploy-test harness (NEXT_TEST_DEPLOY_LOGS_SCRIPT_PATH).
# Prints the markers the harness parses (BUILD_ID, DEPLOYMENT_ID, NEXT_SUPPORTS_IMMUTABLE_ASSETS,
# and IMMUTABLE_ASSET_TOKEN, which the docs name), then the build and server logs.
set -euo pipefail

APP_DIR="${NEXT_TEST_DIR:-$PWD}"
cd "$APP_DIR"

if [ -f .adapter-build.log ]; then
  # Markers first, so a harness reading the head of the output finds them.
  grep -E '^(BUILD_ID|DEPLOYMENT_ID|NEXT_SUPPORTS_IMMUTABLE_ASSETS|IMMUTABLE_ASSET_TOKEN): ' .adapter-build.log || true
  echo "=== .adapter-build.log ==="
  cat .adapter-build.log
else
  echo "no .adapter-build.log in $APP_DIR (did e2e-deploy.sh run?)" >&2
  exit 1
fi
if [ -f .adapter-server.log ]; then
  echo "=== .adapter-server.log ==="
  cat .adapter-server.log
fi
