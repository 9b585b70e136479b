#!/usr/bin/env bash
# Consistent, compressed logical backup of DATABASE_URL's database:
#   DATABASE_URL=mysql://… BACKUP_DIR=/var/backups/points BACKUP_KEEP=14 ops/backup.sh
# Writes $BACKUP_DIR/<database>-<UTC time>.sql.gz (printed on stdout) and keeps the newest
# BACKUP_KEEP of them. InnoDB tables are read in one transaction (--single-transaction), so the dump
# is one point in time while writes go on. When the server keeps binlogs, the dump records its binlog
# position (and GTID set) as a comment for point-in-time recovery (docs/OPERATIONS.md).
set -euo pipefail
source "$(dirname "$0")/lib/mysql-url.sh"

db_url_parse "${DATABASE_URL:?DATABASE_URL is not set}"
BACKUP_DIR=${BACKUP_DIR:-/var/backups/points}
BACKUP_KEEP=${BACKUP_KEEP:-14}
[[ $BACKUP_KEEP =~ ^[1-9][0-9]*$ ]] || db_url_die "BACKUP_KEEP must be a positive number"
[ -n "$MYSQL_DUMP" ] || db_url_die "mariadb-dump or mysqldump is needed (apt-get install mariadb-client)"

mkdir -p "$BACKUP_DIR"
chmod 700 "$BACKUP_DIR"
position=()
if [ "$("$MYSQL_CLIENT" --defaults-extra-file="$DB_DEFAULTS" -N -B -e 'SELECT @@log_bin')" = 1 ]; then
  position=(--master-data=2)
fi
name="$DB_NAME-$(date -u +%Y%m%dT%H%M%S%3NZ).sql.gz"
partial="$BACKUP_DIR/.$name.partial"
trap 'rm -f "$DB_DEFAULTS" "$partial"' EXIT
"$MYSQL_DUMP" --defaults-extra-file="$DB_DEFAULTS" --single-transaction --quick --routines --events \
  --triggers --hex-blob --no-tablespaces "${position[@]}" "$DB_NAME" | gzip -6 >"$partial"
# Only a complete dump gets its final name (pipefail stops on a failed dump above).
mv "$partial" "$BACKUP_DIR/$name"
echo "$BACKUP_DIR/$name"

ls -1 "$BACKUP_DIR" | grep -E "^$DB_NAME-[0-9]{8}T[0-9]{9}Z\.sql\.gz$" | sort -r | tail -n +"$((BACKUP_KEEP + 1))" |
  while read -r old; do rm -f "$BACKUP_DIR/$old"; done
