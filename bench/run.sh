#!/usr/bin/env bash
# bench/run.sh: build Latchkey, run it on a fresh database, load it with the
# standard scenarios, and print one JSON line per scenario plus a table.
#
#   bench/run.sh [sqlite]      embedded SQLite in a temp dir (the default)
#   bench/run.sh mysql DSN     e.g. 'latchkey:pw@tcp(127.0.0.1:3306)/latchkey_bench?parseTime=true'
#
# mysql mode DROPS AND RECREATES the database named in the DSN (with the
# mariadb or mysql client, as the DSN's user, who needs the rights for it),
# and refuses a database host that is not on this machine.
#
# Phases, each on a fresh database: first the ceilings — the benchmark build
# (go build -tags benchceiling: GET /bench/sign, no issued token stored) runs
# ceiling_sign and ceiling_client_credentials, and every later line carries
# its scenario's ceiling_rps and pct_of_ceiling (bench/ceiling.go); then the
# development defaults (JWT access
# tokens) run client_credentials_jwt, introspect, jwks, password and refresh
# (as the demo user), authorization_code (the demo user's browser session), legacy_login and legacy_refresh (as users they sign
# up), apt_grant and users_me (as the demo environment's account provider;
# skipped with a note when dev-credentials.txt names no environment),
# service_token (with the demo API credential), signup_token and its burst
# (with the demo API key; each skipped without it),
# then a burst of password logins at BENCH_BURST
# concurrency whose line's rss_peak_mib is the server's peak RSS so far; then
# the generated config with access_token_format: opaque runs
# client_credentials_opaque; then, with passkeys on and the issuer on
# localhost, passkey_login (LoginID's fido2 sign-in, a software
# authenticator in the harness).
#
# Environment: BENCH_PORT (default: the first free port of 18080-18099),
# BENCH_CONCURRENCY (16), BENCH_SECONDS (10), BENCH_WARMUP (1, seconds),
# BENCH_BURST (200, the burst's concurrency), BENCH_BURST_SECONDS (5),
# BENCH_APT_RATE (the harness's -apt-rate: apt_grant's expected grants/s, which
# sizes its pool of APTs signed before the run; default the harness's 3000),
# BENCH_LOG_LEVEL (the server's --log-level, default warn: no line per
# request), BENCH_KEEP=1 keeps the temp dir (binaries, data, server logs) after a
# successful run; after a failure it is always kept.
#
# Run it with nothing else heavy on the machine: the server, the harness and
# the database share its 2 cores, so any other load skews the numbers.
set -euo pipefail

die() {
	echo "run.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 [sqlite | mysql DSN]" >&2
	exit 2
}

mode=${1:-sqlite}
dsn=
case $mode in
sqlite) (($# <= 1)) || usage ;;
mysql)
	(($# == 2)) || usage
	dsn=$2
	;;
*) usage ;;
esac

# The server's per-request log lines (level info) cost throughput; the
# benchmark measures the server, not its logger.
log_level=${BENCH_LOG_LEVEL:-warn}
concurrency=${BENCH_CONCURRENCY:-16}
seconds=${BENCH_SECONDS:-10}
warmup=${BENCH_WARMUP:-1}
burst=${BENCH_BURST:-200}
burst_seconds=${BENCH_BURST_SECONDS:-5}
apt_rate=${BENCH_APT_RATE:-}
for v in concurrency seconds warmup burst burst_seconds; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
[[ -z $apt_rate || $apt_rate =~ ^[0-9]+$ ]] || die "BENCH_APT_RATE must be a whole number, got '$apt_rate'"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

command -v go >/dev/null || die "go is not on PATH"
command -v curl >/dev/null || die "curl is not on PATH"

# --- the port -----------------------------------------------------------
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [[ -n ${BENCH_PORT:-} ]]; then
	port=$BENCH_PORT
	[[ $port =~ ^[0-9]+$ ]] || die "BENCH_PORT must be a number, got '$port'"
	! port_busy "$port" || die "port $port on 127.0.0.1 is in use"
else
	port=
	for p in $(seq 18080 18099); do
		if ! port_busy "$p"; then
			port=$p
			break
		fi
	done
	[[ -n $port ]] || die "no free port in 18080-18099 (set BENCH_PORT)"
fi
base_url=http://127.0.0.1:$port

# --- mysql: parse the DSN -------------------------------------------------
my_client='' my_user='' my_pass='' my_proto='' my_host='' my_port='' my_socket='' my_db=''
if [[ $mode == mysql ]]; then
	# go-sql-driver form: [user[:password]@]proto(address)/dbname[?params]
	re='^([^:@/]*)(:(.*))?@(tcp|unix)\(([^)]*)\)/([^?/]+)(\?.*)?$'
	[[ $dsn =~ $re ]] || die "cannot parse the DSN; want user:pass@tcp(host:port)/dbname?parseTime=true"
	my_user=${BASH_REMATCH[1]}
	my_pass=${BASH_REMATCH[3]}
	my_proto=${BASH_REMATCH[4]}
	addr=${BASH_REMATCH[5]}
	my_db=${BASH_REMATCH[6]}
	[[ $my_db =~ ^[A-Za-z0-9_]+$ ]] || die "database name '$my_db': only letters, digits and _ are accepted here"
	case ${my_db,,} in
	mysql | sys | information_schema | performance_schema) die "refusing to drop the system database '$my_db'" ;;
	esac
	if [[ $my_proto == unix ]]; then
		my_socket=$addr
		[[ -n $my_socket ]] || die "the DSN names no unix socket"
	else
		addr=${addr:-127.0.0.1:3306}
		if [[ $addr =~ ^\[(.*)\]:([0-9]+)$ || $addr =~ ^([^:]*):([0-9]+)$ ]]; then
			my_host=${BASH_REMATCH[1]} my_port=${BASH_REMATCH[2]}
		else
			my_host=${addr#[} my_host=${my_host%]} my_port=3306
		fi
		case $my_host in
		localhost | 127.* | ::1) ;;
		*) die "database host '$my_host' is not on this machine; load on other hosts is forbidden here" ;;
		esac
	fi
	if command -v mariadb >/dev/null; then
		my_client=mariadb
	elif command -v mysql >/dev/null; then
		my_client=mysql
	else
		die "mysql mode needs the mariadb or mysql client"
	fi
