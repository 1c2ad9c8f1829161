#!/usr/bin/env bash
# Runs every test. Installs what it needs (test/setup.sh), then runs, each
# as a timed pass:
#   1. go vet
#   2. unit tests, s3client's integration tests and the end-to-end suite
#      on MinIO (signature auto)
#   3. the end-to-end suite on a throw-away Ceph RGW, SigV2
#   4. the end-to-end suite on a throw-away Ceph RGW, SigV4
#   5. the end-to-end suite on MinIO over HTTPS (BUCKETFS_TEST_TLS=1: a
#      certificate made for the run, mounts trust it with --ca-file)
#   6. the end-to-end suite on a throw-away Ceph RGW over HTTPS (beast
#      ssl_endpoint), SigV4
#   7. the race detector on fs, cache and s3client (its integration
#      tests included), and 8. each fuzz target for a short fixed time
#   9. the end-to-end tests on a 4-node MinIO (BUCKETFS_TEST_DISTRIBUTED=1:
#      a node killed under cp -r, a rolling restart; about 2.5 minutes)
# Every pass runs even if an earlier one failed; the summary at the end
# lists each pass with its result and time, and the exit status is 1 if
# any failed. Extra arguments go to every `go test` (e.g. -run TestMv -v).
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/setup.sh
source test/minio-path.sh

summary=()
passed=0
failed=0
# pass NAME CMD...: runs CMD as one timed pass.
pass() {
  local name=$1 start status=ok
  shift
  echo
  echo "=== test/run.sh: pass: $name"
  echo "=== $*"
  start=$(date +%s)
  "$@" || status=FAIL
  local secs=$(($(date +%s) - start))
  [ "$status" = ok ] && passed=$((passed + 1)) || failed=$((failed + 1))
  echo "=== test/run.sh: $name: $status in $((secs / 60))m$((secs % 60))s"
  summary+=("$(printf '%-4s %5ss  %s' "$status" "$secs" "$name")")
}

total=$(date +%s)
pass "go vet" go vet ./...
pass "unit tests + e2e on MinIO (signature auto)" \
  env BUCKETFS_TEST_SERVER=minio BUCKETFS_TEST_SIGNATURE=auto go test -count=1 -timeout 40m "$@" ./...
pass "e2e on Ceph RGW, SigV2" \
  env BUCKETFS_TEST_SERVER=ceph BUCKETFS_TEST_SIGNATURE=v2 go test -count=1 -timeout 30m "$@" ./test/e2e/
pass "e2e on Ceph RGW, SigV4" \
  env BUCKETFS_TEST_SERVER=ceph BUCKETFS_TEST_SIGNATURE=v4 go test -count=1 -timeout 30m "$@" ./test/e2e/
pass "e2e on MinIO over HTTPS" \
  env BUCKETFS_TEST_TLS=1 BUCKETFS_TEST_SERVER=minio BUCKETFS_TEST_SIGNATURE=auto go test -count=1 -timeout 30m "$@" ./test/e2e/
pass "e2e on Ceph RGW over HTTPS, SigV4" \
  env BUCKETFS_TEST_TLS=1 BUCKETFS_TEST_SERVER=ceph BUCKETFS_TEST_SIGNATURE=v4 go test -count=1 -timeout 30m "$@" ./test/e2e/
# fuzz runs every fuzz target of s3client for $FUZZTIME each.
fuzz() {
  local f
  for f in FuzzParseListV2 FuzzURIEncode FuzzParseMultipartXML FuzzKeyRoundTrip; do
    go test -run "^$f\$" -fuzz "^$f\$" -fuzztime "${FUZZTIME:-10s}" ./s3client/ || return 1
  done
}
pass "race detector: fs, cache, s3client" go test -race -count=1 -timeout 20m "$@" ./fs/ ./cache/... ./s3client/
pass "fuzz targets (${FUZZTIME:-10s} each)" fuzz
# TestDistributedAllDown (every node stopped, ~2.5 min) is left to be run by hand.
pass "e2e on a 4-node MinIO" \
  env BUCKETFS_TEST_DISTRIBUTED=1 BUCKETFS_TEST_SERVER=minio BUCKETFS_TEST_SIGNATURE=auto \
  go test -count=1 -timeout 10m -run 'TestDistributed(MinIO|RollingRestart)$' "$@" ./test/e2e/

echo
echo "=== test/run.sh: summary (total $(($(date +%s) - total))s)"
printf '%s\n' "${summary[@]}"
echo "passes: $passed passed, $failed failed"
[ "$failed" = 0 ]
