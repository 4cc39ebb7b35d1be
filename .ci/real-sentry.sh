#!/usr/bin/env bash
# The real Sentry 23.7.1 as a test tier (issue #21): up | down | env.
#   .ci/real-sentry.sh up      # from nothing: apt packages, a py3.8 venv with sentry==23.7.1,
#                              # its own Postgres, Redis and Snuba stand-in, `sentry run web`
#   eval "$(.ci/real-sentry.sh env)"   # SENTRY_REAL_* for `pytest -m realsentry`
#   .ci/real-sentry.sh summary # requests per client in the server's log, those answered >= 400
#   .ci/real-sentry.sh down    # stops only what `up` started
# State, logs and the venv live in .ci/real-sentry/ (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 tests/realserver/server.py "${1:-up}"
