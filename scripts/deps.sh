#!/bin/sh
# Installs the Debian 12 packages grantd needs to build, test and benchmark.
# Only missing packages are installed; apt-get update runs at most once.
set -eu

PACKAGES="build-essential cmake pkg-config clang clang-tidy libclang-rt-14-dev
libmicrohttpd-dev libjansson-dev libsqlite3-dev libcyaml-dev libyaml-dev libssl-dev
libcurl4-openssl-dev libpq-dev libh2o-evloop-dev
libcriterion-dev libjwt-dev sqlite3 curl openssl python3 python3-pytest
python3-requests python3-requests-oauthlib python3-pycryptodome wrk
postgresql python3-psycopg2 python3-prometheus-client
python3-yaml python3-jsonschema chromium nodejs"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run as root, or: sudo apt-get install -y$missing" >&2
	exit 1
fi

echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
