#!/usr/bin/env bash
# A two-minute tour on a fresh machine: installs what is needed, starts a
# throw-away MinIO on loopback, mounts a bucket with bucketfs, uses it with
# cp/ls/cat, and cleans everything up.
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/setup.sh
source test/minio-path.sh

work=$(mktemp -d)
port=19000
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
export AWS_ACCESS_KEY_ID=demo-access AWS_SECRET_ACCESS_KEY=demo-secret-key BOTO_CONFIG=/dev/null
cleanup() {
  if [ -n "${bfs_pid:-}" ]; then kill "$bfs_pid" 2>/dev/null; wait "$bfs_pid" 2>/dev/null || true; fi
  mountpoint -q "$work/mnt" 2>/dev/null && umount -l "$work/mnt"
  [ -n "${minio_pid:-}" ] && kill "$minio_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

echo "== starting MinIO on 127.0.0.1:$port"
MINIO_ROOT_USER=$AWS_ACCESS_KEY_ID MINIO_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY MINIO_BROWSER=off \
  "$BUCKETFS_MINIO" server --quiet --address "127.0.0.1:$port" "$work/data" >"$work/minio.log" 2>&1 &
minio_pid=$!
until curl -sf "http://127.0.0.1:$port/minio/health/live" >/dev/null; do sleep 0.2; done

echo "== creating bucket 'demo' with boto 2 (the seed's client)"
/usr/bin/python3 test/e2e/testdata/boto_s3.py "$port" demo create-bucket

echo "== building and mounting: bucketfs --endpoint http://127.0.0.1:$port demo $work/mnt"
go build -o "$work/bucketfs" ./cmd/bucketfs
mkdir "$work/mnt"
"$work/bucketfs" --endpoint "http://127.0.0.1:$port" demo "$work/mnt" 2>"$work/bucketfs.log" &
bfs_pid=$!
until mountpoint -q "$work/mnt"; do sleep 0.1; done

set -x
echo "hello from bucketfs" > "$work/hello.txt"
cp "$work/hello.txt" "$work/mnt/"
mkdir "$work/mnt/docs"
cp README.md "$work/mnt/docs/"
ls -l "$work/mnt" "$work/mnt/docs"
cat "$work/mnt/hello.txt"
/usr/bin/python3 test/e2e/testdata/boto_s3.py "$port" demo md5 hello.txt
md5sum "$work/hello.txt"
rm "$work/mnt/hello.txt"
ls "$work/mnt"
set +x
echo "== done; unmounting"
