# Sourced by the test scripts: the pinned MinIO version and where its
# binary is cached. BUCKETFS_MINIO may point at another binary.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
BUCKETFS_CACHE=${BUCKETFS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bucketfs}
export BUCKETFS_MINIO=${BUCKETFS_MINIO:-$BUCKETFS_CACHE/minio-$MINIO_VERSION/minio}
