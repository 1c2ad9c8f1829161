// Package fs is the FUSE adapter: go-fuse nodes that turn file operations
// into calls on an object store. It owns the mapping of paths to keys, of
// file attributes to object metadata, and of errors to errno values; it
// does not speak HTTP.
//
// # Parts
//
//   - fs.go: Store (the S3 calls fs makes), Options, FS (what one mount
//     shares), New, and loc, a node's bucket and key.
//   - source.go: Source, where object bytes come from (the store, or a
//     data cache in front of it), and DataCache.
//   - uninterruptible.go: the Store wrapper that keeps S3 work going when
//     a FUSE request is interrupted.
//   - errno.go: toErrno, the one mapping of store errors to errno values.
//   - endpoint.go: EndpointRoot, the root of a whole-endpoint mount (one
//     directory per bucket).
//   - dir.go: Dir, a directory (bucket root, marker "a/", or implied by
//     deeper keys): lookup, readdir, create, unlink, mkdir, rmdir,
//     symlink, setattr. rename.go: rename of files and directories by
//     server-side copies, then deletes.
//   - metadata.go: the metadata layer: what a name is and its attributes,
//     from the caches, listings, HEADs and run-ahead HEADs.
//   - meta.go: Attr and Meta, the s3fs-compatible x-amz-meta-* metadata
//     (mode, uid, gid, mtime, ctime, atime; old-style s3fs directory
//     objects), and rewriteMeta, which keeps every other header;
//     mimetypes.go: Content-Type of new objects (/etc/mime.types);
//     setattr.go and xattr.go: chmod/chown/utimes, and no xattrs.
//   - file.go: File, a regular file: its attributes, open, setattr and
//     flush, and what stays of it when it is unlinked while open
//     (detachIO). handle.go: handle, one open file: read, write, flush, release.
//   - reader.go: reader, reads of one object version with read-ahead and
//     the whole-object MD5 check.
//   - writer.go: writer, a file's new content (in memory and streamed, or
//     staged in a temp file) until flush uploads it; multipart.go: one
//     multipart upload with parts in flight; bufpool.go: part buffers.
//   - symlink.go: Symlink, a link stored as an object whose body is the
//     target.
//   - uploads.go: journaled, the Store wrapper that records this run's
//     multipart uploads, and the sweep that aborts those earlier runs
//     left behind; journal.go: the journal files in the state directory.
//
// # Locks
//
// Each lock protects the fields declared below it. The order, written
// once: File.io, then File.mu; FS.merging, then listing.mu; handle.mu,
// reader.mu, listing.mu and multipart.mu are leaves (but for metaSweep.mu,
// which may be taken under listing.mu). In detail:
//
//   - File.io serializes everything that touches a file's writer and the
//     network I/O that goes with it: writes, reads of local content,
//     truncation, flush and upload, metadata rewrites (CopyObject). It may
//     be held as long as an upload takes. It is taken before File.mu.
//   - Unlink holds the file's File.io across the staging of its content
//     (detachIO) and the DELETE, and Rename holds the replaced file's
//     across the copy, so no upload of it starts once its object is gone.
//   - File.mu guards the file's fields (attributes, writer count, a copy
//     of the writer's size and state made by File.publish) and is never
//     held across network I/O. Getattr, Readdir (File.pending), Open for
//     reading and refreshes from listings take only File.mu, so stat and
//     ls never wait for an upload.
//   - No two node locks (File.io, File.mu, Symlink.mu) of different
//     nodes are ever held at once.
//   - File.mu and handle.mu are never held together: handle.Read takes
//     what it needs from the File under File.mu and lets go before taking
//     handle.mu. Under handle.mu, only reader.mu is taken.
//   - reader.mu, listing.mu and multipart.mu are held only around their
//     own fields, never across a store call or a callback. A reader tells
//     its File that the object changed (File.markChanged, which takes
//     File.mu) with no lock held; File never calls into a reader.
//   - Symlink.mu is held across the GET of Readlink (one small GET, once
//     per link).
//   - FS.merging is held by mergeMeta while it gives a page's metadata
//     to a directory's listings, and by cacheListing from the moment it
//     reads what the old listing learnt until the new one is cached, so
//     no metadata lands in a listing that is being replaced. It is never
//     held across a store call.
//   - Dir.mu (a bucket root's in-memory attributes) is a leaf.
//   - uploadJournal.mu is a leaf, held across a journal file's append
//     and fsync, never across a store call.
package fs

