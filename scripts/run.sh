#!/usr/bin/env bash
# Sets up and starts the bot: Telegram when TELEGRAM_BOT_TOKEN is set, the console chat otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/helpline-bot "$@"
