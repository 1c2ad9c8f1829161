#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine, skipping
# whatever is already there: Debian's fuse3, python3-boto (the seed's boto 2),
# rsync, s3fs, util-linux-extra (fincore) and systemd (systemd-analyze verify
# of the shipped unit); Ceph 16.2 (mon, OSD, radosgw) and faketime for the
# throw-away RADOS Gateway (test/ceph/install.sh); and a pinned MinIO built
# with `go install` into a cache dir.
# Prints nothing but progress; the MinIO path is in test/minio-path.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/minio-path.sh"

packages=(fuse3 python3-boto rsync curl ca-certificates s3fs util-linux-extra systemd)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

bash "$here/ceph/install.sh"

if [ ! -x "$BUCKETFS_MINIO" ]; then
  echo "setup: building MinIO $MINIO_VERSION (a few minutes, once; cached in $(dirname "$BUCKETFS_MINIO"))"
  tmp=$(mktemp -d)
  (cd "$tmp" && GOFLAGS=-buildvcs=false GOBIN="$(dirname "$BUCKETFS_MINIO")" go install "github.com/minio/minio@$MINIO_VERSION")
  rm -rf "$tmp"
fi

if [ ! -c /dev/fuse ]; then
  echo "setup: /dev/fuse is missing: the end-to-end tests need FUSE" >&2
  exit 1
fi
echo "setup: ok (minio: $BUCKETFS_MINIO; ceph: $(radosgw --version | awk '{print $3}'))"
