#!/usr/bin/env bash
# Runs the training package's tests with the system Python (Debian's python3-torch etc.),
# the interpreter .ci/run installs them for.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d training/tests ]; then
  echo "test:python: training/tests does not exist yet; no Python tests to run."
  exit 0
fi
exec /usr/bin/python3 -m pytest -q training/tests
