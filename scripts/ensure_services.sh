#!/usr/bin/env bash
# Make sure the local database servers the integration tests use are running and
# configured. Idempotent; safe to run on every `make test`.
#
# PostgreSQL (127.0.0.1:5432):
#   * installed with apt and started if nothing answers on the port;
#   * the `postgres` role can log in over TCP loopback without a password (trust);
#   * a role `sqlarrow_auth` with a scram-sha-256 password exists, and pg_hba.conf
#     has a scram-sha-256 line for it ABOVE any trust line, so wrong-password tests
#     really fail.
#
# Needs root (or passwordless sudo) only when something has to be changed.
set -euo pipefail

PGHOST_ADDR=127.0.0.1
PGPORT_NUM="${SQLARROW_PG_PORT:-5432}"
AUTH_ROLE=sqlarrow_auth
AUTH_PASSWORD="${SQLARROW_AUTH_PASSWORD:-sqlarrow-auth-test-pw}"
HBA_BEGIN="# BEGIN sqlarrow test setup (managed by scripts/ensure_services.sh)"
HBA_END="# END sqlarrow test setup"

log() { echo "[ensure_services] $*" >&2; }
die() { echo "[ensure_services] ERROR: $*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    fi
fi
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif [ -n "$SUDO" ]; then $SUDO "$@"; else
        die "need root to run: $* (re-run as root, or set up PostgreSQL as described in README.md)"
    fi
}
as_postgres() {
    # Run a command as the postgres OS user (peer auth over the local socket).
    # (from / so that psql need not read the caller's working directory)
    if [ "$(id -un)" = postgres ]; then (cd / && "$@")
    elif [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@")
    else (cd / && as_root runuser -u postgres -- "$@"); fi
}

port_open() {
    (exec 3<>"/dev/tcp/$PGHOST_ADDR/$PGPORT_NUM") >/dev/null 2>&1
}

latest_pg_version() {
    ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1
}

start_postgres() {
    local version
    version="$(latest_pg_version)"
    [ -n "$version" ] || die "PostgreSQL is installed but no cluster exists in /etc/postgresql"
    if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$version main"; then
        log "creating cluster $version/main"
        as_root pg_createcluster "$version" main
    fi
    log "starting PostgreSQL $version/main"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 60); do
        port_open && return 0
        sleep 0.5
    done
    die "PostgreSQL did not start listening on $PGHOST_ADDR:$PGPORT_NUM (see /var/log/postgresql/)"
}

ensure_postgres_running() {
    if port_open; then
        return 0
    fi
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(latest_pg_version)" ]; then
        log "PostgreSQL not installed: installing with apt"
        export DEBIAN_FRONTEND=noninteractive
        as_root apt-get update -q
        as_root apt-get install -y -q postgresql postgresql-client </dev/null
    fi
    start_postgres
}

psql_tcp() {
    # psql over TCP loopback; extra args passed through. Never prompts.
    psql -X -q -w -v ON_ERROR_STOP=1 -h "$PGHOST_ADDR" -p "$PGPORT_NUM" "$@"
}

hba_file() {
    as_postgres psql -X -q -w -A -t -p "$PGPORT_NUM" -c 'show hba_file' | tr -d '[:space:]'
}

reload_postgres() {
    as_postgres psql -X -q -w -p "$PGPORT_NUM" -c 'select pg_reload_conf()' >/dev/null
    sleep 0.5
}

postgres_trust_works() {
    psql_tcp -U postgres -d postgres -A -t -c 'select 1' >/dev/null 2>&1
}

auth_role_works() {
    # Right password logs in, wrong password is refused.
    PGPASSWORD="$AUTH_PASSWORD" psql_tcp -U "$AUTH_ROLE" -d postgres -A -t -c 'select 1' \
        >/dev/null 2>&1 || return 1
    if PGPASSWORD="definitely-not-the-password" psql_tcp -U "$AUTH_ROLE" -d postgres -A -t \
        -c 'select 1' >/dev/null 2>&1; then
        return 1
    fi
    return 0
}

write_hba_block() {
    local hba tmp
    hba="$(hba_file)"
    [ -n "$hba" ] || die "could not find pg_hba.conf"
    log "adding the sqlarrow block at the top of $hba"
    tmp="$(mktemp)"
    {
        echo "$HBA_BEGIN"
        echo "host all $AUTH_ROLE 127.0.0.1/32 scram-sha-256"
        echo "host all $AUTH_ROLE ::1/128 scram-sha-256"
        echo "host all postgres 127.0.0.1/32 trust"
        echo "host all postgres ::1/128 trust"
        echo "$HBA_END"
        # Keep the rest of the file, minus any previous copy of our block.
        as_root cat "$hba" | awk -v b="$HBA_BEGIN" -v e="$HBA_END" '
            $0 == b {skip = 1; next}
            $0 == e {skip = 0; next}
            !skip {print}'
    } >"$tmp"
    as_root cp "$tmp" "$hba"
    rm -f "$tmp"
    reload_postgres
}

ensure_auth_role() {
    as_postgres psql -X -q -w -v ON_ERROR_STOP=1 -p "$PGPORT_NUM" -d postgres \
        -v role="$AUTH_ROLE" -v pw="$AUTH_PASSWORD" >/dev/null <<'SQL'
SET password_encryption = 'scram-sha-256';
SELECT format('CREATE ROLE %I LOGIN', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'role', :'pw') \gexec
SQL
}

main() {
    command -v psql >/dev/null 2>&1 || {
        if command -v apt-get >/dev/null 2>&1; then
            export DEBIAN_FRONTEND=noninteractive
            as_root apt-get update -q
            as_root apt-get install -y -q postgresql-client </dev/null
        fi
    }
    ensure_postgres_running
    if postgres_trust_works && auth_role_works; then
        log "PostgreSQL ready on $PGHOST_ADDR:$PGPORT_NUM"
        return 0
    fi
    ensure_auth_role
    if ! postgres_trust_works || ! auth_role_works; then
        write_hba_block
    fi
    postgres_trust_works || die "the postgres role cannot log in over TCP loopback"
    auth_role_works || die "role $AUTH_ROLE: password authentication is not enforced"
    log "PostgreSQL ready on $PGHOST_ADDR:$PGPORT_NUM"
}

main "$@"
