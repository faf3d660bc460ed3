# Shared by the scripts in this folder: logging, root check, and installing
# Debian packages only when they are missing (so every script is safe to run
# twice, and fast the second time).
set -euo pipefail

# Files the scripts (and the demo and tests they run) write are not
# writable by group or others, whatever the caller's umask (002 is common):
# mqseal refuses a keyring, credentials or policy file that others may write.
umask 022

MQSEAL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MQSEAL_ROOT

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[31mERROR: %s\033[0m\n' "$*" >&2; exit 1; }

# Build parallelism: this project's machines have 2 cores; never more than
# the machine has.
jobs() { nproc 2>/dev/null || echo 2; }

# apt_install PACKAGE...: installs those not installed yet.
apt_install() {
  local missing=()
  local p
  for p in "$@"; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == *"install ok installed"* ]] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
  fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# What building and testing the C++ core needs (python3-cryptography: the
# independent vector check, tests/check_vectors_independent.py, verifies
# Ed25519 signatures with OpenSSL's code instead of libsodium's; valgrind: the
# OpenSSL exit-order test also runs under it, tests/aead_openssl_exit_test.cpp).
CORE_PACKAGES=(build-essential cmake ninja-build pkg-config libsodium-dev libtomlplusplus-dev
               libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev python3 python3-cryptography
               libcli11-dev valgrind)
# What the Paho integration, its tests and the demo add: the client library,
# a real broker and its command line clients, openssl for test certificates.
PAHO_PACKAGES=(libpaho-mqtt-dev libssl-dev openssl mosquitto mosquitto-clients mosquitto-dev libmosquitto-dev)
# The Redis replay store (MQSEAL_WITH_REDIS): hiredis to build it, and a real
# redis-server (with redis-cli, from redis-tools) for its tests.
REDIS_PACKAGES=(libhiredis-dev redis-server)
# What building the Python package needs from Debian (the rest comes from PyPI).
PYTHON_PACKAGES=(python3-dev python3-venv python3-pip)
# What the libFuzzer targets need (scripts/fuzz; step 5 of scripts/test).
FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev)
