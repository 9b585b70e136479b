#!/usr/bin/env bash
# Restores a backup made by ops/backup.sh into DATABASE_URL's database, which must be empty (it is
# created when missing), then checks the ledger; exits non-zero when any check fails:
#   DATABASE_URL=mysql://…/points_restore ops/restore.sh /var/backups/points/points-….sql.gz
# Restore into a new database or instance, never over the live one (docs/OPERATIONS.md).
set -euo pipefail
source "$(dirname "$0")/lib/mysql-url.sh"

file=${1:?usage: ops/restore.sh BACKUP.sql.gz}
[ -r "$file" ] || db_url_die "cannot read $file"
db_url_parse "${DATABASE_URL:?DATABASE_URL is not set}"
[ -n "$MYSQL_CLIENT" ] || db_url_die "the mariadb or mysql client is needed (apt-get install mariadb-client)"
sql() { "$MYSQL_CLIENT" --defaults-extra-file="$DB_DEFAULTS" -N -B "$@"; }

sql -e "CREATE DATABASE IF NOT EXISTS \`$DB_NAME\`"
tables=$(sql -e "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$DB_NAME'")
[ "$tables" = 0 ] || db_url_die "database $DB_NAME is not empty ($tables tables): restore into an empty one"

gzip -dc "$file" | sql "$DB_NAME"

# The ledger checks of docs/OPERATIONS.md: each must print 0.
checks=$(sql "$DB_NAME" <<'SQL'
SELECT CONCAT('sum of all entries: ', COALESCE(SUM(delta), 0)) FROM ledger_entries;
SELECT CONCAT('unbalanced transfers: ', COUNT(*)) FROM (SELECT transfer_id FROM ledger_entries
  GROUP BY transfer_id HAVING COUNT(*) <> 2 OR SUM(delta) <> 0) x;
SELECT CONCAT('user balances differing from their entries: ', COUNT(*)) FROM accounts a
  LEFT JOIN (SELECT account_id, SUM(delta) s FROM ledger_entries GROUP BY account_id) e
    ON e.account_id = a.id
 WHERE a.kind = 'USER' AND a.balance <> COALESCE(e.s, 0);
SQL
)
echo "restored $file into $DB_NAME"
echo "$checks"
if grep -qv ': 0$' <<<"$checks"; then
  echo "restore.sh: the ledger checks failed" >&2
  exit 1
fi
