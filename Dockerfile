# Cambodia PROTECT helpline referral bot.
#
#   docker build -t helpline-bot .          (buildah/podman: add --format docker, or HEALTHCHECK is dropped)
#   docker run -d --name helpline-bot --restart unless-stopped \
#     --env-file /etc/helpline-bot.env -v helpline-data:/data helpline-bot
#
# Configuration comes only from environment variables (see docs/deploy.md):
#   TELEGRAM_BOT_TOKEN, TELEGRAM_API_BASE_URL, HELPLINE_WEBHOOK_URL, HELPLINE_WEBHOOK_LISTEN,
#   HELPLINE_WEBHOOK_PORT, HELPLINE_WEBHOOK_SECRET, HELPLINE_HASH_KEY, HELPLINE_KEY_FILE, HELPLINE_RETENTION_DAYS,
#   HELPLINE_STAFF_IDS.
# No secret is set here or baked into the image: pass them with -e or --env-file at run time.

# Pinned by exact tag; to update, change the tag (and rebuild), see docs/deploy.md.
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    HELPLINE_DB=/data/helpline.db \
    HELPLINE_KEY_FILE=/keys/month-keys \
    HELPLINE_WEBHOOK_LISTEN=0.0.0.0 \
    HELPLINE_WEBHOOK_PORT=8443

# A dedicated user without a login shell or home; /data is the only place it may write.
RUN groupadd --system --gid 10001 helpline \
    && useradd --system --uid 10001 --gid helpline --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin helpline \
    && mkdir /data \
    && chown helpline:helpline /data \
    && chmod 0700 /data \
    && install -d -m 0700 -o helpline -g helpline /keys

# Dependencies first, every one (transitive included) pinned with its hashes in requirements.lock
# (refreshed by scripts/lock.sh), so a changed or substituted package fails the build. Then the
# project itself without dependencies: its wheel carries intents/ and directory/ inside the
# package (hatch force-include), so the content is baked into the image. The sources are removed.
COPY requirements.lock /src/
RUN pip install --no-cache-dir --require-hashes -r /src/requirements.lock
COPY pyproject.toml README.md /src/
COPY bot/ /src/bot/
COPY intents/ /src/intents/
COPY directory/ /src/directory/
RUN pip install --no-cache-dir --no-deps /src \
    && rm -rf /src \
    && helpline-bot check

WORKDIR /data
# /keys holds the month key behind the count of people, apart from the database (docs/privacy-and-statistics.md).
VOLUME ["/data", "/keys"]
# Numeric, so the host and orchestrators (runAsNonRoot) can resolve it: helpline:helpline.
USER 10001:10001

# Only used in webhook mode (HELPLINE_WEBHOOK_URL set): inside a container the bot must listen on
# 0.0.0.0 to be reachable through a published port. Polling needs no open port.
EXPOSE 8443

# Healthy only while updates are being received: the polling loop refreshes a heartbeat file
# beside the database after every answer from Telegram (webhook mode: every 30 s, when Telegram
# confirms it delivers to us). A revoked token stops the container instead (exit code 2).
# buildah/podman keep this only with `--format docker` (docs/operations.md).
HEALTHCHECK --interval=1m --timeout=30s --start-period=1m --retries=3 \
    CMD ["helpline-bot", "health"]

ENTRYPOINT ["helpline-bot"]
CMD ["run"]
