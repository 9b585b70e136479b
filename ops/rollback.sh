#!/usr/bin/env bash
# Returns the origin to the release before the current one (the `previous` link ops/deploy.sh keeps)
# and reloads PM2; running it again goes forward again:
#   DEPLOY_ROOT=/srv/points ops/rollback.sh
# Same environment as ops/deploy.sh. Exits 1 when the restored release does not become ready within
# DEPLOY_HEALTH_TIMEOUT_S. The schema stays as it is (migrations are expand-only).
set -euo pipefail
source "$(dirname "$0")/lib/release.sh"

now=$(release_of current)
target=$(release_of previous)
[ -n "$target" ] && [ -d "$target" ] || die "no previous release in $DEPLOY_ROOT to roll back to" 2
point current "$target"
point previous "$now"
say "current -> $target (was $now); reloading"
start_current || die "$target did not become ready within ${DEPLOY_HEALTH_TIMEOUT_S} s"
say "rolled back to $target"
