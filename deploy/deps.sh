#!/usr/bin/env bash
# Installs every Debian package Audora builds, tests or runs with, and
# the packages named as arguments (deploy/containers.sh adds its own).
# Idempotent: it asks dpkg first and only calls apt-get for what is missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang-format
      libzmq3-dev libhiredis-dev libpq-dev libmsgpack-dev
      libcurl4-openssl-dev libcriterion-dev libjansson-dev
      libmicrohttpd-dev libsodium-dev postgresql redis-server postgresql-client
      python3 python3-msgpack valgrind bc openssl curl iproute2 "$@")
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
