#!/usr/bin/env bash
# Prepares the files docker-compose.yml expects under ops/secrets/ (never committed: see
# ops/secrets/.gitignore). Idempotent: existing files are left alone.
#
#   ops/docker/secrets-init.sh             metrics_token + an empty wechat/ directory
#   ops/docker/secrets-init.sh --dev-env   also a .env for a local stack on the WeChat sandbox
#                                          (dev profile), every secret random, alerts discarded
set -euo pipefail
cd "$(dirname "$0")/../.."

random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

mkdir -p ops/secrets/wechat
if [ ! -s ops/secrets/metrics_token ]; then
  (umask 022 && random_hex 32 >ops/secrets/metrics_token)
  echo "secrets-init: wrote ops/secrets/metrics_token"
fi
# Docker bind-mounts secret files with their host mode; the origin (uid 10001) and Prometheus
# (uid 65534) both read this one. 0644 is fine on a host that runs only this stack; elsewhere use
# ACLs (setfacl -m u:10001:r,u:65534:r) and 0600.
chmod 0644 ops/secrets/metrics_token

if [ "${1:-}" = "--dev-env" ]; then
  if [ -e .env ]; then
    echo "secrets-init: .env exists, leaving it alone"
    exit 0
  fi
  secrets="MYSQL_ROOT_PASSWORD MYSQL_MIGRATE_PASSWORD MYSQL_APP_PASSWORD MYSQL_READER_PASSWORD
    MYSQL_REPLICATION_PASSWORD MYSQL_EXPORTER_PASSWORD REDIS_PASSWORD UPSTASH_BRIDGE_TOKEN JWT_SECRET
    EDGE_SIGNING_SECRET GRAFANA_ADMIN_PASSWORD"
  # Port 9 is "discard": a local stack has nobody to page.
  overrides="COMPOSE_PROFILES=dev
WECHAT_ENV_DIR=/run/wechat-sandbox
PUBLIC_BASE_URL=http://origin:3000
ALERT_WEBHOOK_PAGE_URL=http://127.0.0.1:9/page
ALERT_WEBHOOK_CHAT_URL=http://127.0.0.1:9/chat
ALERT_WEBHOOK_TICKET_URL=http://127.0.0.1:9/ticket"
  (umask 077 && : >.env)
  while IFS= read -r line; do
    name="${line%%=*}"
    if [[ "$line" =~ ^[A-Z_]+=$ ]] && [[ " $(echo $secrets) " == *" $name "* ]]; then
      line="$name=$(random_hex 24)"
    fi
    if [ "$line" = "PHONE_ENCRYPTION_KEYS=" ]; then
      line="PHONE_ENCRYPTION_KEYS=k1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
    fi
    while IFS= read -r override; do
      [ "${override%%=*}" = "$name" ] && line="$override"
    done <<<"$overrides"
    printf '%s\n' "$line" >>.env
  done <ops/env.example
  echo "secrets-init: wrote .env for the dev profile (mode 0600); start with: docker compose up -d --build"
fi