import (
	"context"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/singleflight"

	"github.com/bucketfs/bucketfs/cache"
	"github.com/bucketfs/bucketfs/s3client"
)

// Store is the part of S3 the filesystem uses. *s3client.Client
// implements it; unit tests use a fake.
type Store interface {
	HeadObject(ctx context.Context, bucket, key string) (*s3client.ObjectInfo, error)
	// ReadObject fills p from off: n < len(p) only where the object ends.
	// Every byte of the object that fs reads comes through it.
	ReadObject(ctx context.Context, bucket, key string, off int64, p []byte, opts s3client.GetOptions) (int, *s3client.ObjectInfo, error)
	PutObject(ctx context.Context, bucket, key string, body io.ReaderAt, size int64, opts s3client.PutOptions) (string, error)
	DeleteObject(ctx context.Context, bucket, key string) error
	CopyObject(ctx context.Context, bucket, key, srcBucket, srcKey string, opts s3client.CopyOptions) (string, error)
	// CopyObjectAnySize is CopyObject for an object of size bytes, in
	// parts if S3 would refuse one copy of it (over 5 GiB).
	CopyObjectAnySize(ctx context.Context, bucket, key, srcBucket, srcKey string, size int64, opts s3client.CopyOptions) (string, error)
	ListObjects(ctx context.Context, bucket string, in s3client.ListInput) (*s3client.ListPage, error)

	CreateMultipartUpload(ctx context.Context, bucket, key string, opts s3client.PutOptions) (string, error)
	UploadPart(ctx context.Context, bucket, key, uploadID string, partNumber int, body io.ReaderAt, size int64) (string, error)
	CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []s3client.CompletedPart) (string, error)
	AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error

	ListBuckets(ctx context.Context) ([]s3client.BucketInfo, error)
	HeadBucket(ctx context.Context, bucket string) error
	CreateBucket(ctx context.Context, bucket string) error
	DeleteBucket(ctx context.Context, bucket string) error
}

// DefaultMaxMemory is the default of Options.MaxMemory.
const DefaultMaxMemory = 512 << 20

// Options describe one mount.
type Options struct {
	// Bucket is the mounted bucket; empty mounts the whole endpoint, one
	// directory per bucket.
	Bucket string
	// Prefix is the key prefix shown as the root, "" or ending in "/".
	Prefix string
	// UID and GID own objects that carry no owner metadata.
	UID, GID uint32
	// FileMode and DirMode are the permissions of objects without mode
	// metadata (default 0666 and 0777 less Umask).
	FileMode, DirMode uint32
	Umask             uint32
	ReadOnly          bool
	// StatHead makes lookups HEAD each object for mode, owner and mtime
	// metadata, which a listing cannot give. Without it, attributes come
	// from listings alone (faster, but modes and mtimes are the defaults
	// and the upload time).
	StatHead bool
	Write    WriteOptions
	Read     ReadOptions
	// MaxMemory bounds the buffers of the whole mount (upload parts being
	// filled and in flight, read chunks): reads ahead start only while
	// there is room, and a full part waits for room before it is sent
	// (default DefaultMaxMemory). Each file being written may add one
	// part being filled beyond it; a single read always gets its chunk.
	MaxMemory int64

	// AbortStaleUploads, when positive, has this run record its
	// multipart uploads in a journal in StateDir and abort those that
	// earlier runs left behind once they are older than this (see
	// uploads.go). Zero (or an empty StateDir) records and aborts
	// nothing. The command's default is DefaultAbortStaleUploads.
	AbortStaleUploads time.Duration
	// StateDir holds the upload journals (created 0700 if missing; the
	// command's default is DefaultStateDir()).
	StateDir string
	// Endpoint is the server's URL. Its host tells this server's
	// journals from those of others in StateDir.
	Endpoint string
	// Cache, when not nil, is a local cache of object data in front of
	// the store's reads (source.go).
	Cache DataCache
}

