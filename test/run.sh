#!/usr/bin/env bash
# Runs every test: unit tests and the end-to-end suite (real MinIO on
# loopback, real FUSE mounts of the built binary). Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/setup.sh
source test/minio-path.sh
go vet ./...
go test -count=1 -timeout 40m "$@" ./...
