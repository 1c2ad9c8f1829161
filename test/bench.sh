#!/usr/bin/env bash
# Measures bucketfs against its own S3 client (and s3fs, when installed)
# on a throw-away MinIO on 127.0.0.1: times, ratios, S3 requests by
# operation, peak memory. Measures, never asserts; see docs/benchmark.md.
# Installs what it needs first (test/setup.sh); needs root for FUSE.
# Flags go to the benchmark: bash test/bench.sh -n 5 -big-mib 64
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/setup.sh >&2
source test/minio-path.sh
exec go run ./test/bench "$@"
