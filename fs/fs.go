// Package fs is the FUSE adapter: go-fuse nodes that turn file operations
// into calls on an object store. It owns the mapping of paths to keys and
// of errors to errno values; it does not speak HTTP.
package fs

import (
	"context"
	"io"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/sirupsen/logrus"

	"github.com/bucketfs/bucketfs/cache"
	"github.com/bucketfs/bucketfs/s3client"
)

// Store is the part of S3 the filesystem uses. *s3client.Client
// implements it; unit tests use a fake.
type Store interface {
	HeadObject(ctx context.Context, bucket, key string) (*s3client.ObjectInfo, error)
	GetObject(ctx context.Context, bucket, key string, offset, length int64) (io.ReadCloser, *s3client.ObjectInfo, error)
	PutObject(ctx context.Context, bucket, key string, body io.ReaderAt, size int64, opts s3client.PutOptions) (string, error)
	DeleteObject(ctx context.Context, bucket, key string) error
	ListObjectsV2(ctx context.Context, bucket string, in s3client.ListInput) (*s3client.ListPage, error)
}

// Options describe one mounted bucket.
type Options struct {
	Bucket string
	// Prefix is the key prefix shown as the root, "" or ending in "/".
	Prefix   string
	UID, GID uint32
	FileMode uint32 // permission bits of files without metadata (default 0644)
	DirMode  uint32 // permission bits of directories (default 0755)
}

// Attr is what the filesystem caches about a name.
type Attr struct {
	Dir   bool
	Size  int64
	Mtime time.Time
}

// FS is the state shared by every node of one mount.
type FS struct {
	store   Store
	cache   *cache.Cache[Attr] // keyed by object key without a trailing "/"
	opts    Options
	log     *logrus.Entry
	mounted time.Time
	warned  sync.Map // keys already warned about
}

// New returns the filesystem for opts and its root directory node.
func New(store Store, c *cache.Cache[Attr], opts Options, log *logrus.Entry) (*FS, *Dir) {
	if opts.FileMode == 0 {
		opts.FileMode = 0o644
	}
	if opts.DirMode == 0 {
		opts.DirMode = 0o755
	}
	f := &FS{store: store, cache: c, opts: opts, log: log, mounted: time.Now()}
	return f, &Dir{fsys: f}
}

// relPath is n's path below the mount root, and false if n is no longer
// reachable from the root (unlinked).
func relPath(n *gofs.Inode) (string, bool) {
	var segs []string
	for !n.IsRoot() {
		name, parent := n.Parent()
		if parent == nil {
			return "", false
		}
		segs = append(segs, name)
		n = parent
	}
	path := ""
	for i := len(segs) - 1; i >= 0; i-- {
		path += segs[i]
		if i > 0 {
			path += "/"
		}
	}
	return path, true
}

// fillAttr sets out from a, with the mount's owner and modes.
func (f *FS) fillAttr(a Attr, out *fuse.Attr) {
	out.Uid, out.Gid = f.opts.UID, f.opts.GID
	mtime := a.Mtime
	if mtime.IsZero() {
		mtime = f.mounted
	}
	out.SetTimes(nil, &mtime, &mtime)
	if a.Dir {
		out.Mode = syscall.S_IFDIR | f.opts.DirMode
		out.Size = 4096
		out.Nlink = 2
	} else {
		out.Mode = syscall.S_IFREG | f.opts.FileMode
		out.Size = uint64(a.Size)
		out.Nlink = 1
	}
	out.Blksize = 4096
	out.Blocks = (out.Size + 511) / 512
}