fi

# --- temp dir, cleanup ----------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-bench.XXXXXX")
server_pid=
bench_pid=
tee_pid=
log=
results=$tmp/results.jsonl
: >"$results"

stop_server() {
	[[ -n $server_pid ]] || return 0
	local pid=$server_pid i rc=0
	server_pid=
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 150; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "run.sh: the server (pid $pid) did not stop within 15 s of SIGTERM; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || rc=$?
	((rc == 0)) || echo "run.sh: the server exited with status $rc (log: $log)" >&2
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $bench_pid ]]; then
		kill -TERM "$bench_pid" 2>/dev/null || true
		wait "$bench_pid" 2>/dev/null || true
	fi
	if [[ -n $tee_pid ]]; then
		wait "$tee_pid" 2>/dev/null || true
	fi
	stop_server
	if ((rc == 0)) && [[ ${BENCH_KEEP:-0} != 1 ]]; then
		rm -rf "$tmp"
	else
		echo "run.sh: binaries, data and server logs are in $tmp" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- helpers --------------------------------------------------------------
mysql_exec() {
	local cnf=$tmp/my.cnf esc=${my_pass//\\/\\\\}
	esc=${esc//\"/\\\"}
	(
		umask 077
		{
			echo "[client]"
			echo "user=\"$my_user\""
			[[ -z $my_pass ]] || echo "password=\"$esc\""
			if [[ -n $my_socket ]]; then
				echo "socket=$my_socket"
			else
				echo "protocol=TCP"
				echo "host=$my_host"
				echo "port=$my_port"
			fi
		} >"$cnf"
	)
	"$my_client" --defaults-extra-file="$cnf" --batch -e "$1"
}

fresh_database() {
	if [[ $mode == mysql ]]; then
		echo "run.sh: recreating MySQL database '$my_db'" >&2
		mysql_exec "DROP DATABASE IF EXISTS \`$my_db\`; CREATE DATABASE \`$my_db\` CHARACTER SET utf8mb4"
	else
		# The development default's DSN (data/latchkey.db) and its WAL files.
		rm -f "$tmp/data/latchkey.db" "$tmp/data/latchkey.db-wal" "$tmp/data/latchkey.db-shm"
	fi
}

wait_ready() {
	local deadline=$((SECONDS + 30))
	while ((SECONDS < deadline)); do
		if ! kill -0 "$server_pid" 2>/dev/null; then
			echo "run.sh: the server exited during start-up" >&2
			return 1
		fi
		if curl -fsS -o /dev/null --max-time 1 "$base_url/readyz" 2>/dev/null; then
			return 0
		fi
		sleep 0.2
	done
	echo "run.sh: the server was not ready within 30 s" >&2
	return 1
}

# start_server LABEL [serve flags...]: runs `latchkey serve` in $tmp.
start_server() {
	local label=$1
	shift
	log=$tmp/server-$label.log
	(cd "$tmp" && exec "${server_bin:-$tmp/latchkey}" serve --log-level "$log_level" "$@") >"$log" 2>&1 &
	server_pid=$!
	if ! wait_ready; then
		echo "---- server log ($log) ----" >&2
		cat "$log" >&2
		echo "---- end of server log ----" >&2
		exit 1
	fi
	echo "run.sh: server up (pid $server_pid, $label) on $base_url" >&2
}

# run_bench SCENARIOS [CONCURRENCY [SECONDS]]: the harness and its tee run in
# the background and are waited for, so that a signal to this script is
# handled at once (a foreground command would delay the trap until it ends).
run_bench() {
	local conc=${2:-$concurrency} secs=${3:-$seconds}
	echo "run.sh: load: $1 (concurrency $conc, ${secs}s + ${warmup}s warm-up each)" >&2
	local fifo=$tmp/bench.fifo rc=0
	rm -f "$fifo"
	mkfifo "$fifo"
	tee -a "$results" <"$fifo" &
	tee_pid=$!
	local extra=()
	[[ -z $apt_rate ]] || extra+=(-apt-rate "$apt_rate")
	[[ -z $ceilings ]] || extra+=(-ceilings "$ceilings")
	"$tmp/bench" -url "$base_url" -scenario "$1" -concurrency "$conc" \
		-duration "${secs}s" -warmup "${warmup}s" -db "$mode" -server-pid "$server_pid" "${extra[@]}" >"$fifo" &
	bench_pid=$!
	wait "$bench_pid" || rc=$?
	bench_pid=
	wait "$tee_pid" || true
	tee_pid=
	((rc == 0)) || die "the harness failed (exit $rc); server log: $log"
}

# jfield KEY LINE: one value from a harness line (a string's contents, a
# number, or the errors object).
jfield() {
	local re="\"$1\":(\"([^\"]*)\"|\\{[^}]*\\}|[^,}]*)"
	if [[ $2 =~ $re ]]; then
		if [[ -n ${BASH_REMATCH[2]} ]]; then
			printf '%s' "${BASH_REMATCH[2]}"
		else
			printf '%s' "${BASH_REMATCH[1]}"
		fi
	else
		printf '?'
	fi
}

print_table() {
	local fmt='%-33s %-7s %5s %10s %10s %6s %9s %9s %9s %9s %9s  %s\n' line errs ceil pct
	echo
	# shellcheck disable=SC2059
	printf "$fmt" scenario db conc rps ceiling pct p50_ms p90_ms p99_ms rss_mib peak_mib errors
	while IFS= read -r line; do
		errs=$(jfield errors "$line")
		errs=${errs//\"/}
		errs=${errs#\{}
		errs=${errs%\}}
		ceil=$(jfield ceiling_rps "$line")
		pct=$(jfield pct_of_ceiling "$line")
		[[ $ceil != '?' ]] || ceil=-
		[[ $pct != '?' ]] || pct=-
		# shellcheck disable=SC2059
		printf "$fmt" "$(jfield scenario "$line")" "$(jfield db "$line")" "$(jfield concurrency "$line")" \
			"$(jfield rps "$line")" "$ceil" "$pct" "$(jfield p50_ms "$line")" "$(jfield p90_ms "$line")" "$(jfield p99_ms "$line")" \
			"$(jfield rss_mib "$line")" "$(jfield rss_peak_mib "$line")" "${errs:-none}"
	done <"$results"
}

# --- build ----------------------------------------------------------------
echo "run.sh: building into $tmp" >&2
go build -o "$tmp/latchkey" ./cmd/latchkey
# The benchmark build (tag benchceiling): GET /bench/sign, and no issued
# token stored. Only phase 0 runs it.
go build -tags benchceiling -o "$tmp/latchkey-ceiling" ./cmd/latchkey
go build -o "$tmp/bench" ./bench

export LATCHKEY_LISTEN=127.0.0.1:$port
export LATCHKEY_ISSUER=$base_url
if [[ $mode == mysql ]]; then
	export LATCHKEY_DATABASE_DRIVER=mysql
	export LATCHKEY_DATABASE_DSN=$dsn
else
	unset LATCHKEY_DATABASE_DRIVER LATCHKEY_DATABASE_DSN
fi

# --- phase 0: the ceilings -------------------------------------------------
# The benchmark build on the development defaults (it writes data/ as the
# real one does): an ES256 signature through gin, and the client_credentials
# path without its database write. Every later line carries its scenario's
# ceiling from this run and its share of it (bench/ceiling.go).
ceilings=
fresh_database
server_bin=$tmp/latchkey-ceiling start_server ceiling

cred=$tmp/data/dev-credentials.txt
[[ -f $cred ]] || die "the server wrote no $cred"
# Sourced in a subshell, so the file's other variables stay out of this script.
creds=$(
	set +u
	# shellcheck disable=SC1090
	. "$cred" >/dev/null
	printf '%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n' "${DEMO_CLIENT_ID-}" "${DEMO_CLIENT_SECRET-}" "${DEMO_USERNAME-}" "${DEMO_PASSWORD-}" \
		"${DEMO_ENVIRONMENT_GUID-}" "${DEMO_ENVIRONMENT_KEY-}" "${DEMO_API_KEY-}" "${DEMO_CREDENTIAL_ID-}" "${DEMO_CREDENTIAL_KEY-}"
)
{
	IFS= read -r DEMO_CLIENT_ID
	IFS= read -r DEMO_CLIENT_SECRET
	IFS= read -r DEMO_USERNAME
	IFS= read -r DEMO_PASSWORD
	IFS= read -r DEMO_ENVIRONMENT_GUID
	IFS= read -r DEMO_ENVIRONMENT_KEY
	IFS= read -r DEMO_API_KEY
	IFS= read -r DEMO_CREDENTIAL_ID
	IFS= read -r DEMO_CREDENTIAL_KEY
} <<<"$creds"
unset creds
[[ -n $DEMO_CLIENT_ID && -n $DEMO_CLIENT_SECRET ]] || die "$cred sets no DEMO_CLIENT_ID/DEMO_CLIENT_SECRET"
[[ -n $DEMO_USERNAME && -n $DEMO_PASSWORD ]] || die "$cred sets no DEMO_USERNAME/DEMO_PASSWORD"
# The harness reads them from the environment (a flag would show in ps).
export DEMO_CLIENT_ID DEMO_CLIENT_SECRET DEMO_USERNAME DEMO_PASSWORD

run_bench ceiling_sign,ceiling_client_credentials
stop_server
ceiling_rps() {
	local line
	line=$(grep -F "\"scenario\":\"$1\"" "$results" | tail -n 1)
	[[ -n $line ]] || die "the harness printed no $1 line"
	jfield rps "$line"
}
ceilings="sign=$(ceiling_rps ceiling_sign),client_credentials=$(ceiling_rps ceiling_client_credentials)"
echo "run.sh: ceilings of this run: $ceilings" >&2

# --- phase 1: development defaults (JWT access tokens) --------------------
# The same data directory (config and credentials) on a fresh database: the
# server makes the demo user again.
fresh_database
start_server jwt
have_environment=0
if [[ -n $DEMO_ENVIRONMENT_GUID && -n $DEMO_ENVIRONMENT_KEY ]]; then
	# The key's path is relative to the server's directory ($tmp).
	[[ $DEMO_ENVIRONMENT_KEY == /* ]] || DEMO_ENVIRONMENT_KEY=$tmp/$DEMO_ENVIRONMENT_KEY
	export DEMO_ENVIRONMENT_GUID DEMO_ENVIRONMENT_KEY
	have_environment=1
else
	unset DEMO_ENVIRONMENT_GUID DEMO_ENVIRONMENT_KEY
fi

run_bench client_credentials_jwt,introspect,jwks
# Sixteen concurrent logins of one user would hold more than the realm's
# lockout.max_failures (10) slots at once, and the lockout refuses attempts
# beyond it without hashing (docs/security.md): the benchmark measures the
# hashing, so it raises the limit, through a SIGHUP reload as an admin would.
sed -i -E 's/(max_failures:[[:space:]]*)[0-9]+/\11000000/' "$tmp/data/latchkey.yaml"
kill -HUP "$server_pid"
reloaded() {
	local m
	m=$(curl -fsS --max-time 1 "$base_url/metrics" 2>/dev/null) || return 1
	[[ $m == *'latchkey_config_reloads_total{result="ok"} 1'* ]]
}
for _ in $(seq 1 50); do
	reloaded && break
	sleep 0.1
done
reloaded || die "the server did not reload the raised lockout limit; see $log"
run_bench password,refresh
# Browser sign-in as the public demo-web client: each worker signs in once
# on the login page, then every iteration is a full authorize → code →
# token round trip with PKCE on that session (no password hash).
run_bench authorization_code
# The legacy REST API, as the legacy client legacy-app, each worker as a user
# it signs up before the warm-up: a login per iteration (argon2id-bound, like
# password) and refresh chains (the same refresh rules as refresh: compare).
run_bench legacy_login,legacy_refresh
# The Work API as an account provider: the jwt-bearer grant with a fresh APT
# per request (signed before the run, see bench/workapi.go), and /users/me.
if ((have_environment)); then
	run_bench apt_grant,users_me
else
	echo "run.sh: skipping apt_grant and users_me: $cred sets no DEMO_ENVIRONMENT_GUID/DEMO_ENVIRONMENT_KEY (a data dir from before the Work API?)" >&2
fi
# LoginID: a guarded route, each request with a fresh service token that the
# harness signs (ES256 verify + nonce INSERT + user read on the server).
if [[ -n $DEMO_CREDENTIAL_ID && -n $DEMO_CREDENTIAL_KEY ]]; then
	[[ $DEMO_CREDENTIAL_KEY == /* ]] || DEMO_CREDENTIAL_KEY=$tmp/$DEMO_CREDENTIAL_KEY
	export DEMO_CREDENTIAL_ID DEMO_CREDENTIAL_KEY
	run_bench service_token
else
	echo "run.sh: skipping service_token: $cred sets no DEMO_CREDENTIAL_ID/DEMO_CREDENTIAL_KEY" >&2
fi
# AuthRocket signups (one argon2id hash each, then the conversion), then a
# burst that the bound on hashes must hold (503s, bounded RSS).
if [[ -n $DEMO_API_KEY ]]; then
	export DEMO_API_KEY
	run_bench signup_token
	run_bench signup_token "$burst" "$burst_seconds"
else
	unset DEMO_API_KEY
	echo "run.sh: skipping signup_token: $cred sets no DEMO_API_KEY" >&2
fi
# A burst of concurrent logins: the server bounds the argon2id hashes in
# flight (the rest wait, then get 503), so its peak RSS must stay bounded.
run_bench password "$burst" "$burst_seconds"
stop_server

# --- phase 2: the same config with opaque access tokens -------------------
cfg=$tmp/data/latchkey.yaml
opaque_cfg=$tmp/data/latchkey-opaque.yaml
[[ -f $cfg ]] || die "the server wrote no $cfg"
(umask 077 && sed -E 's/^([[:space:]]*access_token_format:[[:space:]]*)["'\'']?jwt["'\'']?/\1opaque/' "$cfg" >"$opaque_cfg")
grep -Eq '^[[:space:]]*access_token_format:[[:space:]]*opaque' "$opaque_cfg" ||
	die "found no 'access_token_format: jwt' in $cfg to switch to opaque"

# The opaque path's own ceiling first: the benchmark build on this config.
fresh_database
server_bin=$tmp/latchkey-ceiling start_server ceiling-opaque --config "$opaque_cfg"
run_bench ceiling_client_credentials_opaque
stop_server
ceilings="$ceilings,client_credentials_opaque=$(ceiling_rps ceiling_client_credentials_opaque)"
echo "run.sh: ceilings of this run: $ceilings" >&2
fresh_database
start_server opaque --config "$opaque_cfg"
run_bench client_credentials_opaque
stop_server

# --- phase 3: passkeys ------------------------------------------------------
# A passkey's relying party is a domain name, never an IP address: this phase
# runs the issuer as http://localhost:PORT (the harness still connects to
# 127.0.0.1; its software authenticator writes the localhost origin) with
# passkeys: true on the demo realm, and signs in with LoginID's fido2 routes.
passkeys_cfg=$tmp/data/latchkey-passkeys.yaml
(umask 077 && sed -E 's/^([[:space:]]*passkeys:[[:space:]]*)false/\1true/' "$cfg" >"$passkeys_cfg")
if ! grep -Eq '^[[:space:]]*passkeys:[[:space:]]*true' "$passkeys_cfg"; then
	echo "run.sh: skipping passkey_login: found no 'passkeys: false' in $cfg to switch on" >&2
elif [[ -z ${DEMO_CREDENTIAL_ID-} ]]; then
	echo "run.sh: skipping passkey_login: $cred sets no DEMO_CREDENTIAL_ID" >&2
else
	export LATCHKEY_ISSUER=http://localhost:$port
	export DEMO_CREDENTIAL_ID DEMO_WEBAUTHN_ORIGIN=http://localhost:$port
	fresh_database
	start_server passkeys --config "$passkeys_cfg"
	run_bench passkey_login
	stop_server
fi

print_table
