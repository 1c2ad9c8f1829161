package fs

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/bucketfs/bucketfs/s3client"
)

// File is a regular file backed by one object. While it is open for
// writing, a writer holds the new content (memory, parts in flight, or a
// staged temp file) until flush uploads it.
type File struct {
	gofs.Inode
	fsys *FS

	mu       sync.Mutex // protects the fields below; held across uploads
	attr     Attr       // what the object is (or will be once flushed)
	w        *writer    // non-nil while open for writing
	writers  int        // open writable handles
	written  time.Time  // last change of content not yet uploaded
	unlinked bool       // the name was removed; nothing is uploaded any more
	// gen counts this mount's uploads of new content: handles opened
	// before one read what was uploaded, not the version they opened.
	gen int
	// changed is set when a reader found the object changed by another
	// client: the next open learns the new version first.
	changed bool
	// opened is the size and mtime at the last open: while they stay the
	// same, the kernel may keep the pages it read then.
	opened struct {
		size  int64
		mtime time.Time
		etag  string
	}
}

// refresh takes size, times and metadata from a listing or HEAD unless
// local writes are pending. It fills out with what the file now reports.
func (f *File) refresh(a Attr, out *fuse.Attr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.w == nil {
		if a.Meta == nil && f.attr.sameVersion(a) {
			a.Meta = f.attr.Meta // a listing does not forget what HEAD said
		}
		f.attr = a
	}
	f.fillLocked(out)
}

// pending reports whether the file has content not uploaded yet.
func (f *File) pending() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.w != nil && f.w.dirty
}

// fillLocked fills out from the file's state; a file whose name was
// removed (unlink, or replaced by rename) has no links. f.mu must be held.
func (f *File) fillLocked(out *fuse.Attr) {
	a := f.attr
	if f.w != nil && f.w.local() {
		a.Size = f.w.size
	}
	f.fsys.fillAttr(a, out)
	if f.unlinked {
		out.Nlink = 0
	}
}

// markChanged records that the object is no longer the version the
// file knows: caches forget it and the next open asks S3.
func (f *File) markChanged() {
	f.mu.Lock()
	f.changed = true
	f.mu.Unlock()
	if l, ok := f.where(); ok {
		f.fsys.attrs.Remove(l.cacheKey())
		dir, _ := parentOf(l)
		f.fsys.listings.Remove(dir.cacheKey())
	}
}

func (f *File) markUnlinked() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unlinked = true
	if f.w != nil {
		f.w.dirty = false
	}
}

// where is the object location of f.
func (f *File) where() (loc, bool) {
	return f.fsys.locate(&f.Inode, false)
}

// targetLocked names the upload of f's content with its metadata, which
// it first learns with a HEAD if only a listing was seen (an upload must
// not drop an object's mode or owner). f.mu must be held.
func (f *File) targetLocked(ctx context.Context) (target, syscall.Errno) {
	l, ok := f.where()
	if !ok || f.unlinked {
		return target{}, syscall.ENOENT
	}
	if f.attr.Meta == nil {
		info, err := f.fsys.store.HeadObject(ctx, l.bucket, l.key)
		switch {
		case err == nil:
			f.attr.Meta = parseMeta(info)
			if f.attr.ETag == "" {
				f.attr.ETag = info.ETag
			}
		case errors.Is(err, s3client.ErrNotFound):
			f.attr.Meta = noMeta()
		default:
			return target{}, f.fsys.errno("head", l.key, err)
		}
	}
	return target{bucket: l.bucket, key: l.key, put: f.attr.Meta.putOptions(l.key), etag: f.attr.ETag}, 0
}

// flushLocked uploads pending writes. f.mu must be held.
func (f *File) flushLocked(ctx context.Context) syscall.Errno {
	if f.w == nil || !f.w.dirty || f.unlinked {
		return 0
	}
	t, errno := f.targetLocked(ctx)
	if errno != 0 {
		return errno
	}
	if !f.written.IsZero() {
		m := f.attr.Meta.clone() // Meta values are shared with the cache: never change one
		m.Mtime = f.written
		f.attr.Meta = m
		t.put = f.attr.Meta.putOptions(t.key)
	}
	size := f.w.size
	etag, err := f.w.Flush(ctx, t)
	if err != nil {
		f.fsys.log.WithField("key", t.key).Errorf("upload failed, data not saved: %v", err)
		return syscall.EIO
	}
	f.attr.Size, f.attr.Mtime, f.attr.ETag, f.written = size, time.Now(), etag, time.Time{}
	f.gen++
	f.fsys.remember(loc{t.bucket, t.key}, f.attr)
	return 0
}

var _ = (gofs.NodeGetattrer)((*File)(nil))

