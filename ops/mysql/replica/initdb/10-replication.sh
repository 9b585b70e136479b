#!/bin/bash
# First start of the replica only. Starts GTID replication from the primary with auto-position.
# The replica is initialised empty (no MYSQL_DATABASE/MYSQL_USER) and receives the database and
# the users from the primary's binlog, which holds everything since the primary's first start.
# For a primary that already has purged binlogs, seed the replica from a backup instead
# (docs/OPERATIONS.md, Backups: restore, then SET GLOBAL gtid_purged, then this script's SQL).
# Works whether the entrypoint sources this file or executes it.

source_host="${MYSQL_SOURCE_HOST:-mysql}"
if ! [[ "${MYSQL_REPLICATION_PASSWORD:-}" =~ ^[A-Za-z0-9_-]{16,}$ ]]; then
  echo "initdb: MYSQL_REPLICATION_PASSWORD must be 16+ characters of A-Z a-z 0-9 _ -" >&2
  exit 1
fi

# RESET MASTER drops the GTIDs of this container's own first-start setup, so the replica's GTID
# set is exactly the primary's: nothing errant to trip over when it is promoted or re-pointed.
# The channel config is stored in mysql.slave_master_info and survives the restart that follows
# initialisation; replication resumes by itself then (skip-replica-start is off).
MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysql --protocol=socket -uroot <<SQL || exit 1
RESET MASTER;
CHANGE REPLICATION SOURCE TO
  SOURCE_HOST = '${source_host}',
  SOURCE_PORT = 3306,
  SOURCE_USER = 'repl',
  SOURCE_PASSWORD = '${MYSQL_REPLICATION_PASSWORD}',
  SOURCE_AUTO_POSITION = 1,
  SOURCE_SSL = 1,
  SOURCE_CONNECT_RETRY = 10;
START REPLICA;
SET PERSIST super_read_only = ON;
SQL
echo "initdb: replicating from ${source_host} (GTID auto-position); super_read_only on"
