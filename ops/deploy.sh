#!/usr/bin/env bash
# Deploys a git ref of the origin under PM2 and rolls back by itself when it does not become ready:
#   DEPLOY_ROOT=/srv/points DEPLOY_REPO=<git url or path> ops/deploy.sh v1.2.3
# The origin's variables (DATABASE_URL, …) come from this environment or from POINTS_ENV_FILE (see
# ops/pm2/ecosystem.config.cjs), as do PM2_HOME and PORT. Steps: export the ref into
# releases/<time>-<sha>, npm ci --omit=dev, build dist/ (esbuild from a scratch prefix), migrate
# (expand-only migrations, so the running release keeps working), run it as a one-worker PM2 canary on a spare port until /ready answers (a release
# that cannot start never replaces a running one), switch `current`, start or reload PM2, and wait
# DEPLOY_HEALTH_TIMEOUT_S for every worker to be new and ready. If they are not, `current` goes
# back to the previous release, PM2 reloads it, and the script exits 1. Keeps DEPLOY_KEEP releases.
set -euo pipefail
ref=${1:?usage: ops/deploy.sh <git-ref>}
source "$(dirname "$0")/lib/release.sh"

before=$(release_of current)

# ---- fetch --------------------------------------------------------------------------------------
mirror="$DEPLOY_ROOT/repo.git"
if [ ! -d "$mirror" ]; then
  repo=${DEPLOY_REPO:-$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null || true)}
  [ -n "$repo" ] || die "set DEPLOY_REPO to the repository to deploy from" 2
  git clone --quiet --mirror "$repo" "$mirror"
else
  [ -z "${DEPLOY_REPO:-}" ] || git --git-dir="$mirror" remote set-url origin "$DEPLOY_REPO"
  git --git-dir="$mirror" fetch --quiet --prune origin
fi
sha=$(git --git-dir="$mirror" rev-parse --verify --quiet "$ref^{commit}") || die "unknown git ref: $ref" 2
release="$DEPLOY_ROOT/releases/$(date -u +%Y%m%dT%H%M%SZ)-${sha:0:12}"
say "deploying $ref ($sha) into $release"
mkdir -p "$release"
git --git-dir="$mirror" archive "$sha" | tar -x -C "$release"

# ---- build and migrate --------------------------------------------------------------------------
env_file=${POINTS_ENV_FILE:-/etc/points-app/origin.env}
node_env=()
[ -f "$env_file" ] && node_env=(--env-file="$env_file")
(
  cd "$release"
  # Production dependencies only: what runs is dist/. The build's one dev dependency, esbuild (the
  # lockfile's version), goes to a scratch prefix for the build and is gone after it.
  # --prefer-offline: packages in npm's cache are not downloaded again.
  npm ci --omit=dev --prefer-offline --no-audit --no-fund --loglevel=error
  tools=$(mktemp -d)
  esbuild_version=$(node -p "require('./package-lock.json').packages['node_modules/esbuild'].version")
  npm install --prefix "$tools" --prefer-offline --no-save --no-audit --no-fund --loglevel=error \
    "esbuild@$esbuild_version"
  BUILD_ESBUILD="$tools/node_modules/esbuild/lib/main.js" npm run --silent build:origin
  rm -rf "$tools"
  DATABASE_URL=${DEPLOY_MIGRATE_DATABASE_URL:-${DATABASE_URL:-}} \
    node "${node_env[@]}" dist/migrate.mjs
)

# ---- the release alone, before it replaces anything ---------------------------------------------
# A rolling `pm2 reload` into a release whose workers die at start-up stops the old workers anyway
# once listen_timeout passes, so the release first runs as a one-worker canary under PM2, with its
# own ecosystem file, on a spare port. Only a canary that answers /ready goes on.
canary=$APP_NAME-canary
spare=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
pm2_in "$release" delete "$canary" >/dev/null 2>&1 || true
since=$(($(date +%s%3N) - 1000))
POINTS_APP_NAME=$canary POINTS_WORKERS=1 POINTS_APP_DIR=$release PORT=$spare HOST=127.0.0.1 SHUTDOWN_DRAIN_MS=0 \
  pm2_in "$release" start "$release/ops/pm2/ecosystem.config.cjs" >/dev/null
if ! node "$release/ops/lib/await-ready.mjs" --url "http://127.0.0.1:$spare/ready" \
  --timeout "$DEPLOY_HEALTH_TIMEOUT_S" --pm2 "$release/node_modules/.bin/pm2" --app "$canary" --since "$since" \
  --max-restarts 3; then
  # The log files the ecosystem names (shared with the running app; the canary's lines are last).
  tail -n 20 "${POINTS_LOG_DIR:-/var/log/points-app}/origin.err.log" >&2 2>/dev/null || true
  pm2_in "$release" delete "$canary" >/dev/null 2>&1 || true
  die "$ref does not start; nothing was switched (${before:-no release} keeps running)"
fi
pm2_in "$release" delete "$canary" >/dev/null

# ---- switch, reload, verify ---------------------------------------------------------------------
point current "$release"
say "current -> $release; starting under PM2"
if ! start_current; then
  say "the new release did not become ready within ${DEPLOY_HEALTH_TIMEOUT_S} s; rolling back"
  point current "$before"
  if [ -z "$before" ]; then
    pm2_in "$release" delete "$APP_NAME" >/dev/null 2>&1 || true
    die "first deploy failed; nothing is running"
  fi
  start_current || die "rollback to $before did not become ready either: act now" 3
  die "rolled back to $before"
fi
[ -z "$before" ] || [ "$before" = "$release" ] || point previous "$before"
say "$ref is live"

# ---- keep DEPLOY_KEEP releases (never current or previous) --------------------------------------
keepers=("$(release_of current)" "$(release_of previous)")
ls -1 "$DEPLOY_ROOT/releases" | sort -r | tail -n +"$((DEPLOY_KEEP + 1))" | while read -r old; do
  case " ${keepers[*]} " in *" $DEPLOY_ROOT/releases/$old "*) continue ;; esac
  rm -rf "${DEPLOY_ROOT:?}/releases/$old"
done
