#!/usr/bin/env bash
# A project-local PostgreSQL cluster for development and tests.
#
#   .ci/devdb.sh start   start (creating it on first use) and print its DATABASE_URL
#   .ci/devdb.sh stop    stop it (the data stays in .devdb/data)
#   .ci/devdb.sh status  say whether it is running
#   .ci/devdb.sh url     print the DATABASE_URL without starting anything
#   .ci/devdb.sh owner-url  print the DATABASE_OWNER_URL (the tables' owner, for migrations)
#
# The cluster lives in .devdb/ (gitignored): data in .devdb/data, the server log in
# .devdb/postgres.log, and the unix socket in .devdb/run. It listens on no TCP port, so
# it never clashes with another PostgreSQL on the machine, and trusts local connections.
# Two roles, as in production (README: Deployment): `caspen` owns the database and its
# tables and runs the migrations (DATABASE_OWNER_URL); the app connects as `caspen_app`
# (DATABASE_URL), which may not change or remove rows of append-only tables.
# Only the DATABASE_URL goes to stdout; everything else goes to stderr, so callers can
# write DATABASE_URL="$(.ci/devdb.sh start)".
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true # bash >= 4.4

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DEVDB="$ROOT/.devdb"
DATA="$DEVDB/data"
RUN="$DEVDB/run"
LOG="$DEVDB/postgres.log"
DB_USER="caspen"
APP_USER="caspen_app"
DB_NAME="caspen"
URL="postgres://$APP_USER@/$DB_NAME?host=$RUN"
OWNER_URL="postgres://$DB_USER@/$DB_NAME?host=$RUN"

say() { printf 'devdb: %s\n' "$*" >&2; }
die() {
    printf 'devdb: %s\n' "$*" >&2
    exit 1
}

# PostgreSQL refuses to run as root, so as root the server runs as an unprivileged user.
if [ "$(id -u)" -eq 0 ]; then
    if id -u postgres >/dev/null 2>&1; then RUN_AS="postgres"; else RUN_AS="nobody"; fi
else
    RUN_AS=""
fi

as_server_user() {
    if [ -n "$RUN_AS" ]; then
        # runuser -u runs the command directly, so it also works for users with no
        # login shell (such as nobody).
        (cd "$DEVDB" && runuser -u "$RUN_AS" -- "$@")
    else
        "$@"
    fi
}

major_of() { # the major version of the PostgreSQL binaries in directory $1
    "$1/pg_ctl" --version 2>/dev/null | sed -n 's/^pg_ctl (PostgreSQL) \([0-9][0-9]*\).*/\1/p'
}

# Prints the directory holding initdb, pg_ctl and psql, or nothing if there is none.
# With an existing cluster, only binaries of the version that created it will do;
# otherwise the newest version found wins.
find_bindir() {
    local candidates=() dir on_path want="" best="" best_major=0 major
    if on_path="$(command -v pg_ctl 2>/dev/null)"; then
        candidates+=("$(dirname "$(readlink -f "$on_path")")")
    fi
    for dir in /usr/lib/postgresql/*/bin /usr/local/pgsql/bin; do
        if [ -d "$dir" ]; then candidates+=("$dir"); fi
    done
    if [ -f "$DATA/PG_VERSION" ]; then want="$(cat "$DATA/PG_VERSION")"; fi
    for dir in "${candidates[@]+"${candidates[@]}"}"; do
        if ! { [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/psql" ]; }; then
            continue
        fi
        major="$(major_of "$dir")"
        [ -n "$major" ] || continue
        if [ -n "$want" ] && [ "$major" != "$want" ]; then continue; fi
        if [ "$major" -gt "$best_major" ]; then
            best="$dir"
            best_major="$major"
        fi
    done
    echo "$best"
}

install_postgres() {
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "PostgreSQL not found; installing it with apt-get (postgresql, postgresql-contrib)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update >&2
        apt-get install -y postgresql postgresql-contrib >&2
    else
        die "PostgreSQL is not installed (no initdb/pg_ctl on PATH or in" \
            "/usr/lib/postgresql/*/bin). Install the server and contrib packages, e.g." \
            "'sudo apt-get install postgresql postgresql-contrib' (Debian/Ubuntu)," \
            "'sudo dnf install postgresql-server postgresql-contrib' (Fedora) or" \
            "'brew install postgresql@15' (macOS), or set DATABASE_URL to an existing server."
    fi
}