// FS is the state shared by every node of one mount.
type FS struct {
	store    Store
	data     Source                 // where object bytes come from: store, or a cache in front of it
	attrs    *cache.Cache[Attr]     // keyed by cacheKey(bucket, key)
	listings *cache.Cache[*listing] // complete listings, keyed by cacheKey(bucket, prefix)
	// relisting holds, by the same key, the listing a keepFresh is
	// making again: it answers until the new one is cached.
	relisting sync.Map
	opts      Options
	log       *logrus.Entry
	mounted   time.Time
	warned    sync.Map           // keys already warned about
	heads     singleflight.Group // HEADs in flight, by bucket/key
	// headSlots bounds the HEADs started ahead of lookups, fillSlots
	// the listings of pages again with metadata (metafill.go).
	headSlots chan struct{}
	fillSlots chan struct{}
	merging   sync.Mutex // see Locks
	// metaList is what the server is known to do with metadata=true in
	// listings: metaUnknown, metaListed or metaNotListed.
	metaList atomic.Int32
	parts    *bufPool // buffers of streaming uploads
	chunks   *bufPool // buffers of read chunks
}

// New returns the filesystem for opts and its root node. With
// opts.AbortStaleUploads set it also starts, in the background, the sweep
// of multipart uploads left by earlier runs (uploads.go).
func New(store Store, cacheOpts cache.Options, opts Options, log *logrus.Entry) (*FS, gofs.InodeEmbedder) {
	if opts.FileMode == 0 {
		opts.FileMode = 0o666 &^ opts.Umask
	}
	if opts.DirMode == 0 {
		opts.DirMode = 0o777 &^ opts.Umask
	}
	opts.Write.setDefaults()
	opts.Read.setDefaults()
	if opts.MaxMemory <= 0 {
		opts.MaxMemory = DefaultMaxMemory
	}
	mem := newBudget(opts.MaxMemory)
	var journal *uploadJournal
	if opts.AbortStaleUploads > 0 && opts.StateDir != "" {
		journal = newUploadJournal(store, opts, log)
		store = journaled{store, journal}
	}
	f := &FS{
		store: uninterruptible{store}, opts: opts, log: log, mounted: time.Now(),
		attrs:     cache.New[Attr](cacheOpts),
		listings:  cache.New[*listing](cacheOpts),
		headSlots: make(chan struct{}, 16),
		fillSlots: make(chan struct{}, fillParallel),
		parts:     &bufPool{size: opts.Write.PartSize, mem: mem},
		chunks:    &bufPool{size: opts.Read.ChunkSize, mem: mem, aheadMax: opts.Read.MaxAheadMemory},
	}
	f.data = f.store
	if opts.Cache != nil {
		f.data = opts.Cache.Wrap(f.store)
	}
	if journal != nil {
		go journal.sweepLoop()
	}
	if onAWS(opts.Endpoint) {
		f.metaList.Store(metaNotListed) // MinIO's extension: not asked of AWS
	}
	if opts.Bucket == "" {
		return f, &EndpointRoot{fsys: f}
	}
	return f, &Dir{fsys: f}
}

// loc is where a node lives: a bucket and a key. The key means one of
// two things, and which one is up to the holder:
//
//   - a file location: the object's key, without a trailing "/"
//     ("a/b/c"); also how a directory is named in its parent (the
//     attribute cache and listings know directory "a/b/c/" as "a/b/c");
//   - a directory location: the key prefix of its entries, ending in
//     "/" ("a/b/c/"), or "" or the mount prefix at a bucket root.
//
// child turns a directory location into a file location of an entry;
// asFile and asDir convert between a directory's two names.
type loc struct {
	bucket, key string
}

