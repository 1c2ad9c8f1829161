package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// dirHandle is an open directory. Its entries come from Dir.Readdir
// (one listing, at the first read); for READDIRPLUS it also answers the
// lookup of each entry, from what the listing just said and never with a
// request, so that the kernel learns every name's attributes with the
// listing: ls -l, rm -r and du then cost no LOOKUP round trip per name,
// and, where the listing carried the metadata (MinIO), no GETATTR
// either. An entry it cannot answer without a request (a small object
// with no metadata listed, which may be a link) goes without
// attributes: the kernel looks it up itself if it needs it.
type dirHandle struct {
	d  *Dir
	ds gofs.DirStream // nil until the first read
}

var _ = (gofs.NodeOpendirHandler)((*Dir)(nil))

// OpendirHandle opens the directory; it is listed at the first read.
func (d *Dir) OpendirHandle(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	return &dirHandle{d: d}, 0, 0
}

var (
	_ = (gofs.FileReaddirenter)((*dirHandle)(nil))
	_ = (gofs.FileSeekdirer)((*dirHandle)(nil))
	_ = (gofs.FileReleasedirer)((*dirHandle)(nil))
	_ = (gofs.FileLookuper)((*dirHandle)(nil))
)

// open lists the directory, once per handle.
func (h *dirHandle) open(ctx context.Context) syscall.Errno {
	if h.ds != nil {
		return 0
	}
	ds, errno := h.d.Readdir(ctx)
	if errno != 0 {
		return errno
	}
	h.ds = ds
	return 0
}

// Readdirent returns the next entry, nil at the end.
func (h *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if errno := h.open(ctx); errno != 0 {
		return nil, errno
	}
	if !h.ds.HasNext() {
		return nil, 0
	}
	e, errno := h.ds.Next()
	return &e, errno
}

// Seekdir goes back to offset off (rewinddir, or a read the kernel
// makes again).
func (h *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if errno := h.open(ctx); errno != 0 {
		return errno
	}
	if sd, ok := h.ds.(gofs.FileSeekdirer); ok {
		return sd.Seekdir(ctx, off)
	}
	return syscall.ENOTSUP
}

// Releasedir closes the handle.
func (h *dirHandle) Releasedir(ctx context.Context, flags uint32) {
	if h.ds != nil {
		h.ds.Close()
	}
}

// Lookup answers READDIRPLUS's lookup of entry name from the caches
// alone. An error sends the entry without attributes (a zero node ID,
// which the kernel takes as "no attributes given", not as ENOENT).
func (h *dirHandle) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	l, errno := h.d.where()
	if errno != 0 {
		return nil, errno
	}
	c := l.child(name)
	a, exact, errno, known := h.d.fsys.cachedStat(c)
	if !known || errno != 0 || !exact && !typeKnown(a) {
		return nil, syscall.EAGAIN
	}
	if !exact {
		out.SetAttrTimeout(notExact)
	}
	return h.d.child(ctx, name, a, &out.Attr), 0
}
