#!/usr/bin/env bash
# A broker with a million provisioned devices (issue 11; docs/PERFORMANCE.md,
# "A million devices"). Not a test: run by scripts/bench, or alone after
# building credentials_bench and the plugin (-DMQSEAL_BUILD_BENCHMARKS=ON):
#   bench/credentials_bench.sh BUILD_DIR [DEVICES]
# 1. writes a credentials file of DEVICES (default 1 000 000) devices and one
#    of 10 (credentials_bench write: about a minute for a million);
# 2. loads the big one 5 times (Credentials::load + TokenVerifier::create):
#    median time, extra resident memory per device;
# 3. starts two mosquitto brokers with the plugin on free ports of 127.0.0.1,
#    one per file, and compares their login rates (5 alternating rounds of
#    2000 raw CONNECTs with fresh tokens; medians; target: the big broker at
#    least 0.9 times the small one).
set -euo pipefail
build=${1:?usage: bench/credentials_bench.sh BUILD_DIR [DEVICES]}
devices=${2:-1000000}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "$build" in /*) ;; *) build="$root/$build" ;; esac
bench="$build/bench/credentials_bench"
plugin="$build/plugin/mqseal_auth.so"
[ -x "$bench" ] && [ -f "$plugin" ] || { echo "build credentials_bench and mqseal_mosquitto_plugin in $build" >&2; exit 1; }

work=$(mktemp -d /tmp/mqseal-credentials-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bench" write "$work/big.credentials" "$devices"
"$bench" write "$work/small.credentials" 10

echo "== load: $devices devices, 5 runs"
"$bench" load "$work/big.credentials" 5

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_broker() {  # NAME PORT: mosquitto with the plugin and NAME.credentials on 127.0.0.1:PORT
  # The files are 0600 and the bench's: a mosquitto started as root stays root to read them.
  cat > "$work/$1.conf" <<CONF
user root
per_listener_settings false
allow_anonymous false
persistence false
plugin $plugin
plugin_opt_credentials_file $work/$1.credentials
# each round logs each login device in several times within its tokens' lifetime
plugin_opt_max_tokens_per_user 65536
listener $2 127.0.0.1
CONF
  mosquitto -c "$work/$1.conf" >"$work/$1.log" 2>&1 &
  pids+=($!)
  local started=$SECONDS
  until python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', $2), 1)" 2>/dev/null; do
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/$1.log" >&2; echo "mosquitto ($1) did not start" >&2; exit 1; }
    [ $((SECONDS - started)) -lt 120 ] || { echo "mosquitto ($1) did not listen within 120 s" >&2; exit 1; }
    sleep 0.2
  done
  echo "mosquitto with $1.credentials listening on 127.0.0.1:$2 after $((SECONDS - started)) s"
}
small_port=$(free_port)
big_port=$(free_port)
start_broker small "$small_port"
start_broker big "$big_port"

echo "== logins through mosquitto: 10 against $devices provisioned devices"
"$bench" logins 10 "$small_port" "$devices" "$big_port" 5 2000
