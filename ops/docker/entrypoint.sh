#!/bin/sh
# Entrypoint of the points image (origin, migrate, edge, sandbox). Two jobs, then `exec "$@"`:
#
# 1. dev profile only (WECHAT_ENV_DIR set): wait for the WeChat sandbox to publish this run's keys
#    in the shared volume (ops/docker/sandbox.ts) and export them. One file per variable because
#    the PEM keys span lines, which an env file cannot carry portably.
# 2. For each setting the origin can read from NAME_FILE, name every file that is missing (one
#    line each) and stop, before any service (migrate, edge, sandbox too) gets to start.
set -eu

if [ -n "${WECHAT_ENV_DIR:-}" ]; then
  limit="${WECHAT_ENV_WAIT_S:-120}"
  waited=0
  until [ -f "$WECHAT_ENV_DIR/ready" ]; do
    if [ "$waited" -ge "$limit" ]; then
      echo "entrypoint: no WeChat sandbox settings in $WECHAT_ENV_DIR after ${limit}s (is the dev profile up?)" >&2
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  for file in "$WECHAT_ENV_DIR"/WECHAT_*; do
    [ -f "$file" ] || continue
    name=$(basename "$file")
    case "$name" in *[!A-Z0-9_]*) continue ;; esac
    value=$(cat "$file")
    export "$name=$value"
  done
  echo "entrypoint: using the WeChat sandbox at ${WECHAT_PAY_BASE_URL:-?}" >&2
fi

missing=0
for name in DATABASE_URL DATABASE_READ_URL REDIS_URL JWT_SECRET EDGE_SIGNING_KEYS METRICS_TOKEN \
  WECHAT_APP_SECRET WECHAT_MCH_PRIVATE_KEY WECHAT_APIV3_KEY WECHAT_PAY_PUBLIC_KEY PHONE_ENCRYPTION_KEYS; do
  eval "file=\${${name}_FILE:-}"
  eval "value=\${${name}:-}"
  # A value set directly wins over NAME_FILE (the origin's rule), so a missing file is fine then.
  if [ -n "$file" ] && [ -z "$value" ] && [ ! -r "$file" ]; then
    echo "configuration: ${name}_FILE names $file, which does not exist or is not readable" >&2
    missing=1
  fi
done
[ "$missing" -eq 0 ] || exit 1

exec "$@"
