#!/usr/bin/env bash
# One command from a fresh Debian 12 machine (as root or with sudo):
#   ./setup.sh demo   install what is missing, build, then
#                     `etl generate medium` and `etl process medium chunked`
#   ./setup.sh test   install what is missing, build with warnings as errors,
#                     run the whole test suite (unit, golden, real PostgreSQL)
#   ./setup.sh build  install and build only
# The build goes to ./build; the binary is ./build/etl.
set -euo pipefail
cd "$(dirname "$0")"

packages=(build-essential cmake pkg-config libpq-dev libcjson-dev libyaml-dev libcmocka-dev
          postgresql postgresql-client)

install_missing() {
    local missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "setup: installing ${missing[*]}" >&2
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

build() {
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DETL_WERROR="${1:-OFF}" >/dev/null
    cmake --build build -j"$(nproc)"
}

case "${1:-}" in
demo)
    install_missing
    build OFF
    ./build/etl generate medium
    ./build/etl process medium chunked
    ;;
test)
    install_missing
    build ON
    # The pg tests run in parallel, each on a server of its own; on one shared server
    # ($ETL_TEST_PGURI) they would share database names, so then one at a time.
    jobs=$(nproc)
    [ -z "${ETL_TEST_PGURI:-}" ] || jobs=1
    ctest --test-dir build --output-on-failure -j"$jobs"
    ;;
build)
    install_missing
    build OFF
    ;;
*)
    echo "usage: $0 demo|test|build" >&2
    exit 2
    ;;
esac
