#!/usr/bin/env bash
# Installs the Debian packages lmtool builds against, if any is missing. apt can be busy
# (another apt holds the lock, a mirror hiccups): every apt step is retried.
set -euo pipefail
need=()
for pkg in libzstd-dev zlib1g-dev libopenblas-dev pkg-config zstd; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${need[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
retry() {
    local n
    for n in 1 2 3 4 5; do
        "$@" && return 0
        echo "attempt $n failed: $*; retrying in $((n * 5)) s" >&2
        sleep $((n * 5))
    done
    return 1
}
retry $sudo apt-get update -qq
retry $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
