module github.com/bucketfs/bucketfs

go 1.24.0

require (
	github.com/hanwen/go-fuse/v2 v2.12.1
	github.com/hashicorp/golang-lru/v2 v2.0.7
	github.com/moby/sys/mountinfo v0.7.2
	github.com/sirupsen/logrus v1.9.3
	golang.org/x/sync v0.10.0
	golang.org/x/sys v0.28.0
)
