#!/usr/bin/env bash
# The demo scenario, on the example programs in BUILD_DIR/examples:
#   run_demo.sh BUILD_DIR
# Starts a mosquitto broker on a free port of 127.0.0.1, a service that opens
# sealed readings, an eavesdropper with no keys, and a device that publishes
# three sealed readings; then an attacker replays a tampered capture and
# injects a plaintext reading. The device logs in over plain TCP with a
# one-time CONNECT token (mqseal_auth.so in the broker; `mqseal provision`
# made its secret); a replayed token and the password itself are refused, and
# so is another login presenting the device's client ID.
# Then a stolen-device scene with signed readings (suite 2): device 7's keys
# cannot forge device 8's readings nor disturb its replay stream; and a
# backend-only report (suite 3, sealed to the backend's X25519 public key)
# that device 7's keys cannot read, while the backend does.
# Shows what the service read next to what the eavesdropper saw, checks every
# outcome, stops everything it started.
# With MQSEAL_PYTHON set to a Python that has mqseal and paho-mqtt, a Python
# service (examples/python/paho_service.py) opens the same readings too.
# Used by scripts/demo and by the tests (example.paho_against_broker).
# MQSEAL_DEMO_KEEP=1 keeps the working folder (logs, keys) for a look after.
set -euo pipefail
# The keys and policies written below must not be writable by group or
# others (mqseal refuses them): a caller's umask of 002 would make them so.
umask 022

