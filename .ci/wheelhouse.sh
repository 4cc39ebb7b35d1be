#!/usr/bin/env bash
# Downloads what the composite path of action.yml installs (the hash-pinned requirements, and
# setuptools and wheel to build the package) into .ci/.wheelhouse, so that
# tests/action/test_composite.py can run the composite's `run:` steps offline. Needs the network;
# run once before the tests (CI does). Without it that test is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
WH=.ci/.wheelhouse
mkdir -p "$WH"
python -m pip download -q --disable-pip-version-check --no-deps --only-binary :all: \
  --require-hashes -r requirements-action.txt -d "$WH"
python -m pip download -q --disable-pip-version-check --only-binary :all: \
  'setuptools>=68' wheel -d "$WH"
echo "wheelhouse: $(ls "$WH" | wc -l) files in $WH"
