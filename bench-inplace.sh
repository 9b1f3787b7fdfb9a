#!/usr/bin/env bash
# In-place benchmarks: figures, not tests (docs/performance.md, "In-place runs").
#
#   ./bench-inplace.sh scale [N...]   time of an in-place run with nothing to do, with 1 new
#                                     submission and with 1,000 edited ones, on sources of N
#                                     processed submissions (default 10000 100000 1000000);
#                                     and of a run with nothing to do without change capture
#   ./bench-inplace.sh first-run      a first in-place run of xlarge next to scenario mode
#                                     (events/s, same server, alternating, the ratio per round;
#                                     JOBS=N for --jobs N on both sides)
#   ./bench-inplace.sh capture-cost   the application's writes with and without change capture:
#                                     one INSERT of 100,000 submissions, and 10,000 single-row
#                                     INSERTs each in its own transaction (pgbench)
#   ./bench-inplace.sh settings       two raw COPY streams of xlarge's events (or $SCENARIO's) on
#                                     the server with its defaults, and with each setting a DBA
#                                     may change alone
#                                     (SETTINGS=embedded: etl's embedded server's, each reverted;
#                                     SETTINGS=checkpoints SCENARIO=huge: a load past max_wal_size,
#                                     defaults against a larger max_wal_size, with and without
#                                     zero-filled new WAL files)
#   ./bench-inplace.sh all            the first three
#
# Every figure is the median of $RUNS (default 3) runs, and the two sides of a comparison
# alternate, so a noisy machine hurts both alike.  The server is a private PostgreSQL with its
# default settings (what an in-place user runs), but max_wal_size = 8GB so that building the
# million-submission source takes minutes; it lives in $BENCH_DIR (default
# /var/tmp/etl-bench-inplace), listens on a Unix socket only, and is stopped at the end.
# Needs ./build/etl (./setup.sh build) and about 15 GB of disk for the 1M source.
set -euo pipefail
cd "$(dirname "$0")"

