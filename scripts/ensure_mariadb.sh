#!/usr/bin/env bash
# Make sure a MariaDB (or MySQL) server answers on 127.0.0.1:3306 with root and no
# password, as the integration tests expect. Installs MariaDB with apt when absent,
# starts it when stopped, and enables LOAD DATA LOCAL INFILE. Idempotent.
set -euo pipefail

HOST=127.0.0.1
PORT="${SQLARROW_MYSQL_PORT:-3306}"
log() { echo "[ensure_mariadb] $*" >&2; }
die() { echo "[ensure_mariadb] ERROR: $*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/$HOST/$PORT") >/dev/null 2>&1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n "$@"
    else die "need root to run: $*"; fi
}

if ! port_open; then
    if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ] && [ ! -x /usr/sbin/mysqld ]; then
        log "installing MariaDB with apt"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
    fi
    as_root mkdir -p /run/mysqld
    as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
    daemon=/usr/sbin/mariadbd
    [ -x "$daemon" ] || daemon=/usr/sbin/mysqld
    log "starting $daemon"
    as_root start-stop-daemon --start --oknodo --background --exec "$daemon"
    for _ in $(seq 1 60); do
        port_open && break
        sleep 0.5
    done
    port_open || die "MariaDB did not start listening on $HOST:$PORT"
fi

client=$(command -v mariadb || command -v mysql || true)
[ -n "$client" ] || die "no mariadb/mysql client found"
# root over TCP without a password (Debian's default is unix_socket auth for root).
if ! "$client" -h "$HOST" -P "$PORT" -uroot -e "select 1" >/dev/null 2>&1; then
    log "allowing root@localhost to log in over TCP without a password"
    as_root "$client" -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket; FLUSH PRIVILEGES;" \
        || die "cannot configure root login; set it up by hand (see README)"
fi
"$client" -h "$HOST" -P "$PORT" -uroot -e "SET GLOBAL local_infile = 1" >/dev/null 2>&1 || true
log "MariaDB ready on $HOST:$PORT"
