#!/usr/bin/env bash
# `npm run loadtest [-- scan|pay|gifts|all [k6 run options...]]`: runs the k6 scripts against a
# running stack (by default `npm run dev`: edge on 8787, WeChat sandbox on 8090).
#
#   BASE_URL     the edge            (default http://127.0.0.1:8787)
#   SANDBOX_URL  the WeChat sandbox  (default http://127.0.0.1:8090)
#   ADMIN_OPENID an openid in the origin's ADMIN_OPENIDS (default admin)
#   SUMMARY_DIR  where each script's handleSummary writes <script>-summary.json (loadtest/results)
#
# Without k6 on PATH this prints how to get it and exits 0: k6 cannot be installed on the machines
# this repo is tested on, and a missing load tool is not a failure of the code under test.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
BASE_URL="${BASE_URL:-http://127.0.0.1:8787}"
SANDBOX_URL="${SANDBOX_URL:-http://127.0.0.1:8090}"
ADMIN_OPENID="${ADMIN_OPENID:-admin}"
SUMMARY_DIR="${SUMMARY_DIR:-$here/results}"

target="${1:-all}"
[ $# -gt 0 ] && shift
case "$target" in
  all) scripts=(scan pay gifts) ;;
  scan | pay | gifts) scripts=("$target") ;;
  scan.js | pay.js | gifts.js) scripts=("${target%.js}") ;;
  -h | --help)
    echo "usage: loadtest/run.sh [scan|pay|gifts|all] [k6 run options, e.g. -e RATE=500]"
    exit 0
    ;;
  *)
    echo "loadtest: unknown script '$target' (expected scan, pay, gifts or all)" >&2
    exit 2
    ;;
esac

if ! command -v k6 >/dev/null 2>&1; then
  cat <<EOF
loadtest: k6 is not installed, so the load scripts cannot run on this machine.

Install k6 (https://grafana.com/docs/k6/latest/set-up/install-k6/), any version from v0.45 on:
  * Debian/Ubuntu, Grafana's apt repository:
      sudo gpg --no-default-keyring --keyring /usr/share/keyrings/k6-archive-keyring.gpg \\
        --keyserver hkp://keyserver.ubuntu.com:80 --recv-keys C5AD17C747E3415A3642D57D77C6C491D6AC1D69
      echo "deb [signed-by=/usr/share/keyrings/k6-archive-keyring.gpg] https://dl.k6.io/deb stable main" \\
        | sudo tee /etc/apt/sources.list.d/k6.list
      sudo apt-get update && sudo apt-get install k6
  * the release tarball: download k6-vX.Y.Z-linux-amd64.tar.gz from
      https://github.com/grafana/k6/releases, extract it and put the k6 binary on PATH
  * Docker, no install (host network so 127.0.0.1 reaches the local stack; mount the scripts so
    their ./lib imports resolve):
      docker run --rm --network host -v "$here:/loadtest:ro" grafana/k6 run \\
        -e BASE_URL=$BASE_URL -e SANDBOX_URL=$SANDBOX_URL /loadtest/pay.js

Then run: npm run loadtest [-- scan|pay|gifts]
Here, without k6: 'npm run bench' runs the Node-based benchmark against the same stack,
'node loadtest/node-shim/run.mjs loadtest/pay.js' runs a script's setup, requests and checks for a
few iterations under Node (THINK_S=0 recommended; it measures nothing), and
'node loadtest/check-syntax.mjs' checks that the k6 scripts parse and import only k6 modules.
EOF
  exit 0
fi

mkdir -p "$SUMMARY_DIR"
failed=()
for name in "${scripts[@]}"; do
  echo "loadtest: k6 run $name.js against $BASE_URL (sandbox $SANDBOX_URL)"
  # Keep going after a failed script: one breached threshold should not hide the others' results.
  if ! k6 run \
    -e "BASE_URL=$BASE_URL" \
    -e "SANDBOX_URL=$SANDBOX_URL" \
    -e "ADMIN_OPENID=$ADMIN_OPENID" \
    -e "SUMMARY_DIR=$SUMMARY_DIR" \
    ${@+"$@"} \
    "$here/$name.js"; then
    failed+=("$name")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "loadtest: failed (thresholds or errors): ${failed[*]}" >&2
  exit 1
fi
echo "loadtest: all passed: ${scripts[*]}"
