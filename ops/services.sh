#!/usr/bin/env bash
# Starts local MariaDB (127.0.0.1:3306, root without password) and Redis (127.0.0.1:6379) if they
# are not answering. For machines without the workplace's own services script.
set -u
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! up 3306; then
  mkdir -p /run/mysqld && chown mysql /run/mysqld 2>/dev/null
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
fi
if ! up 6379; then
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/dev.log
fi
for _ in $(seq 1 60); do
  if up 3306 && up 6379; then
    if ! mariadb -h127.0.0.1 -uroot -e 'select 1' >/dev/null 2>&1; then
      mariadb -uroot -e "ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')"
    fi
    echo "services: MariaDB :3306 and Redis :6379 are up"
    exit 0
  fi
  sleep 1
done
echo "services: MariaDB or Redis did not come up" >&2
exit 1
