# Sourced by ops/backup.sh and ops/restore.sh: turns DATABASE_URL (mysql://user[:pass]@host[:port]/db)
# into a client defaults file, so the password never appears on a command line or in `ps`.
# Sets DB_NAME and DB_DEFAULTS (a 0600 file removed on exit) and picks the client programs.

db_url_die() { echo "$(basename "$0"): $*" >&2; exit 2; }

db_url_decode() { local s=${1//+/ }; printf '%b' "${s//%/\\x}"; }

db_url_parse() {
  local url=$1 rest hostpart userinfo hostport user pass host port
  rest=${url#mysql://}
  [ "$rest" != "$url" ] || db_url_die "DATABASE_URL must be mysql://user[:pass]@host[:port]/database"
  hostpart=${rest%%/*}
  DB_NAME=${rest#*/}
  DB_NAME=${DB_NAME%%\?*}
  [[ $DB_NAME =~ ^[A-Za-z0-9_]{1,64}$ ]] || db_url_die "DATABASE_URL has no valid database name"
  userinfo=root hostport=$hostpart
  if [[ $hostpart == *@* ]]; then userinfo=${hostpart%@*} hostport=${hostpart##*@}; fi
  user=$(db_url_decode "${userinfo%%:*}")
  pass=''
  [[ $userinfo == *:* ]] && pass=$(db_url_decode "${userinfo#*:}")
  host=${hostport%%:*}
  port=3306
  [[ $hostport == *:* ]] && port=${hostport##*:}
  DB_DEFAULTS=$(mktemp)
  chmod 600 "$DB_DEFAULTS"
  trap 'rm -f "$DB_DEFAULTS"' EXIT
  {
    echo '[client]'
    echo "user=$user"
    [ -n "$pass" ] && echo "password=\"${pass//\"/\\\"}\""
    echo "host=$host"
    echo "port=$port"
  } >"$DB_DEFAULTS"
}

# MariaDB names its clients mariadb/mariadb-dump; MySQL's are mysql/mysqldump.
MYSQL_CLIENT=$(command -v mariadb || command -v mysql || true)
MYSQL_DUMP=$(command -v mariadb-dump || command -v mysqldump || true)
