#!/usr/bin/env bash
# Writes requirements.lock: every runtime dependency (transitive included) pinned with its hashes,
# which the Dockerfile and the systemd install use (pip install --require-hashes). Run it after
# changing a dependency in pyproject.toml; add --upgrade to take newer versions of the transitive ones.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/pip-compile ] || bash scripts/setup.sh
.venv/bin/pip-compile --quiet --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links \
  --output-file requirements.lock "$@" pyproject.toml
