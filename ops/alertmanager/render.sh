#!/bin/sh
# Fills the ${ALERT_WEBHOOK_*} placeholders of alertmanager.yml from the environment into a
# private copy, then runs Alertmanager with the given flags. Busybox sh + awk (prom/alertmanager).
#
#   render.sh [alertmanager flags…]           in the container (entrypoint)
#   RENDER_ONLY=1 render.sh IN OUT            render only (ops/check-static.sh)
# awk, not sed: a webhook URL's & or | would be special in a sed replacement.
set -eu

in="${1:-/etc/alertmanager/alertmanager.yml}"
out="${2:-/tmp/alertmanager.yml}"
if [ "${RENDER_ONLY:-}" != "1" ]; then
  in=/etc/alertmanager/alertmanager.yml
  out=/tmp/alertmanager.yml
fi

umask 077
awk '
  {
    line = $0; done = ""
    while (match(line, /\$\{ALERT_[A-Z0-9_]+\}/)) {
      name = substr(line, RSTART + 2, RLENGTH - 3)
      if (ENVIRON[name] == "") { print "render.sh: " name " is not set" > "/dev/stderr"; failed = 1; exit 1 }
      done = done substr(line, 1, RSTART - 1) ENVIRON[name]
      line = substr(line, RSTART + RLENGTH)
    }
    print done line
  }
  END { if (failed) exit 1 }
' "$in" >"$out"

[ "${RENDER_ONLY:-}" = "1" ] && exit 0
exec /bin/alertmanager "$@"
