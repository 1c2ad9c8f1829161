#!/bin/bash
# Install (if missing) the Debian packages needed for the throw-away Ceph
# RADOS Gateway used by the tests. Idempotent; quiet when nothing to do.
set -euo pipefail

PKGS=(ceph-mon ceph-osd radosgw ceph-common faketime)

missing=()
for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    if [ "$st" != "install ok installed" ]; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

SUDO=
if [ "$(id -u)" != 0 ]; then
    SUDO=sudo
fi

echo "test/ceph/install.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/ceph-install.XXXXXX.log)
if ! $SUDO apt-get update -qq >"$log" 2>&1; then
    cat "$log" >&2
    echo "test/ceph/install.sh: apt-get update failed (log: $log)" >&2
    exit 1
fi
if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
    tail -n 50 "$log" >&2
    echo "test/ceph/install.sh: apt-get install failed (log: $log)" >&2
    exit 1
fi
rm -f "$log"

# Verify.
for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    if [ "$st" != "install ok installed" ]; then
        echo "test/ceph/install.sh: package $p still not installed" >&2
        exit 1
    fi
done
for b in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool ceph-authtool faketime; do
    command -v "$b" >/dev/null || { echo "test/ceph/install.sh: $b not on PATH" >&2; exit 1; }
done
