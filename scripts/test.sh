#!/usr/bin/env bash
# Sets up and runs every check: content, lint, types, Dockerfile lint, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/helpline-bot check
.venv/bin/ruff check bot tests benchmarks
.venv/bin/mypy bot
[ ! -f Dockerfile ] || .venv/bin/hadolint Dockerfile
.venv/bin/python -m pytest -q "$@"
