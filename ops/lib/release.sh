# Sourced by ops/deploy.sh and ops/rollback.sh: the release layout and PM2 steps they share.
#   $DEPLOY_ROOT/releases/<UTC time>-<sha>/   one per deploy, a clean tree with node_modules and dist/
#   $DEPLOY_ROOT/current  -> releases/…       what PM2 runs (POINTS_APP_DIR, ecosystem `cwd`)
#   $DEPLOY_ROOT/previous -> releases/…       what ops/rollback.sh returns to

DEPLOY_ROOT=${DEPLOY_ROOT:-/srv/points}
DEPLOY_HEALTH_TIMEOUT_S=${DEPLOY_HEALTH_TIMEOUT_S:-60}
DEPLOY_KEEP=${DEPLOY_KEEP:-5}
PORT=${PORT:-3000}
APP_NAME=points-origin
export POINTS_APP_DIR="$DEPLOY_ROOT/current"
export PORT

say() { echo "$(basename "$0" .sh): $*"; }
die() { echo "$(basename "$0" .sh): $*" >&2; exit "${2:-1}"; }

[[ $DEPLOY_HEALTH_TIMEOUT_S =~ ^[1-9][0-9]*$ ]] || die "DEPLOY_HEALTH_TIMEOUT_S must be a positive number of seconds" 2
[[ $DEPLOY_KEEP =~ ^[1-9][0-9]*$ ]] || die "DEPLOY_KEEP must be a positive number" 2
mkdir -p "$DEPLOY_ROOT/releases"

# One deploy or rollback at a time per DEPLOY_ROOT.
exec 9>"$DEPLOY_ROOT/.lock"
flock -n 9 || die "another deploy or rollback is running in $DEPLOY_ROOT" 2

release_of() { [ -L "$DEPLOY_ROOT/$1" ] && readlink "$DEPLOY_ROOT/$1" || true; }

# Atomically points $DEPLOY_ROOT/<link> at a release directory (or removes it).
point() {
  local link=$1 target=$2
  if [ -z "$target" ]; then rm -f "$DEPLOY_ROOT/$link"; return; fi
  ln -sfn "$target" "$DEPLOY_ROOT/.$link.new"
  mv -T "$DEPLOY_ROOT/.$link.new" "$DEPLOY_ROOT/$link"
}

# PM2 from the release being started, so `npx pm2` and this script agree on its version.
pm2_in() { "$1/node_modules/.bin/pm2" "${@:2}"; }

# Starts the app from `current`, or reloads it worker by worker, then waits until every worker is
# a fresh one that answers /ready.
start_current() {
  local dir since
  dir=$(release_of current)
  since=$(($(date +%s%3N) - 1000))
  pm2_in "$dir" startOrReload "$DEPLOY_ROOT/current/ops/pm2/ecosystem.config.cjs" --update-env >/dev/null || return 1
  node "$dir/ops/lib/await-ready.mjs" --url "http://127.0.0.1:$PORT/ready" --timeout "$DEPLOY_HEALTH_TIMEOUT_S" \
    --pm2 "$dir/node_modules/.bin/pm2" --app "$APP_NAME" --since "$since"
}