// locate maps n's path below the mount root to its bucket and key, and
// reports false if n is no longer reachable (unlinked) or is the
// endpoint root itself.
func (f *FS) locate(n *gofs.Inode, dir bool) (loc, bool) {
	var segs []string
	for !n.IsRoot() {
		name, parent := n.Parent()
		if parent == nil {
			return loc{}, false
		}
		segs = append(segs, name)
		n = parent
	}
	for i, j := 0, len(segs)-1; i < j; i, j = i+1, j-1 {
		segs[i], segs[j] = segs[j], segs[i]
	}
	bucket := f.opts.Bucket
	if bucket == "" {
		if len(segs) == 0 {
			return loc{}, false
		}
		bucket, segs = segs[0], segs[1:]
	}
	key := f.opts.Prefix + strings.Join(segs, "/")
	if dir && len(segs) > 0 {
		key += "/"
	}
	return loc{bucket, key}, true
}

// child is the location of name inside directory location d.
func (d loc) child(name string) loc { return loc{d.bucket, d.key + name} }

// asFile is directory location d ("a/b/") as the file location of its
// name ("a/b"), where its attributes are cached and its marker is
// named. Not for a bucket root, which has no name.
func (d loc) asFile() loc { return loc{d.bucket, strings.TrimSuffix(d.key, "/")} }

// asDir is file location l ("a/b") as a directory location ("a/b/"):
// the prefix of its entries and the key of its marker.
func (l loc) asDir() loc { return loc{l.bucket, l.key + "/"} }

// cacheKey is the cache key of a location.
func (l loc) cacheKey() string { return l.bucket + "/" + l.key }

// String is l as "bucket/key", as its cache key.
func (l loc) String() string { return l.cacheKey() }

// fillAttr sets out from a, with the mount's defaults where the object
// has no metadata.
func (f *FS) fillAttr(a Attr, out *fuse.Attr) {
	out.Uid, out.Gid = f.opts.UID, f.opts.GID
	mtime := a.Mtime
	perm := f.opts.FileMode
	if a.Dir {
		perm = f.opts.DirMode
	}
	kind := a.kind()
	if m := a.Meta; m != nil {
		if m.Mode&0o7777 != 0 || m.Mode&syscall.S_IFMT != 0 {
			perm = m.Mode & 0o7777
		}
		if m.UID >= 0 {
			out.Uid = uint32(m.UID)
		}
		if m.GID >= 0 {
			out.Gid = uint32(m.GID)
		}
		if !m.Mtime.IsZero() {
			mtime = m.Mtime
		}
	}
	if mtime.IsZero() {
		mtime = f.mounted
	}
	// Without stored values, atime and ctime are the mtime, never 0.
	atime, ctime := mtime, mtime
	if m := a.Meta; m != nil {
		if !m.Atime.IsZero() {
			atime = m.Atime
		}
		if !m.Ctime.IsZero() {
			ctime = m.Ctime
		}
	}
	out.SetTimes(&atime, &mtime, &ctime)
	out.Mode = kind | perm
	switch kind {
	case syscall.S_IFDIR:
		out.Size, out.Nlink = 4096, 2
	default:
		out.Size, out.Nlink = uint64(a.Size), 1
	}
	out.Blksize = ioSize
	out.Blocks = (out.Size + 511) / 512
}

// readOnly is the errno of writes on a read-only mount, or 0.
func (f *FS) readOnly() syscall.Errno {
	if f.opts.ReadOnly {
		return syscall.EROFS
	}
	return 0
}

// ioSize is the st_blksize of every node: the largest FUSE read or write
// request (the mount's MaxWrite). Programs size their buffers by it (cat,
// cp and stdio do), so each of their reads and writes is one request of
// 1 MiB rather than eight of 128 KiB; NFS reports its rsize the same way.
const ioSize = 1 << 20
