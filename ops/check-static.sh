#!/usr/bin/env bash
# Static checks of the deployment files: nothing is started, no Docker engine or network service
# is needed. Prints one "ok"/"FAIL" line per check (with the tool's output under a failure) and
# exits non-zero if any failed.
#
#   bash ops/check-static.sh
#
# Tools: docker compose (v2 plugin) or docker-compose (Debian `docker-compose`), promtool
# (`prometheus`), amtool (`prometheus-alertmanager`), nginx (`nginx-light`), openssl, node. A
# missing one is installed with apt-get when running as root, otherwise the check fails and says
# which package to install.
set -uo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
passes=0
apt_updated=0

# check NAME COMMAND…: run it, print ok or FAIL with its output indented.
check() {
  local name=$1
  shift
  local out
  if out=$("$@" 2>&1); then
    printf 'ok    %s\n' "$name"
    passes=$((passes + 1))
  else
    printf 'FAIL  %s\n' "$name"
    printf '%s\n' "$out" | sed 's/^/      /'
    failures=$((failures + 1))
  fi
}

# need COMMAND PACKAGE: make sure COMMAND exists, installing PACKAGE as root; false if it cannot.
need() {
  local cmd=$1 pkg=$2
  command -v "$cmd" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "check-static: $cmd not found; install the Debian package $pkg (apt-get install $pkg) or run as root" >&2
    return 1
  fi
  echo "check-static: installing $pkg for $cmd" >&2
  if [ "$apt_updated" -eq 0 ]; then
    apt-get update -qq >/dev/null 2>&1 || true
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1
  command -v "$cmd" >/dev/null 2>&1
}

# A check whose tool cannot be had fails (never silently skipped).
missing() {
  printf 'FAIL  %s\n      %s is not available (Debian package %s)\n' "$1" "$2" "$3"
  failures=$((failures + 1))
}

# ---- docker-compose.yml --------------------------------------------------------------------------
# Dummy values for every required variable, from a file so a developer's own .env is not used.
cat >"$tmp/compose.env" <<'EOF'
MYSQL_ROOT_PASSWORD=check-static-root-0000
MYSQL_MIGRATE_PASSWORD=check-static-migrate-0000
MYSQL_APP_PASSWORD=check-static-app-0000
MYSQL_READER_PASSWORD=check-static-reader-0000
MYSQL_REPLICATION_PASSWORD=check-static-repl-0000
MYSQL_EXPORTER_PASSWORD=check-static-exporter-0000
REDIS_PASSWORD=check-static-redis-0000
UPSTASH_BRIDGE_TOKEN=check-static-bridge-0000
JWT_SECRET=check-static-jwt-secret-0000000000000000
EDGE_SIGNING_SECRET=check-static-edge-0000
PHONE_ENCRYPTION_KEYS=k1:Y2hlY2stc3RhdGljLWR1bW15LWtleS0wMDAwMDAwMDA=
PUBLIC_BASE_URL=https://origin.example.invalid
GRAFANA_ADMIN_PASSWORD=check-static-grafana-0000
ALERT_WEBHOOK_PAGE_URL=https://hooks.example.invalid/page
ALERT_WEBHOOK_CHAT_URL=https://hooks.example.invalid/chat
ALERT_WEBHOOK_TICKET_URL=https://hooks.example.invalid/ticket
EOF
compose=()
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif need docker-compose docker-compose; then
  compose=(docker-compose)