bindir() {
    local dir
    dir="$(find_bindir)"
    if [ -z "$dir" ] && [ -f "$DATA/PG_VERSION" ] && {
        command -v pg_ctl >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null
    }; then
        die "the cluster in $DATA was created by PostgreSQL $(cat "$DATA/PG_VERSION")," \
            "whose binaries are not installed. Install that version, or remove .devdb/data" \
            "to start afresh."
    fi
    if [ -z "$dir" ]; then
        install_postgres
        dir="$(find_bindir)"
        [ -n "$dir" ] || die "PostgreSQL was installed but its binaries were not found"
    fi
    echo "$dir"
}

is_running() { # $1: bindir
    [ -f "$DATA/PG_VERSION" ] && as_server_user "$1/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

prepare_dirs() {
    # The socket path must fit in a unix socket address (107 bytes on Linux).
    [ ${#RUN} -le 90 ] || die "the path $RUN is too long for a unix socket; clone the" \
        "project into a shorter path or set DATABASE_URL to an existing server"
    mkdir -p "$DEVDB" "$DATA" "$RUN"
    touch "$LOG"
    chmod 700 "$DATA" "$RUN"
    if [ -n "$RUN_AS" ]; then
        # The server user must reach .devdb through every parent directory. Parents are
        # deliberately left as they are: loosening them is not this script's business.
        if ! runuser -u "$RUN_AS" -- test -x "$DEVDB"; then
            die "user $RUN_AS cannot enter $DEVDB (a parent directory is closed to it)." \
                "Clone the project somewhere $RUN_AS can reach (e.g. under /srv or /opt)" \
                "or set DATABASE_URL to an existing server."
        fi
        chown -R "$RUN_AS" "$DATA" "$RUN" "$LOG"
    fi
}

init_cluster() { # $1: bindir
    local locale_args=(--no-locale)
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
        locale_args=(--locale=C.UTF-8)
    fi
    say "creating a PostgreSQL $(major_of "$1") cluster in $DATA"
    if ! as_server_user "$1/initdb" -D "$DATA" -U "$DB_USER" --auth=trust -E UTF8 \
        "${locale_args[@]}" >"$DEVDB/initdb.log" 2>&1; then
        cat "$DEVDB/initdb.log" >&2
        die "initdb failed (output above, also in .devdb/initdb.log)"
    fi
    cat >>"$DATA/postgresql.conf" <<EOF

# Project-local development cluster (written by .ci/devdb.sh)
listen_addresses = ''
unix_socket_directories = '$RUN'
# Losing the last few commits in a crash is fine here; waiting for every flush is not.
synchronous_commit = off
EOF
}

start() {
    local dir
    dir="$(bindir)"
    if is_running "$dir"; then
        say "PostgreSQL is already running in $DATA"
    else
        prepare_dirs
        [ -f "$DATA/PG_VERSION" ] || init_cluster "$dir"
        say "starting PostgreSQL (log: $LOG)"
        if ! as_server_user "$dir/pg_ctl" start -D "$DATA" -l "$LOG" -w -t 60 >&2; then
            tail -n 20 "$LOG" >&2 || true
            die "PostgreSQL did not start; see $LOG"
        fi
    fi
    if [ "$("$dir/psql" -h "$RUN" -U "$DB_USER" -d postgres -XtAc \
        "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != "1" ]; then
        say "creating database $DB_NAME"
        "$dir/psql" -h "$RUN" -U "$DB_USER" -d postgres -XqAc "CREATE DATABASE $DB_NAME" >&2
    fi
    if [ "$("$dir/psql" -h "$RUN" -U "$DB_USER" -d postgres -XtAc \
        "SELECT 1 FROM pg_roles WHERE rolname = '$APP_USER'")" != "1" ]; then
        say "creating role $APP_USER (the app's role: it does not own the tables)"
        "$dir/psql" -h "$RUN" -U "$DB_USER" -d postgres -XqAc \
            "CREATE ROLE $APP_USER LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE" >&2
    fi
    echo "$URL"
}

stop() {
    local dir
    if [ ! -f "$DATA/PG_VERSION" ]; then
        say "no local cluster in $DATA"
        return 0
    fi
    dir="$(find_bindir)"
    [ -n "$dir" ] || die "PostgreSQL $(cat "$DATA/PG_VERSION") binaries not found; cannot stop"
    if is_running "$dir"; then
        as_server_user "$dir/pg_ctl" stop -D "$DATA" -m fast -w >&2
    else
        say "PostgreSQL is not running"
    fi
}

status() {
    local dir
    if [ -f "$DATA/PG_VERSION" ] && dir="$(find_bindir)" && [ -n "$dir" ] &&
        is_running "$dir"; then
        say "running: $URL"
    else
        say "not running"
        return 3
    fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
url) echo "$URL" ;;
owner-url) echo "$OWNER_URL" ;;
*) die "usage: $0 start|stop|status|url|owner-url" ;;
esac