bin="$(cd "${1:?usage: run_demo.sh BUILD_DIR}" && pwd)/examples"
work=$(mktemp -d /tmp/mqseal-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${MQSEAL_DEMO_KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "DEMO FAILED: $*" >&2; [ -f "$work/broker.log" ] && tail -5 "$work/broker.log" >&2; exit 1; }

readonly readings=3 topic=plant/7/telemetry
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
uri="tcp://127.0.0.1:$port"

# `user root`: started as root, mosquitto would switch to the `mosquitto` user,
# which cannot reach a checkout under /root (mode 0700 on Debian) or this
# folder's 0600 credentials file. Started as another user, the line is ignored.
cat > "$work/mosquitto.conf" <<CONF
user root
listener $port 127.0.0.1
allow_anonymous true
persistence false
plugin $bin/../plugin/mqseal_auth.so
plugin_opt_credentials_file $work/broker.credentials
CONF
cat > "$work/policy.toml" <<'TOML'
[[rule]]
filter = "plant/+/telemetry"
key = "telemetry"
TOML
"$bin/make_keys" "$work/demo.keys" telemetry || fail "could not create the keyring"
# The device gets the same telemetry key, and its own login secret: the
# `mqseal` tool derives it from a password (Argon2id) and writes the broker's
# record, which holds neither the password nor the device secret.
cp "$work/demo.keys" "$work/device.keys"
readonly device_password="demo device password, typed once at provisioning"
echo "$device_password" | "$bin/../cli/mqseal" provision demo-device --device-keyring "$work/device.keys" \
  --credentials "$work/broker.credentials" >"$work/provision.txt" 2>&1 \
  || fail "provisioning failed: $(cat "$work/provision.txt")"

mosquitto -c "$work/mosquitto.conf" >"$work/broker.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || fail "mosquitto did not start on port $port"
echo "broker:       mosquitto on $uri, with mqseal_auth.so (demo-device must log in with a token)"

# Everyone subscribes first. The eavesdropper prints each payload in hex; the
# attacker keeps the first envelope it sees.
mosquitto_sub -h 127.0.0.1 -p "$port" -t 'plant/#' -C $((readings + 2)) -W 20 -F '%x' \
  >"$work/eavesdropper.txt" 2>&1 &
eavesdropper=$!
pids+=($eavesdropper)
mosquitto_sub -h 127.0.0.1 -p "$port" -t "$topic" -C 1 -W 20 -F '%x' >"$work/captured.txt" 2>&1 &
attacker=$!
pids+=($attacker)
"$bin/paho_subscriber" "$uri" "$work/demo.keys" "$work/policy.toml" 'plant/+/telemetry' \
  "$readings" 2 >"$work/service.txt" 2>&1 &
service=$!
pids+=($service)
python_service=""
if [ -n "${MQSEAL_PYTHON:-}" ]; then
  "$MQSEAL_PYTHON" "$(dirname "${BASH_SOURCE[0]}")/python/paho_service.py" 127.0.0.1 "$port" \
    "$work/demo.keys" "$work/policy.toml" 'plant/+/telemetry' "$readings" >"$work/python.txt" 2>&1 &
  python_service=$!
  pids+=($python_service)
  for _ in $(seq 100); do grep -q subscribed "$work/python.txt" 2>/dev/null && break; sleep 0.1; done
fi
for _ in $(seq 50); do grep -q subscribed "$work/service.txt" 2>/dev/null && break; sleep 0.1; done
sleep 0.3  # let the two mosquitto_sub clients finish subscribing too

"$bin/paho_publisher" "$uri" "$work/device.keys" "$work/policy.toml" "$topic" "$readings" demo-device \
  >"$work/device.txt" 2>&1 || fail "the device could not log in and publish: $(cat "$work/device.txt")"

wait "$attacker" || fail "the attacker captured nothing"
python3 - "$work/captured.txt" "$work/tampered.bin" <<'PY'
import sys
envelope = bytearray.fromhex(open(sys.argv[1]).read().strip())
envelope[-1] ^= 0x01  # flip one bit of the tag
open(sys.argv[2], "wb").write(envelope)
PY
mosquitto_pub -h 127.0.0.1 -p "$port" -t "$topic" -q 1 -f "$work/tampered.bin"
mosquitto_pub -h 127.0.0.1 -p "$port" -t "$topic" -q 1 -m 'temperature=99.9 C'

wait "$service" || fail "the service did not open $readings readings and refuse 2: $(cat "$work/service.txt")"
wait "$eavesdropper" || true

echo
printf '%-44s | %s\n' "what the service read (it holds the key)" "what an eavesdropper saw (no key)"
printf '%-44s-+-%s\n' "$(printf '%.0s-' {1..44})" "$(printf '%.0s-' {1..44})"
mapfile -t opened < <(grep '^service opened' "$work/service.txt" | sed 's/^service opened on [^:]*: //')
mapfile -t seen < <(cat "$work/eavesdropper.txt")
readonly header_hex_digits=78  # the 39-byte envelope header (v2), in hex
for i in "${!opened[@]}"; do
  printf '%-44s | %d bytes, ciphertext %s...\n' "${opened[$i]}" $((${#seen[$i]} / 2)) \
    "${seen[$i]:$header_hex_digits:24}"
done
if [ -n "$python_service" ]; then
  wait "$python_service" || fail "the Python service did not open $readings readings: $(cat "$work/python.txt")"
  echo
  echo "the Python service (paho-mqtt + mqseal.paho) read the same:"
  grep '^python service opened' "$work/python.txt" | sed 's/^python service opened on [^:]*: /  /'
  [ "$(grep -c '^python service opened' "$work/python.txt")" -eq "$readings" ] \
    || fail "the Python service opened the wrong number of readings"
  # The attacks reach it too; its on_refused logs them: it must not have opened them.
  grep -q 'temperature=99.9' "$work/python.txt" && fail "the Python service opened the injected plaintext"
fi
echo
echo "attacks:"
grep '^service refused' "$work/service.txt" | sed 's/^/  /'

# The checks that make this a test.
[ "${#opened[@]}" -eq "$readings" ] || fail "the service opened ${#opened[@]} readings, not $readings"
[ "$(grep -c '^service refused' "$work/service.txt")" -eq 2 ] || fail "two attacks should be refused"
grep -q 'authentication failed' "$work/service.txt" || fail "the tampered envelope was not refused as such"
grep -q 'malformed' "$work/service.txt" || fail "the plaintext injection was not refused as malformed"
hex_of_reading=$(printf 'temperature' | od -An -tx1 | tr -d ' \n')
for i in $(seq 0 $((readings - 1))); do
  case "${seen[$i]}" in *"$hex_of_reading"*) fail "reading $i crossed the broker in plaintext" ;; esac
done

# Logins: a token works once; the same token again, or the password itself, is refused.
# The client ID is one demo-device owns (its username, '/' and more): the plugin
# refuses a device any other.
token=$("$bin/../cli/mqseal" token --device-keyring "$work/device.keys" demo-device demo-device/replay-demo) \
  || fail "mqseal token failed"
login() { mosquitto_pub -h 127.0.0.1 -p "$port" -i demo-device/replay-demo -u demo-device -P "$1" -t public/x -m x 2>/dev/null; }
login "$token" || fail "a fresh token was refused"
login "$token" && fail "a replayed token was accepted"
login "$device_password" && fail "the password itself was accepted"
echo
echo "logins over plain TCP: the device logged in with a one-time token (the password never left provisioning);"
[ "$(grep -c 'refused CONNECT.*): replay$' "$work/broker.log")" -eq 1 ] || fail "the replayed token was not refused once"
echo "  the same token replayed: refused (replay);"
echo "  the password itself: refused ($(grep -o 'refused CONNECT of user .demo-device. (client .demo-device/replay-demo.): malformed' "$work/broker.log" | head -1 | sed 's/.*: //'));"
grep -q "$device_password" "$work/broker.log" && fail "the password appears in the broker's log"
# demo-device's client ID is its own: another login presenting it (here an
# anonymous one, which this broker lets in otherwise) is refused, so nobody
# can disconnect the device or take its session by using its ID.
mosquitto_pub -h 127.0.0.1 -p "$port" -i demo-device -t public/x -m x 2>/dev/null \
  && fail "an anonymous client took demo-device's client ID"
grep -q "refused CONNECT of user '(none)' (client 'demo-device'): the client ID belongs to device 'demo-device'" \
  "$work/broker.log" || fail "the anonymous login under demo-device's client ID was not refused as such"
echo "  another login (anonymous) under demo-device's client ID: refused (the ID belongs to demo-device)"

"$bin/paho_two_lines" "$uri" "$work/demo.keys" "$work/policy.toml" plant/8/telemetry \
  >"$work/two_lines.txt" 2>&1 || fail "paho_two_lines: $(cat "$work/two_lines.txt")"
echo
echo "examples/paho_two_lines (a plain Paho program, two lines changed): $(cat "$work/two_lines.txt")"
# The stolen-device scene (suite 2, signed sender). Devices 7 and 8 share the
# telemetry key as before, and each now also signs with its own Ed25519 key
# pair; the service trusts both public keys (exported and imported with the
# mqseal tool, no secret half copied) under a rule that lets each device
# publish only under its own level. Device 7 is stolen: its keys and a policy
# of the thief's own choosing.
mq="$bin/../cli/mqseal"
cat > "$work/signed.toml" <<'TOML'
[[rule]]
filter = "plant/{signer}/telemetry"
key = "telemetry"
suite = 2
TOML
cat > "$work/stolen.toml" <<'TOML'
[[rule]]
filter = "plant/+/telemetry"
key = "telemetry"
suite = 2
signers = "7"
TOML
cp "$work/demo.keys" "$work/backend.keys"
for d in 7 8; do
  cp "$work/demo.keys" "$work/device$d.keys"
  "$mq" keygen --type sign "$work/device$d.keys" "$d" >/dev/null || fail "keygen --type sign failed"
  "$mq" pubkey export "$work/device$d.keys" >"$work/device$d.pub" || fail "pubkey export failed"
  "$mq" pubkey import "$work/backend.keys" "$work/device$d.pub" >/dev/null || fail "pubkey import failed"
done
grep -q '^signing' "$work/device7.pub" && fail "a signing seed was exported"
mosquitto_sub -h 127.0.0.1 -p "$port" -t plant/8/telemetry -C 1 -W 20 -F '%x' >"$work/captured8.txt" 2>&1 &
capture8=$!
pids+=($capture8)
"$bin/paho_subscriber" "$uri" "$work/backend.keys" "$work/signed.toml" 'plant/+/telemetry' 3 2 \
  >"$work/signed_service.txt" 2>&1 &
signed_service=$!
pids+=($signed_service)
for _ in $(seq 50); do grep -q subscribed "$work/signed_service.txt" 2>/dev/null && break; sleep 0.1; done
sleep 0.3  # let mosquitto_sub finish subscribing too
# Device 8 publishes its readings in one sealing session (one replay stream).
mkfifo "$work/device8.fifo"
"$mq" pub -h 127.0.0.1 -p "$port" -q 1 --keyring "$work/device8.keys" --policy "$work/signed.toml" \
  -t plant/8/telemetry -l <"$work/device8.fifo" >"$work/device8.txt" 2>&1 &
device8=$!
pids+=($device8)
exec 4>"$work/device8.fifo"
echo "temperature=18.2 C" >&4
wait "$capture8" || fail "device 8's first reading was not seen on the broker"
# Forgery 1: a reading for plant/8, signed with device 7's key.
printf 'temperature=99.9 C' | "$mq" seal --keyring "$work/device7.keys" --policy "$work/stolen.toml" \
  plant/8/telemetry >"$work/forged.bin" 2>"$work/forged.txt" || fail "the thief could not seal: $(cat "$work/forged.txt")"
mosquitto_pub -h 127.0.0.1 -p "$port" -t plant/8/telemetry -q 1 -f "$work/forged.bin"
# Forgery 2: take over device 8's replay stream: its session's sender ID (from
# the captured reading) and the highest sequence number, in device 7's envelope.
python3 - "$work/captured8.txt" "$work/forged.bin" "$work/stream.bin" <<'PY'
import sys
captured = bytes.fromhex(open(sys.argv[1]).read().strip())
forged = bytearray(open(sys.argv[2], "rb").read())
sender, sequence = slice(19, 35), slice(35, 43)  # suite 2 header offsets (docs/SPEC.md, section 4a)
forged[sender] = captured[sender]
forged[sequence] = b"\xff" * 8
open(sys.argv[3], "wb").write(forged)
PY
mosquitto_pub -h 127.0.0.1 -p "$port" -t plant/8/telemetry -q 1 -f "$work/stream.bin"
echo "temperature=18.3 C" >&4  # device 8's next reading, after both forgeries
exec 4>&-
wait "$device8" || fail "device 8 could not publish: $(cat "$work/device8.txt")"
"$mq" pub -h 127.0.0.1 -p "$port" -q 1 --keyring "$work/device7.keys" --policy "$work/signed.toml" \
  -t plant/7/telemetry -m "temperature=20.1 C" >"$work/device7.txt" 2>&1 \
  || fail "device 7 could not publish under its own level: $(cat "$work/device7.txt")"
wait "$signed_service" || fail "the service did not open 3 signed readings and refuse 2: $(cat "$work/signed_service.txt")"
echo
echo "stolen device (suite 2: each device signs; plant/{signer}/telemetry lets each publish only under its own level):"
sed -n 's/^service \(opened\|refused a message\)\( signer=[^ ]*\)\? on /  \1\2 on /p' "$work/signed_service.txt" \
  | sed 's/^  refused a message\( signer=[^ ]*\)\? on /  refused\1 on /'
# Its signature verified: the refusal names device 7's key, which signed it
# (not who sent it: anyone can re-send a signed message).
grep -q '^service refused a message signer=7 on plant/8/telemetry: the signer is not authorised' \
  "$work/signed_service.txt" || fail "device 7's forged plant/8 reading was not refused as unauthorised, signed by 7"
# Its signature does not verify (the header was changed): no signer named.
grep -q '^service refused a message on plant/8/telemetry: authentication failed' "$work/signed_service.txt" \
  || fail "the forged high sequence number was not refused, or named a signer"
[ "$(sed -n '$p' <(grep '^service opened on plant/8' "$work/signed_service.txt"))" = \
  "service opened on plant/8/telemetry: temperature=18.3 C" ] || fail "plant/8's next reading was not accepted"
grep -q '^service opened on plant/7/telemetry: temperature=20.1 C' "$work/signed_service.txt" \
  || fail "device 7's own reading was not accepted"
grep -q '^service opened.*99.9' "$work/signed_service.txt" && fail "a forged reading was opened"
echo "  => device 7's keys cannot forge plant/8's readings nor disturb its stream (plant/8's next reading opened)"
# The backend-only scene (suite 3, sealed to a recipient). The backend makes
# an X25519 key pair; every device imports only its public half. plant/8
# seals a report to it; device 7's keys (all that a thief holds) cannot open
# the captured envelope, the backend's can.
cat > "$work/report.toml" <<'TOML'
[[rule]]
filter = "plant/+/report"
recipient = "backend"
TOML
"$mq" keygen --type recipient "$work/backend.keys" backend >/dev/null || fail "keygen --type recipient failed"
"$mq" pubkey export "$work/backend.keys" | grep -e '^mqseal-keyring' -e '^recipient-public' >"$work/backend.pub"
grep -q '^recipient-x25519' "$work/backend.pub" && fail "the backend's recipient secret was exported"
for d in 7 8; do
  "$mq" pubkey import "$work/device$d.keys" "$work/backend.pub" >/dev/null 2>&1 || fail "device $d: pubkey import failed"
done
mosquitto_sub -h 127.0.0.1 -p "$port" -t plant/8/report -C 1 -W 20 -F '%x' >"$work/captured_report.txt" 2>&1 &
capture_report=$!
pids+=($capture_report)
"$bin/paho_subscriber" "$uri" "$work/backend.keys" "$work/report.toml" 'plant/+/report' 1 \
  >"$work/report_service.txt" 2>&1 &
report_service=$!
pids+=($report_service)
for _ in $(seq 50); do grep -q subscribed "$work/report_service.txt" 2>/dev/null && break; sleep 0.1; done
sleep 0.3  # let mosquitto_sub finish subscribing too
"$mq" pub -h 127.0.0.1 -p "$port" -q 1 --keyring "$work/device8.keys" --policy "$work/report.toml" \
  -t plant/8/report -m "valve 3 worn: replace by Friday" >"$work/report8.txt" 2>&1 \
  || fail "device 8 could not seal its report: $(cat "$work/report8.txt")"
wait "$report_service" || fail "the backend did not open the report: $(cat "$work/report_service.txt")"
wait "$capture_report" || fail "the report was not seen on the broker"
python3 -c 'import sys; open(sys.argv[2], "wb").write(bytes.fromhex(open(sys.argv[1]).read().strip()))' \
  "$work/captured_report.txt" "$work/report.bin"
"$mq" open --keyring "$work/device7.keys" --policy "$work/report.toml" plant/8/report <"$work/report.bin" \
  >"$work/thief_report.txt" 2>"$work/thief_report.err" && fail "device 7's keys opened the backend-only report"
grep -q 'valve' "$work/thief_report.txt" && fail "device 7's keys read the report"
grep -q "$(printf 'valve' | od -An -tx1 | tr -d ' \n')" "$work/captured_report.txt" \
  && fail "the report crossed the broker in plaintext"
grep -qx 'service opened on plant/8/report: valve 3 worn: replace by Friday' "$work/report_service.txt" \
  || fail "the backend did not read plant/8's report"
echo
echo "backend-only report (suite 3: plant/+/report is sealed to the backend's X25519 public key; devices hold only that):"
sed -n 's/^service opened on /  the backend opened /p' "$work/report_service.txt"
echo "  device 7's keys on the captured envelope: refused ($(sed 's/^mqseal: //' "$work/thief_report.err"))"
echo "  => a stolen device cannot read what is sealed to the backend, not even its own reports"
echo
echo "demo passed: $readings readings sealed end to end${python_service:+ (C++ and Python services)}, 2 attacks refused, token login over plain TCP (replay and a client ID takeover refused), a stolen device's 2 forgeries refused and a backend-only report it cannot read, broker stopped"