// Getattr reports pending writes, else what the cache (or a fresh HEAD,
// once the cache entry expired) says of the object.
func (f *File) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f.mu.Lock()
	writing := f.w != nil
	f.mu.Unlock()
	if !writing {
		if l, ok := f.where(); ok {
			if a, errno := f.fsys.stat(ctx, l); errno == 0 && !a.Dir {
				f.refresh(a, &out.Attr)
				return 0
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fillLocked(&out.Attr)
	return 0
}

var _ = (gofs.NodeSetattrer)((*File)(nil))

// Setattr truncates and changes mode, owner and times. Without open
// writers the change is made at once: a truncation uploads the new
// content, a metadata change copies the object onto itself.
func (f *File) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if errno := f.fsys.readOnly(); errno != 0 {
		return errno
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	metaChange := metaChanges(in)
	if size, ok := in.GetSize(); ok {
		if errno := f.truncateLocked(ctx, int64(size)); errno != 0 {
			return errno
		}
	}
	if metaChange {
		if _, errno := f.targetLocked(ctx); errno != 0 {
			return errno
		}
		f.attr.Meta = applySetattr(f.attr.Meta.clone(), in, syscall.S_IFREG)
		if _, ok := in.GetMTime(); ok {
			f.written = time.Time{} // an explicit mtime wins over the writes'
		}
		if f.w == nil || !f.w.dirty {
			if errno := f.rewriteMetaLocked(ctx); errno != 0 {
				return errno
			}
		}
	}
	f.fillLocked(&out.Attr)
	return 0
}

// truncateLocked sets the size; without open writers it uploads at once.
// f.mu must be held.
func (f *File) truncateLocked(ctx context.Context, size int64) syscall.Errno {
	temporary := f.w == nil
	if temporary {
		f.w = f.fsys.newWriter(f.attr.Size, false)
		defer func() { f.w.Close(); f.w = nil }()
	}
	t, errno := f.targetLocked(ctx)
	if errno != 0 {
		return errno
	}
	if err := f.w.Truncate(ctx, t, size); err != nil {
		return f.fsys.errno("truncate", t.key, err)
	}
	f.written = time.Now()
	if temporary {
		return f.flushLocked(ctx)
	}
	return 0
}

// rewriteMetaLocked stores f.attr.Meta by copying the object onto itself.
// f.mu must be held.
func (f *File) rewriteMetaLocked(ctx context.Context) syscall.Errno {
	l, ok := f.where()
	if !ok {
		return syscall.ENOENT
	}
	etag, err := f.fsys.rewriteMeta(ctx, l, f.attr.Meta)
	if err != nil {
		return f.fsys.errno("setattr", l.key, err)
	}
	// A new version of the same content: open handles read it.
	f.attr.ETag = etag
	f.gen++
	f.fsys.remember(l, f.attr)
	return 0
}

var _ = (gofs.NodeOpener)((*File)(nil))

// Open returns a handle; writable handles share the file's writer.
func (f *File) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	f.mu.Lock()
	changed := f.changed && f.w == nil
	f.mu.Unlock()
	if changed {
		// A reader saw the object change: learn the new version (the
		// caches forgot the old one).
		if l, ok := f.where(); ok {
			if a, errno := f.fsys.stat(ctx, l); errno == 0 && !a.Dir {
				var out fuse.Attr
				f.refresh(a, &out)
				f.mu.Lock()
				f.changed = false
				f.mu.Unlock()
			}
		}
	}
	if flags&(syscall.O_WRONLY|syscall.O_RDWR) != 0 {
		if errno := f.fsys.readOnly(); errno != 0 {
			return nil, 0, errno
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		h := f.newHandleLocked(true)
		if f.w == nil {
			f.w = f.fsys.newWriter(f.attr.Size, false)
		}
		f.writers++
		if flags&syscall.O_TRUNC != 0 {
			if errno := f.truncateLocked(ctx, 0); errno != 0 {
				f.releaseWriterLocked()
				return nil, 0, errno
			}
		}
		return h, 0, 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.newHandleLocked(false)
	var fuseFlags uint32
	if f.w == nil && f.attr.Size == f.opened.size && f.attr.Mtime.Equal(f.opened.mtime) && !f.attr.Mtime.IsZero() &&
		(f.attr.ETag == "" || sameETag(f.attr.ETag, f.opened.etag)) {
		fuseFlags = fuse.FOPEN_KEEP_CACHE // unchanged since the last open
	}
	f.opened.size, f.opened.mtime, f.opened.etag = f.attr.Size, f.attr.Mtime, f.attr.ETag
	return h, fuseFlags, 0
}

// releaseWriterLocked ends one writable handle; the last one uploads
// what is still pending (flush already reported failures) and drops the
// writer. f.mu must be held.
func (f *File) releaseWriterLocked() syscall.Errno {
	f.writers--
	if f.writers > 0 {
		return 0
	}
	errno := f.flushLocked(context.Background())
	if errno != 0 {
		// Nobody can retry any more: forget the unsaved content rather
		// than serve what the server does not have.
		if l, ok := f.where(); ok {
			f.fsys.log.WithField("key", l.key).Error("giving up on unsaved writes after failed uploads")
			f.fsys.attrs.Remove(l.cacheKey())
		}
	}
	f.w.Close()
	f.w = nil
	f.written = time.Time{}
	return errno
}
