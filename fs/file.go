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
//
// Two locks: io serializes everything that touches the writer and the
// network I/O that goes with it (writes, local reads, truncation,
// uploads, metadata rewrites) and may be held for as long as an upload
// takes; mu guards the file's fields and is never held across network
// I/O, so stat and readdir, which take only mu, never wait for an
// upload. io is taken before mu, never the other way round. Methods
// named ...IO need io held and take mu themselves; ...Locked need mu.
type File struct {
	gofs.Inode
	fsys *FS

	io sync.Mutex // serializes content changes and uploads; before mu
	w  *writer    // non-nil while open for writing (or truncating); guarded by io

	mu       sync.Mutex // protects the fields below; never held across network I/O
	attr     Attr       // what the object is (or will be once flushed)
	writers  int        // open writable handles
	handles  int        // open handles, writable or not
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
	// local is what the writer holds, copied by publish whenever it
	// changes, for those who must not wait for io.
	local struct {
		open    bool  // a writer exists
		content bool  // reads and the size come from the writer
		size    int64 // the writer's size
		dirty   bool  // it holds changes not uploaded yet
	}
}

// publish copies the writer's state where mu guards it. f.io must be held.
func (f *File) publish() {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.w
	f.local.open = w != nil
	f.local.content = w != nil && w.local()
	f.local.size, f.local.dirty = 0, false
	if w != nil {
		f.local.size, f.local.dirty = w.size, w.dirty
	}
}