ETL=${ETL:-./build/etl}
RUNS=${RUNS:-3}
JOBS=${JOBS:-1} # first-run: workers on both sides (scenario --jobs, in-place --jobs)
INPLACE_ARGS=${INPLACE_ARGS:-} # first-run: more options for the in-place side (--batch-size N)
DIR=${BENCH_DIR:-/var/tmp/etl-bench-inplace}
BIN=${ETL_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}
PGUSER_OS=postgres
[ "$(id -u)" -eq 0 ] || PGUSER_OS=$(id -un)
S="host=$DIR user=postgres dbname=postgres"

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u "$PGUSER_OS" -- "$@"; else "$@"; fi; }
psql_on() { local db=$1; shift; psql -X -q -v ON_ERROR_STOP=1 -h "$DIR" -U postgres -d "$db" "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

start_server() {
    if [ ! -d "$DIR/data" ]; then
        mkdir -p "$DIR" && chown "$PGUSER_OS" "$DIR" && chmod 0700 "$DIR"
        as_pg "$BIN/initdb" -D "$DIR/data" -U postgres -A trust >/dev/null
        echo "max_wal_size = '8GB'" >> "$DIR/data/postgresql.conf"
    fi
    # A `settings` run stopped half-way may have left its ALTER SYSTEM settings: drop them.
    as_pg sh -c ": > '$DIR/data/postgresql.auto.conf'"
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
        -o "-k $DIR -c listen_addresses=''" start >/dev/null
    trap 'as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null' EXIT
}

recreate() { # recreate NAME [TEMPLATE]
    psql_on postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" \
        -c "CREATE DATABASE $1 ${2:+TEMPLATE $2 STRATEGY FILE_COPY}"
}

ci() { echo "host=$DIR user=postgres dbname=$1"; }

need_template() { # the scenario's template database, generated once
    if [ "$(psql_on postgres -Atc "SELECT count(*) FROM pg_database WHERE datname = 'etl_tpl_$1'")" = 0 ]; then
        "$ETL" -q --db "$S" generate "$1"
    fi
}

# ---- scale ---------------------------------------------------------------------------------

# scale_source N: database scale_N, xlarge processed in place, then cut or copied (with new
# ids, their events and ledger rows, triggers off) to N processed submissions.
scale_source() {
    local n=$1 db=scale_$1
    recreate "$db" etl_tpl_xlarge
    "$ETL" -q --db "$(ci "$db")" init
    "$ETL" -q --db "$(ci "$db")" process copy
    psql_on "$db" <<SQL
SET session_replication_role = replica;  -- no capture of this set-up
SET maintenance_work_mem = '1GB';
-- Rows first, indexes after: building an index once is far cheaper than growing it row by row.
DROP INDEX dwh.response_events_submission_idx;
ALTER TABLE dwh.etl_processed DROP CONSTRAINT etl_processed_pkey;
CREATE TEMP TABLE keep AS SELECT id FROM app.submissions ORDER BY id LIMIT $n;
-- Each copy is made from the kept originals, never from the copies made before it.
CREATE TEMP TABLE base_events AS SELECT e.* FROM dwh.response_events e JOIN keep k ON k.id = e.submission_id;
DELETE FROM dwh.response_events e WHERE NOT EXISTS (SELECT 1 FROM keep k WHERE k.id = e.submission_id);
DELETE FROM dwh.etl_processed p WHERE NOT EXISTS (SELECT 1 FROM keep k WHERE k.id = p.submission_id);
DELETE FROM app.submissions s WHERE NOT EXISTS (SELECT 1 FROM keep k WHERE k.id = s.id);
DO \$\$
DECLARE base bigint := (SELECT count(*) FROM app.submissions); k int := 1;
BEGIN
    WHILE (SELECT count(*) FROM app.submissions) < $n LOOP
        CREATE TEMP TABLE batch ON COMMIT DROP AS
            SELECT id AS old, md5(id::text || k)::uuid AS new FROM keep
            ORDER BY id LIMIT least(base, $n - (SELECT count(*) FROM app.submissions));
        INSERT INTO app.submissions SELECT b.new, s.form_id, s.user_id, s.responses, s.date_created
            FROM app.submissions s JOIN batch b ON b.old = s.id;
        INSERT INTO dwh.response_events (form_id, form_name, user_id, user_full_name, submission_id,
                submission_created, processed_on, schema_path, value, answer_type, tag)
            SELECT e.form_id, e.form_name, e.user_id, e.user_full_name, b.new, e.submission_created,
                e.processed_on, e.schema_path, e.value, e.answer_type, e.tag
            FROM base_events e JOIN batch b ON b.old = e.submission_id;
        INSERT INTO dwh.etl_processed SELECT b.new, 1 FROM batch b;
        DROP TABLE batch;
        k := k + 1;
    END LOOP;
END \$\$;
CREATE INDEX response_events_submission_idx ON dwh.response_events (submission_id);
ALTER TABLE dwh.etl_processed ADD PRIMARY KEY (submission_id);
SQL
    psql_on "$db" -c "VACUUM ANALYZE"
}

time_run() { # time_run DB: wall milliseconds of one in-place run, as cron pays it
    local t0; t0=$(now_ms)
    "$ETL" -q --db "$(ci "$1")" process copy
    echo $(( $(now_ms) - t0 ))
}

scale() {
    need_template xlarge
    printf '%-12s %10s %10s %14s %20s   (ms, median of %d; wall time of `etl -q process copy`)\n' \
        submissions idle "1 new" "1,000 edits" "idle, no capture" "$RUNS"
    for n in "${@:-10000 100000 1000000}"; do
        for m in $n; do
            scale_source "$m"
            local db=scale_$m idle=() one=() edits=()
            for r in $(seq "$RUNS"); do
                idle+=("$(time_run "$db")")
                psql_on "$db" -c "INSERT INTO app.submissions SELECT gen_random_uuid(), form_id, user_id, responses, now() FROM app.submissions WHERE id = (SELECT id FROM app.submissions ORDER BY id LIMIT 1)"
                one+=("$(time_run "$db")")
                psql_on "$db" -c "UPDATE app.submissions SET responses = (responses::jsonb || jsonb_build_object('edited', $r))::json WHERE id IN (SELECT id FROM app.submissions ORDER BY id OFFSET $(( r * 1000 )) LIMIT 1000)"
                edits+=("$(time_run "$db")")
            done
            # The same source without change capture: the ledger scan of --no-capture installs.
            psql_on "$db" -c "DROP SCHEMA etl CASCADE"
            local scan=()
            for r in $(seq "$RUNS"); do scan+=("$(time_run "$db")"); done
            printf '%-12s %10s %10s %14s %20s\n' "$m" \
                "$(printf '%s\n' "${idle[@]}" | median)" "$(printf '%s\n' "${one[@]}" | median)" \
                "$(printf '%s\n' "${edits[@]}" | median)" "$(printf '%s\n' "${scan[@]}" | median)"
            psql_on postgres -c "DROP DATABASE $db WITH (FORCE)"
        done
    done
}

# ---- first run -------------------------------------------------------------------------------

json_rate() { sed -n 's/.*"events_per_s":\([0-9.]*\).*/\1/p'; }

settle() { # before a measured run: the last run's writes on disk, not landing in this one
    psql_on postgres -c CHECKPOINT
    sync
}

first_run() {
    need_template xlarge
    local scen=() inplace=() ratios=()
    for r in $(seq "$RUNS"); do
        settle
        scen+=("$("$ETL" -q --db "$S" process xlarge copy --jobs "$JOBS" --json | json_rate)")
        recreate first_run etl_tpl_xlarge
        "$ETL" -q --db "$(ci first_run)" init
        settle
        # shellcheck disable=SC2086 # INPLACE_ARGS is a list of options
        inplace+=("$("$ETL" -q --db "$(ci first_run)" process copy --jobs "$JOBS" \
            $INPLACE_ARGS --json | json_rate)")
        ratios+=("$(awk -v a="${scen[-1]}" -v b="${inplace[-1]}" 'BEGIN {printf "%.2f", b / a}')")
    done
    echo "first run of xlarge with copy --jobs $JOBS${INPLACE_ARGS:+ $INPLACE_ARGS}, events/s (median of $RUNS," \
        "alternating, a CHECKPOINT and sync before each run):"
    echo "  scenario mode   $(printf '%s\n' "${scen[@]}" | median)   (runs: ${scen[*]})"
    echo "  in place        $(printf '%s\n' "${inplace[@]}" | median)   (runs: ${inplace[*]})"
    echo "  ratio           $(printf '%s\n' "${ratios[@]}" | median)   (median of the rounds'" \
        "ratios: ${ratios[*]})"
}

# ---- capture cost ----------------------------------------------------------------------------

capture_cost() {
    need_template xlarge
    # Three application databases, each with 100,000 submissions to insert in `stage`: plain;
    # with etl's change capture (triggers and queue) but not the two indexes `etl init` adds on
    # app.submissions; and with both, as `etl init` leaves it.
    local modes=(plain triggers capture)
    for mode in "${modes[@]}"; do
        recreate "cost_$mode" etl_tpl_xlarge
        psql_on "cost_$mode" <<'SQL'
CREATE TABLE stage AS SELECT row_number() OVER () AS n, md5(s.id::text || k)::uuid AS id, s.form_id,
    s.user_id, s.responses, s.date_created FROM app.submissions s, generate_series(1, 5) k LIMIT 100000;
CREATE INDEX ON stage (n);
SQL
        if [ "$mode" != plain ]; then
            "$ETL" -q --db "$(ci "cost_$mode")" init
            psql_on "cost_$mode" -c "TRUNCATE etl.queue"
        fi
        [ "$mode" = triggers ] && psql_on "cost_$mode" \
            -c "DROP INDEX app.etl_submissions_form_id_idx, app.etl_submissions_user_id_idx"
        psql_on "cost_$mode" -c "VACUUM ANALYZE"
    done
    cat > "$DIR/one.sql" <<'SQL'
\set n random(1, 100000)
INSERT INTO app.submissions SELECT gen_random_uuid(), form_id, user_id, responses, now() FROM stage WHERE n = :n;
SQL
    chmod 0644 "$DIR/one.sql"
    declare -A bulk one
    for r in $(seq "$RUNS"); do
        for mode in "${modes[@]}"; do
            recreate "run_$mode" "cost_$mode"
            local t0; t0=$(now_ms)
            psql_on "run_$mode" -c "INSERT INTO app.submissions SELECT id, form_id, user_id, responses, date_created FROM stage"
            bulk[$mode]+="$(( $(now_ms) - t0 )) "
            t0=$(now_ms)
            "$BIN/pgbench" -n -h "$DIR" -U postgres -t 10000 -f "$DIR/one.sql" "run_$mode" >/dev/null
            one[$mode]+="$(( $(now_ms) - t0 )) "
        done
    done
    echo "application writes, ms (median of $RUNS, the three alternating):"
    printf '  %-48s %8s %9s %9s %9s %9s\n' "" plain triggers ratio "+indexes" ratio
    local what
    for what in bulk one; do
        local -n m=$what
        local p t c
        p=$(printf '%s\n' ${m[plain]} | median); t=$(printf '%s\n' ${m[triggers]} | median)
        c=$(printf '%s\n' ${m[capture]} | median)
        awk -v l="$([ $what = bulk ] && echo 'one INSERT ... SELECT of 100,000 submissions' || echo '10,000 single-row INSERTs, one per transaction')" \
            -v p="$p" -v t="$t" -v c="$c" \
            'BEGIN {printf "  %-48s %8d %9d %9.2f %9d %9.2f\n", l, p, t, t / p, c, c / p}'
        echo "    runs: plain ${m[plain]}/ triggers ${m[triggers]}/ +indexes ${m[capture]}"
    done
}

# ---- server settings -------------------------------------------------------------------------

# What bounds loading, and what each setting buys: xlarge's events (SCENARIO=huge: huge's; from
# an in-place run) in two halves, loaded by two psql \copy at once into dwh.response_events with
# both its indexes, after a TRUNCATE and a CHECKPOINT (not timed).  Against PostgreSQL's
# defaults (max_wal_size back to 1GB) with each setting changed alone, then some together (or,
# with SETTINGS=checkpoints, a larger max_wal_size); or, with
# SETTINGS=embedded, against the settings etl gives its embedded server (server_conf[] in
# src/server/server.c) with each reverted alone, and then also one stream with the TRUNCATE in
# the loading transaction (the WAL skip scenario runs get).  The configurations alternate
# within each round, and the server restarts for each.  Prints WAL written, checkpoints,
# full-page images (pg_stat_wal's wal_fpi) and WAL files created of the two-stream loads.
wal_files() { # the WAL files by inode: a reused (renamed) file keeps its inode, a new one has its own
    find "$DIR/data/pg_wal" -maxdepth 1 -type f -name '0*' -printf '%i\n' | sort
}

settings() {
    local scenario=${SCENARIO:-xlarge}
    need_template "$scenario"
    recreate settings "etl_tpl_$scenario"
    "$ETL" -q --db "$(ci settings)" init
    "$ETL" -q --db "$(ci settings)" process copy
    local cols="form_id, form_name, user_id, user_full_name, submission_id, submission_created,
        processed_on, schema_path, value, answer_type, tag" k events
    cols=$(echo $cols) # one line: psql's \copy takes no newline
    for k in 0 1; do
        psql_on settings -c "\copy (SELECT $cols FROM dwh.response_events WHERE id % 2 = $k) TO '$DIR/half$k.bin' WITH (FORMAT binary)"
    done
    events=$(psql_on settings -Atc "SELECT count(*) FROM dwh.response_events")
    local base configs one_stream=false
    if [ "${SETTINGS:-defaults}" = embedded ]; then
        base="fsync=off synchronous_commit=off full_page_writes=off wal_level=minimal
              max_wal_senders=0 max_wal_size=4GB checkpoint_timeout=30min shared_buffers=256MB
              autovacuum=off"
        configs=("as etl sets it" "fsync=on" "full_page_writes=on" "wal_level=replica max_wal_senders=10"
            "max_wal_size=1GB checkpoint_timeout=5min" "shared_buffers=128MB" "shared_buffers=1GB"
            "wal_buffers=64MB")
        one_stream=true
    elif [ "${SETTINGS:-defaults}" = checkpoints ]; then # for a load past max_wal_size: huge
        base="max_wal_size=1GB"
        # After "defaults", whose restart leaves about 1GB of WAL files to reuse, then after an
        # 8GB server, whose restart leaves the last load's files to reuse.
        configs=("defaults" "max_wal_size=8GB wal_init_zero=off" "max_wal_size=8GB")
    else
        base="max_wal_size=1GB"
        configs=("defaults" "max_wal_size=8GB" "checkpoint_timeout=30min" "shared_buffers=1GB"
            "wal_buffers=64MB" "wal_compression=lz4" "max_wal_size=8GB shared_buffers=1GB wal_buffers=64MB")
    fi
    declare -A ms one wal ckpt fpi made
    local r c kv t0 lsn ck fp files
    for r in $(seq "$RUNS"); do
        for c in "${configs[@]}"; do
            psql_on postgres -c "ALTER SYSTEM RESET ALL"
            for kv in $base $c; do
                if [[ "$kv" == *=* ]]; then
                    psql_on postgres -c "ALTER SYSTEM SET ${kv%%=*} = '${kv#*=}'"
                fi
            done
            as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -m fast -w restart \
                -o "-k $DIR -c listen_addresses=''" >/dev/null
            psql_on settings -c "TRUNCATE dwh.response_events" -c "CHECKPOINT"
            lsn=$(psql_on settings -Atc "SELECT pg_current_wal_lsn()")
            ck=$(psql_on settings -Atc "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")
            fp=$(psql_on settings -Atc "SELECT wal_fpi FROM pg_stat_wal")
            files=$(wal_files)
            t0=$(now_ms)
            local pids=()
            for k in 0 1; do
                psql_on settings -c "\copy dwh.response_events ($cols) FROM '$DIR/half$k.bin' WITH (FORMAT binary)" &
                pids+=($!)
            done
            for k in "${pids[@]}"; do wait "$k"; done # a failed load fails the script
            ms[$c]+="$(( $(now_ms) - t0 )) "
            wal[$c]+="$(psql_on settings -Atc "SELECT (pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn') / 1048576)::int") "
            ckpt[$c]+="$(psql_on settings -Atc "SELECT checkpoints_timed + checkpoints_req - $ck FROM pg_stat_bgwriter") "
            fpi[$c]+="$(psql_on settings -Atc "SELECT wal_fpi - $fp FROM pg_stat_wal") "
            made[$c]+="$(comm -13 <(echo "$files") <(wal_files) | wc -l) "
            if $one_stream; then
                psql_on settings -c "CHECKPOINT"
                t0=$(now_ms)
                psql_on settings -1 -c "TRUNCATE dwh.response_events" \
                    -c "\copy dwh.response_events ($cols) FROM '$DIR/half0.bin' WITH (FORMAT binary)" \
                    -c "\copy dwh.response_events ($cols) FROM '$DIR/half1.bin' WITH (FORMAT binary)"
                one[$c]+="$(( $(now_ms) - t0 )) "
            fi
        done
    done
    psql_on postgres -c "ALTER SYSTEM RESET ALL"
    echo "raw COPY of $events events into dwh.response_events, events/s (median of $RUNS) and" \
        "its ratio to the first line; two streams: WAL written, checkpoints, full-page images and" \
        "WAL files created rather than reused (median):"
    local first m w n f nf
    for c in "${configs[@]}"; do
        m=$(printf '%s\n' ${ms[$c]} | median)
        w=$(printf '%s\n' ${wal[$c]} | median); n=$(printf '%s\n' ${ckpt[$c]} | median)
        f=$(printf '%s\n' ${fpi[$c]} | median); nf=$(printf '%s\n' ${made[$c]} | median)
        first=${first:-$m}
        awk -v c="$c" -v m="$m" -v e="$events" -v b="$first" -v runs="${ms[$c]}" -v w="$w" -v n="$n" \
            -v f="$f" -v nf="$nf" 'BEGIN {printf "  %-40s 2 streams %8d %5.2f  %5d MiB WAL %2d ckpt %7d FPI %4d new files  (ms: %s)\n",
                c, e * 1000 / m, b / m, w, n, f, nf, runs}'
    done
    if $one_stream; then
        first=
        for c in "${configs[@]}"; do
            m=$(printf '%s\n' ${one[$c]} | median)
            first=${first:-$m}
            awk -v c="$c" -v m="$m" -v e="$events" -v b="$first" -v runs="${one[$c]}" \
                'BEGIN {printf "  %-40s 1 stream, TRUNCATE in it %8d %5.2f  (ms: %s)\n", c, e * 1000 / m, b / m, runs}'
        done
    fi
}

[ -x "$ETL" ] || { echo "bench-inplace: $ETL not found; run ./setup.sh build first" >&2; exit 2; }
case "${1:-}" in
scale) shift; start_server; scale "$@" ;;
first-run) start_server; first_run ;;
capture-cost) start_server; capture_cost ;;
settings) start_server; settings ;;
all) start_server; capture_cost; first_run; scale ;;
*) sed -n '2,21p' "$0" >&2; exit 2 ;;
esac
