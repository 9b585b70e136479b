#!/bin/bash
# First start of the primary only (the image runs /docker-entrypoint-initdb.d/* on an empty data
# directory). Creates one user per job, each with only what that job needs:
#   points_migrate  ALL on the app database        db:migrate (DDL); DATABASE_URL of `migrate`
#   points_app      SELECT/INSERT/UPDATE/DELETE    the origin's DATABASE_URL: no DDL at run time
#   points_reader   SELECT                         the origin's DATABASE_READ_URL (the replica)
#   repl            REPLICATION SLAVE, TLS only    the replica's channel
#   exporter        PROCESS, REPLICATION CLIENT    mysqld-exporter (+ performance_schema reads)
# Everything here is written to the binlog, so the replica receives the same users.
# Works whether the entrypoint sources this file or executes it.

database="${MYSQL_DATABASE:-points}"
for var in MYSQL_MIGRATE_PASSWORD MYSQL_APP_PASSWORD MYSQL_READER_PASSWORD \
  MYSQL_REPLICATION_PASSWORD MYSQL_EXPORTER_PASSWORD; do
  # The passwords are pasted into SQL and into mysql:// URLs: a safe alphabet beats escaping twice.
  if ! [[ "${!var:-}" =~ ^[A-Za-z0-9_-]{16,}$ ]]; then
    echo "initdb: $var must be 16+ characters of A-Z a-z 0-9 _ -" >&2
    exit 1
  fi
done
if ! [[ "$database" =~ ^[A-Za-z0-9_]{1,64}$ ]]; then
  echo "initdb: MYSQL_DATABASE must be letters, digits and _" >&2
  exit 1
fi

MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysql --protocol=socket -uroot <<SQL || exit 1
CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;

CREATE USER IF NOT EXISTS 'points_migrate'@'%' IDENTIFIED BY '${MYSQL_MIGRATE_PASSWORD}';
GRANT ALL PRIVILEGES ON \`${database}\`.* TO 'points_migrate'@'%';

CREATE USER IF NOT EXISTS 'points_app'@'%' IDENTIFIED BY '${MYSQL_APP_PASSWORD}';
GRANT SELECT, INSERT, UPDATE, DELETE ON \`${database}\`.* TO 'points_app'@'%';

CREATE USER IF NOT EXISTS 'points_reader'@'%' IDENTIFIED BY '${MYSQL_READER_PASSWORD}';
GRANT SELECT ON \`${database}\`.* TO 'points_reader'@'%';

CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY '${MYSQL_REPLICATION_PASSWORD}' REQUIRE SSL;
GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';

CREATE USER IF NOT EXISTS 'exporter'@'%' IDENTIFIED BY '${MYSQL_EXPORTER_PASSWORD}'
  WITH MAX_USER_CONNECTIONS 3;
GRANT PROCESS, REPLICATION CLIENT ON *.* TO 'exporter'@'%';
GRANT SELECT ON performance_schema.* TO 'exporter'@'%';
SQL
echo "initdb: users points_migrate, points_app, points_reader, repl, exporter created on ${database}"