// refresh takes size, times and metadata from a listing or HEAD unless
// the file is open for writing. It fills out with what the file now reports.
func (f *File) refresh(a Attr, out *fuse.Attr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.local.open {
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
	return f.local.dirty && !f.unlinked
}

// fillLocked fills out from the file's state; a file whose name was
// removed (unlink, or replaced by rename) has no links. f.mu must be held.
func (f *File) fillLocked(out *fuse.Attr) {
	a := f.attr
	if f.local.content {
		a.Size = f.local.size
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

// markUnlinked records that the name is gone: nothing is uploaded any more.
func (f *File) markUnlinked() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unlinked = true
}

// Open after unlink. POSIX keeps a file's content reachable through the
// descriptors open when its name is removed, until the last close. The
// object is deleted at unlink (or replaced at rename) all the same, so
// first detachIO moves what the open handles need into a staging file in
// the temp directory: a writer's content as it is, and for a file only
// read, the object itself (one download of the whole object, disk of its
// size in --temp-dir, while the handles stay open; nothing is kept for a
// file with no open handle). From then on reads and writes of those
// handles use the staging file, nothing is uploaded at flush or close,
// and the last release drops it.

// detachIO stages f's content if it has open handles, before its object
// is deleted or replaced. f.io must be held; the caller marks f unlinked
// before letting go of it.
func (f *File) detachIO(ctx context.Context) syscall.Errno {
	f.mu.Lock()
	open, size := f.handles > 0, f.attr.Size
	f.mu.Unlock()
	if !open {
		return 0
	}
	if f.w == nil {
		f.w = f.fsys.newWriter(size, false)
	}
	defer f.publish()
	t, errno := f.targetIO(ctx)
	if errno != 0 {
		return errno
	}
	if err := f.w.toStaged(ctx, t); err != nil {
		return f.fsys.errno("unlink: keep content of open file", t.key, err)
	}
	f.w.detached = true
	return 0
}

// keepDetached reports whether f's writer must stay after its last
// writable handle: f was unlinked while handles that read it are open.
func (f *File) keepDetached() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.unlinked && f.handles > 0
}

// releaseDetached drops the staged content of an unlinked file once its
// last handle is gone. It takes f.io only for an unlinked file.
func (f *File) releaseDetached() {
	f.mu.Lock()
	last := f.handles == 0 && f.writers == 0 && f.unlinked
	f.mu.Unlock()
	if !last {
		return
	}
	f.io.Lock()
	defer f.io.Unlock()
	f.mu.Lock()
	last = f.handles == 0 && f.writers == 0
	f.mu.Unlock()
	if last && f.w != nil {
		f.w.Close()
		f.w = nil
		f.publish()
	}
}

// where is the object location of f.
func (f *File) where() (loc, bool) {
	return f.fsys.locate(&f.Inode, false)
}

// targetIO names the upload of f's content with its metadata, which it
// first learns with a HEAD if only a listing was seen (an upload must
// not drop an object's mode or owner). f.io must be held.
func (f *File) targetIO(ctx context.Context) (target, syscall.Errno) {
	l, ok := f.where()
	f.mu.Lock()
	unlinked, meta := f.unlinked, f.attr.Meta
	f.mu.Unlock()
	if unlinked && f.w != nil && f.w.detached {
		// Unlinked while open: the content lives in the staging file and
		// goes nowhere, so there is no object to name.
		return target{}, 0
	}
	if !ok || unlinked {
		return target{}, syscall.ENOENT
	}
	if meta == nil {
		info, err := f.fsys.store.HeadObject(ctx, l.bucket, l.key)
		switch {
		case err == nil:
			meta = parseMeta(info)
		case errors.Is(err, s3client.ErrNotFound):
			meta, info = noMeta(), nil
		default:
			return target{}, f.fsys.errno("head", l.key, err)
		}
		f.mu.Lock()
		if f.attr.Meta == nil {
			f.attr.Meta = meta
			if f.attr.ETag == "" && info != nil {
				f.attr.ETag = info.ETag
			}
		}
		f.mu.Unlock()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return target{bucket: l.bucket, key: l.key, put: f.attr.Meta.putOptions(l.key), etag: f.attr.ETag}, 0
}

// flushIO uploads pending writes. f.io must be held.
func (f *File) flushIO(ctx context.Context) syscall.Errno {
	if f.w == nil || !f.w.dirty {
		return 0
	}
	f.mu.Lock()
	unlinked := f.unlinked
	f.mu.Unlock()
	if unlinked {
		return 0
	}
	t, errno := f.targetIO(ctx)
	if errno != 0 {
		return errno
	}
	f.mu.Lock()
	if !f.written.IsZero() {
		m := f.attr.Meta.clone() // Meta values are shared with the cache: never change one
		m.Mtime, m.Ctime = f.written, f.written
		f.attr.Meta = m
		t.put = f.attr.Meta.putOptions(t.key)
	}
	f.mu.Unlock()
	size := f.w.size
	etag, err := f.w.Flush(ctx, t)
	f.publish()
	if err != nil {
		f.fsys.log.WithField("key", t.key).Errorf("upload failed, data not saved: %v", err)
		return syscall.EIO
	}
	f.mu.Lock()
	f.attr.Size, f.attr.Mtime, f.attr.ETag, f.written = size, time.Now(), etag, time.Time{}
	f.gen++
	a := f.attr
	f.mu.Unlock()
	f.fsys.remember(loc{t.bucket, t.key}, a)
	return 0
}

var _ = (gofs.NodeGetattrer)((*File)(nil))

// Getattr reports pending writes, else what the cache (or a fresh HEAD,
// once the cache entry expired) says of the object. It never waits for
// an upload.
func (f *File) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f.mu.Lock()
	writing := f.local.open
	f.mu.Unlock()
	if !writing {
		if l, ok := f.where(); ok {
			if fh != nil {
				// The kernel checks an open file's size before a read: it
				// needs no mode, so no HEAD (out stays expired if lazy).
				if a, exact, errno := f.fsys.statLazy(ctx, l); errno == 0 && !a.Dir {
					if !exact {
						out.SetTimeout(notExact)
					}
					f.refresh(a, &out.Attr)
					return 0
				}
			} else if a, errno := f.fsys.stat(ctx, l); errno == 0 && !a.Dir {
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
	f.io.Lock()
	defer f.io.Unlock()
	if size, ok := in.GetSize(); ok {
		if errno := f.truncateIO(ctx, int64(size)); errno != 0 {
			return errno
		}
	}
	if metaChanges(in) {
		if _, errno := f.targetIO(ctx); errno != 0 {
			return errno
		}
		f.mu.Lock()
		f.attr.Meta = applySetattr(f.attr.Meta.clone(), in, syscall.S_IFREG)
		if _, ok := in.GetMTime(); ok {
			f.written = time.Time{} // an explicit mtime wins over the writes'
		}
		unlinked := f.unlinked
		f.mu.Unlock()
		if !unlinked && (f.w == nil || !f.w.dirty) {
			if errno := f.rewriteMetaIO(ctx); errno != 0 {
				return errno
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fillLocked(&out.Attr)
	return 0
}

// truncateIO sets the size; without open writers it uploads at once.
// f.io must be held.
func (f *File) truncateIO(ctx context.Context, size int64) syscall.Errno {
	if f.w == nil {
		f.mu.Lock()
		now := f.attr.Size
		f.mu.Unlock()
		f.w = f.fsys.newWriter(now, false)
		defer func() {
			f.w.Close()
			f.w = nil
			f.publish()
		}()
		if errno := f.truncateWriterIO(ctx, size); errno != 0 {
			return errno
		}
		return f.flushIO(ctx)
	}
	return f.truncateWriterIO(ctx, size)
}

// truncateWriterIO truncates the writer's content. f.io must be held.
func (f *File) truncateWriterIO(ctx context.Context, size int64) syscall.Errno {
	defer f.publish()
	t, errno := f.targetIO(ctx)
	if errno != 0 {
		return errno
	}
	if err := f.w.Truncate(ctx, t, size); err != nil {
		return f.fsys.errno("truncate", t.key, err)
	}
	f.mu.Lock()
	f.written = time.Now()
	f.mu.Unlock()
	return 0
}

// rewriteMetaIO stores f.attr.Meta by copying the object onto itself.
// f.io must be held.
func (f *File) rewriteMetaIO(ctx context.Context) syscall.Errno {
	l, ok := f.where()
	if !ok {
		return syscall.ENOENT
	}
	f.mu.Lock()
	meta := f.attr.Meta
	f.mu.Unlock()
	etag, err := f.fsys.rewriteMeta(ctx, l, meta)
	if err != nil {
		return f.fsys.errno("setattr", l.key, err)
	}
	// A new version of the same content: open handles read it.
	f.mu.Lock()
	f.attr.ETag = etag
	f.gen++
	a := f.attr
	f.mu.Unlock()
	f.fsys.remember(l, a)
	return 0
}

var _ = (gofs.NodeOpener)((*File)(nil))

// Open returns a handle; writable handles share the file's writer.
func (f *File) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	f.mu.Lock()
	changed := f.changed && !f.local.open
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
		f.io.Lock()
		defer f.io.Unlock()
		f.mu.Lock()
		h := f.newHandleLocked(true)
		f.writers++
		size := f.attr.Size
		f.mu.Unlock()
		if f.w == nil {
			f.w = f.fsys.newWriter(size, false)
			f.publish()
		}
		if flags&syscall.O_TRUNC != 0 {
			if errno := f.truncateIO(ctx, 0); errno != 0 {
				f.releaseWriterIO()
				return nil, 0, errno
			}
		}
		return h, 0, 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.newHandleLocked(false)
	var fuseFlags uint32
	if !f.local.open && f.attr.Size == f.opened.size && f.attr.Mtime.Equal(f.opened.mtime) && !f.attr.Mtime.IsZero() &&
		(f.attr.ETag == "" || sameETag(f.attr.ETag, f.opened.etag)) {
		fuseFlags = fuse.FOPEN_KEEP_CACHE // unchanged since the last open
	}
	if min := f.fsys.opts.Read.DirectMin; min > 0 && f.attr.Size >= min && !f.local.open {
		fuseFlags = fuse.FOPEN_DIRECT_IO // see ReadOptions.DirectMin
	}
	f.opened.size, f.opened.mtime, f.opened.etag = f.attr.Size, f.attr.Mtime, f.attr.ETag
	return h, fuseFlags, 0
}

// releaseWriterIO ends one writable handle; the last one uploads what is
// still pending (flush already reported failures) and drops the writer.
// f.io must be held.
func (f *File) releaseWriterIO() syscall.Errno {
	f.mu.Lock()
	f.writers--
	left := f.writers
	f.mu.Unlock()
	if left > 0 {
		return 0
	}
	errno := f.flushIO(context.Background())
	if f.keepDetached() {
		return errno // unlinked, and readers still read the staged content
	}
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
	f.mu.Lock()
	f.written = time.Time{}
	f.mu.Unlock()
	f.publish()
	return errno
}