fi
if [ ${#compose[@]} -gt 0 ]; then
  check "compose: docker-compose.yml is valid (${compose[*]} config -q)" \
    "${compose[@]}" --env-file "$tmp/compose.env" -f docker-compose.yml config -q
  check "compose: valid with the dev profile (WeChat sandbox)" \
    env COMPOSE_PROFILES=dev "${compose[@]}" --env-file "$tmp/compose.env" -f docker-compose.yml config -q
  check "compose: a missing secret stops it with a clear message" bash -c '
    out=$(grep -v ^JWT_SECRET= "$1" >"$1.nojwt"; "${@:2}" --env-file "$1.nojwt" -f docker-compose.yml config -q 2>&1)
    if [ $? -eq 0 ]; then echo "accepted a config without JWT_SECRET"; exit 1; fi
    grep -q "set JWT_SECRET" <<<"$out" || { echo "$out"; exit 1; }' _ "$tmp/compose.env" "${compose[@]}"
  # On the resolved config (anchors merged), so a service cannot hide its image or command.
  "${compose[@]}" --env-file "$tmp/compose.env" -f docker-compose.yml config >"$tmp/compose.resolved.yml" 2>/dev/null
  check "compose: every image is pinned to a version (no latest, no bare major or minor tag)" bash -c '
    bad=$(grep -E "^ +image: " "$1" | grep -vE "image: [^:]+:v?[0-9]+\.[0-9]+\.[0-9]+(-[a-z0-9.]+)?\$" |
      grep -vE "image: points-(origin|tools):")
    [ -z "$bad" ] || { echo "unpinned: $bad"; exit 1; }' _ "$tmp/compose.resolved.yml"
  check "compose: the Upstash REST endpoint is the bridge built from this repository, not SRH" bash -c '
    ! grep -q "serverless-redis-http" "$1" &&
    awk "/^  upstash-rest:/{on=1;next} /^  [a-z]/{on=0} on" "$1" >"$1.bridge" &&
    grep -q "image: points-origin:" "$1.bridge" && grep -q "dist/upstash-bridge.mjs" "$1.bridge" &&
    grep -q "ops/upstash-bridge.ts" ops/docker/origin.Dockerfile &&
    grep -q "ops/upstash-bridge.ts" ops/build-origin.mjs' _ "$tmp/compose.resolved.yml"
else
  missing "compose: docker-compose.yml is valid" docker-compose docker-compose
fi
check "image: the origin image runs Node 22 LTS, pinned to a patch release" \
  grep -qE "^ARG NODE_VERSION=22\.[0-9]+\.[0-9]+$" ops/docker/origin.Dockerfile
check "compose: every variable it reads is described in ops/env.example" bash -c '
  used=$(grep -oE "\\\$\{[A-Z0-9_]+[:}]" docker-compose.yml | tr -d "\${}:" | sort -u)
  listed=$(grep -oE "^[A-Z0-9_]+=" ops/env.example | tr -d = | sort -u)
  gaps=$(comm -23 <(echo "$used") <(echo "$listed"))
  [ -z "$gaps" ] || { echo "not in ops/env.example: $gaps"; exit 1; }'
check "shell scripts parse (entrypoint, MySQL init, render, secrets-init, deploy, rollback, backup, restore)" bash -c '
  sh -n ops/docker/entrypoint.sh && sh -n ops/alertmanager/render.sh &&
  bash -n ops/mysql/primary/initdb/10-users.sh && bash -n ops/mysql/replica/initdb/10-replication.sh &&
  bash -n ops/docker/secrets-init.sh && bash -n ops/deploy.sh && bash -n ops/rollback.sh &&
  bash -n ops/backup.sh && bash -n ops/restore.sh && bash -n ops/lib/release.sh && bash -n ops/lib/mysql-url.sh'

# ---- Prometheus ----------------------------------------------------------------------------------
if need promtool prometheus; then
  # promtool insists that credentials_file exists: check a copy pointing at a dummy token.
  mkdir -p "$tmp/prometheus"
  cp ops/prometheus/*.yml "$tmp/prometheus/"
  echo dummy-token >"$tmp/prometheus/metrics_token"
  sed -i "s|/run/secrets/metrics_token|$tmp/prometheus/metrics_token|" "$tmp/prometheus/prometheus.yml"
  check "prometheus: promtool check config" promtool check config "$tmp/prometheus/prometheus.yml"
  check "prometheus: promtool check rules alerts.yml" promtool check rules ops/prometheus/alerts.yml
  check "prometheus: promtool test rules alerts.test.yml" promtool test rules ops/prometheus/alerts.test.yml
  check "prometheus: every alert has severity, priority P0-P3, summary and runbook" bash -c '
    for a in AppDown HighErrorRate HighResponseTime MySQLDown MySQLSlowQueries RedisDown RedisMemoryHigh \
      PaymentSuccessRateLow PointsAwardSuccessRateLow JobNotRunning; do
      grep -q "alert: $a\$" ops/prometheus/alerts.yml || { echo "alert $a missing"; exit 1; }
      grep -q "alertname: $a\$" ops/prometheus/alerts.test.yml || { echo "alert $a has no unit test"; exit 1; }
    done
    n=$(grep -c "^      - alert:" ops/prometheus/alerts.yml)
    for f in "severity: " "priority: P[0-3]" "summary: " "runbook: "; do
      [ "$(grep -cE "^ +$f" ops/prometheus/alerts.yml)" -eq "$n" ] || { echo "not every alert has $f"; exit 1; }
    done'
else
  missing "prometheus: promtool checks" promtool prometheus
fi
check "prometheus: every runbook link has its section in docs/OPERATIONS.md" bash -c '
  for anchor in $(grep -oE "runbook: docs/OPERATIONS.md#[a-z0-9-]+" ops/prometheus/alerts.yml | cut -d# -f2 | sort -u); do
    grep -qiE "^#+ +$anchor\$" <(sed "s/[^A-Za-z0-9# ]//g" docs/OPERATIONS.md) || { echo "no section for #$anchor"; exit 1; }
  done'

# ---- Alertmanager --------------------------------------------------------------------------------
if need amtool prometheus-alertmanager; then
  check "alertmanager: render.sh fills the webhook placeholders" env \
    RENDER_ONLY=1 ALERT_WEBHOOK_PAGE_URL='https://hooks.example.invalid/page?a=1&b=2' \
    ALERT_WEBHOOK_CHAT_URL=https://hooks.example.invalid/chat \
    ALERT_WEBHOOK_TICKET_URL=https://hooks.example.invalid/ticket \
    sh ops/alertmanager/render.sh ops/alertmanager/alertmanager.yml "$tmp/alertmanager.yml"
  check "alertmanager: amtool check-config" amtool check-config "$tmp/alertmanager.yml"
  check "alertmanager: routes P0/P1 page, P2 chat, P3 ticket" bash -c '
    route() { amtool config routes test --config.file="$1" "severity=$2" alertname=X 2>/dev/null; }
    [ "$(route "$1" critical)" = "page,chat" ] && [ "$(route "$1" high)" = "page,chat" ] &&
    [ "$(route "$1" warning)" = "chat" ] && [ "$(route "$1" info)" = "ticket" ] ||
    { for s in critical high warning info; do echo "$s -> $(route "$1" $s)"; done; exit 1; }' _ "$tmp/alertmanager.yml"
else
  missing "alertmanager: amtool check-config" amtool prometheus-alertmanager
fi

# ---- nginx ---------------------------------------------------------------------------------------
if need nginx nginx-light && need openssl openssl; then
  # A throwaway self-signed certificate and a minimal nginx.conf around the site file; the site's
  # certificate and log paths are pointed into the temp dir. `nginx -t` binds the listen sockets,
  # so 80/443 become random high ports on 127.0.0.1 (works unprivileged and beside a running web
  # server) and the [::] listens are dropped (containers often have no IPv6).
  mkdir -p "$tmp/nginx/tls" "$tmp/nginx/log"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=origin.points.example.com \
    -keyout "$tmp/nginx/tls/privkey.pem" -out "$tmp/nginx/tls/fullchain.pem" >/dev/null 2>&1
  http_port=$((20000 + RANDOM % 20000))
  sed -e "s|/etc/nginx/tls/points-app/|$tmp/nginx/tls/|g" -e "s|/var/log/nginx/|$tmp/nginx/log/|g" \
    -e '/listen \[::\]:/d' -e "s/listen 80;/listen 127.0.0.1:$http_port;/" \
    -e "s/listen 443 /listen 127.0.0.1:$((http_port + 1)) /" \
    ops/nginx/points-app.conf >"$tmp/nginx/points-app.conf"
  cat >"$tmp/nginx/nginx.conf" <<EOF
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/log/error.log;
events {}
http {
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    access_log off;
    include $tmp/nginx/points-app.conf;
}
EOF
  check "nginx: nginx -t with ops/nginx/points-app.conf" \
    nginx -t -q -p "$tmp/nginx" -e "$tmp/nginx/log/error.log" -c "$tmp/nginx/nginx.conf"
else
  missing "nginx: nginx -t" "nginx or openssl" "nginx-light openssl"
fi

# ---- Grafana -------------------------------------------------------------------------------------
check "grafana: dashboard JSON parses and has every required panel" \
  node ops/grafana/check-dashboard.mjs ops/grafana/dashboards/points.json --rules-out "$tmp/dashboard-rules.yml"
if command -v promtool >/dev/null 2>&1 && [ -s "$tmp/dashboard-rules.yml" ]; then
  check "grafana: every dashboard query is valid PromQL" promtool check rules "$tmp/dashboard-rules.yml"
fi
# PyYAML comes with Debian's docker-compose; with the compose v2 plugin it may be missing.
if ! python3 -c 'import yaml' 2>/dev/null && [ "$(id -u)" -eq 0 ]; then
  echo "check-static: installing python3-yaml" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-yaml >/dev/null 2>&1
fi
check "grafana: provisioning files are YAML and name the datasource uid the dashboard uses" bash -c '
  for f in ops/grafana/provisioning/*/*.yml; do
    python3 -c "import sys, yaml; yaml.safe_load(open(sys.argv[1]))" "$f" || { echo "bad YAML: $f"; exit 1; }
  done
  grep -q "uid: prometheus" ops/grafana/provisioning/datasources/prometheus.yml'

# ---- PM2 -----------------------------------------------------------------------------------------
node ops/build-origin.mjs
check "pm2: ecosystem.config.cjs loads (cluster, node + the bundled origin, kill_timeout >= 10 s)" node -e "
  const app = require('./ops/pm2/ecosystem.config.cjs').apps[0]
  const args = [].concat(app.node_args).join(' ')
  const bad = []
  if (app.exec_mode !== 'cluster') bad.push('exec_mode is not cluster')
  if (app.interpreter !== 'node') bad.push('interpreter is not node')
  if (app.script !== 'dist/origin.mjs') bad.push('script is not the bundled origin')
  if (!(app.kill_timeout >= 10000)) bad.push('kill_timeout under 10 s')
  if (!app.max_memory_restart) bad.push('no max_memory_restart')
  if (!require('node:fs').existsSync(require('node:path').join(app.cwd, app.script))) bad.push('script not found')
  if (bad.length) { console.error(bad.join('; ')); process.exit(1) }"

# ---- logrotate -----------------------------------------------------------------------------------
if need logrotate logrotate; then
  check "logrotate: ops/logrotate/points-app passes logrotate -d" logrotate -d -s "$tmp/logrotate.state" ops/logrotate/points-app
else
  missing "logrotate: ops/logrotate/points-app" logrotate logrotate
fi

echo
echo "check-static: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
