package fs

import (
	"bytes"
	"context"
	"io"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/bucketfs/bucketfs/s3client"
)

// File is a regular file backed by one object. While it is open for
// writing, its whole new content lives in memory and is uploaded with one
// PUT on flush.
type File struct {
	gofs.Inode
	fsys *FS

	mu       sync.Mutex // protects the fields below; held across uploads
	size     int64
	mtime    time.Time
	data     []byte // the new content while written; valid when loaded
	loaded   bool   // data holds the file's content
	dirty    bool   // data differs from the object
	writers  int    // open writable handles
	unlinked bool   // the name was removed; nothing is uploaded any more
}

// refresh takes size and mtime from a listing or HEAD unless local
// writes are pending. It fills out with what the file now reports.
func (f *File) refresh(a Attr, out *fuse.Attr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.loaded {
		f.size, f.mtime = a.Size, a.Mtime
	}
	f.fillLocked(out)
}

// fillLocked fills out from the file's state. f.mu must be held.
func (f *File) fillLocked(out *fuse.Attr) {
	size := f.size
	if f.loaded {
		size = int64(len(f.data))
	}
	f.fsys.fillAttr(Attr{Size: size, Mtime: f.mtime}, out)
}

func (f *File) markUnlinked() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unlinked = true
	f.dirty = false
}

var _ = (gofs.NodeGetattrer)((*File)(nil))

// Getattr reports the size of pending writes, else the object's.
func (f *File) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fillLocked(&out.Attr)
	return 0
}

var _ = (gofs.NodeSetattrer)((*File)(nil))

// Setattr handles truncate; the result is uploaded at once unless the
// file is open for writing (then on flush).
func (f *File) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if size, ok := in.GetSize(); ok {
		if errno := f.resizeLocked(ctx, int64(size)); errno != 0 {
			return errno
		}
		if f.writers == 0 {
			errno := f.uploadLocked(ctx)
			// No handle holds the buffer: drop it, as the last
			// Release does, so later reads see the object again.
			f.data, f.loaded, f.dirty = nil, false, false
			if errno != 0 {
				return errno
			}
		}
	}
	f.fillLocked(&out.Attr)
	return 0
}

// resizeLocked truncates or extends the buffered content. f.mu must be held.
func (f *File) resizeLocked(ctx context.Context, size int64) syscall.Errno {
	if !f.loaded && size == 0 {
		f.data, f.loaded = []byte{}, true
	}
	if errno := f.loadLocked(ctx); errno != 0 {
		return errno
	}
	if size <= int64(len(f.data)) {
		f.data = f.data[:size]
	} else {
		f.data = append(f.data, make([]byte, size-int64(len(f.data)))...)
	}
	f.dirty = true
	f.mtime = time.Now()
	return 0
}

// loadLocked reads the object into memory before a partial change.
// f.mu must be held.
func (f *File) loadLocked(ctx context.Context) syscall.Errno {
	if f.loaded {
		return 0
	}
	key, ok := f.key()
	if !ok {
		return syscall.ENOENT
	}
	body, _, err := f.fsys.store.GetObject(ctx, f.fsys.opts.Bucket, key, 0, -1)
	if err != nil {
		return f.fsys.errno("read", key, err)
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		return f.fsys.errno("read", key, err)
	}
	f.data, f.loaded = data, true
	return 0
}

// key is the object key of f, and false once f is unlinked.
func (f *File) key() (string, bool) {
	rel, ok := relPath(&f.Inode)
	if !ok || rel == "" {
		return "", false
	}
	return f.fsys.opts.Prefix + rel, true
}

// uploadLocked PUTs the buffered content if it changed. f.mu must be held.
func (f *File) uploadLocked(ctx context.Context) syscall.Errno {
	if !f.dirty || f.unlinked {
		return 0
	}
	key, ok := f.key()
	if !ok {
		return 0
	}
	_, err := f.fsys.store.PutObject(ctx, f.fsys.opts.Bucket, key, bytes.NewReader(f.data), int64(len(f.data)), s3client.PutOptions{})
	if err != nil {
		f.fsys.log.WithField("key", key).Errorf("upload failed, data not saved: %v", err)
		return syscall.EIO
	}
	f.dirty = false
	f.size = int64(len(f.data))
	f.mtime = time.Now()
	f.fsys.cache.Put(key, Attr{Size: f.size, Mtime: f.mtime})
	return 0
}

var _ = (gofs.NodeOpener)((*File)(nil))

// Open returns a handle; writable handles share the file's buffer.
func (f *File) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	h := &handle{file: f}
	if flags&(syscall.O_WRONLY|syscall.O_RDWR) != 0 {
		h.writable = true
		f.mu.Lock()
		f.writers++
		f.mu.Unlock()
	}
	return h, 0, 0
}
