package fs

import (
	"context"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// handle is one open file. Reads of content that is not local go
// through a reader with read-ahead, of the version the file had when the
// handle was opened, or that this mount uploaded since.
type handle struct {
	file     *File
	writable bool

	mu  sync.Mutex // protects the fields below
	v   version    // what the handle reads from S3
	gen int        // file.gen when v was taken
	r   *reader    // made at the first read from S3
}

// newHandleLocked opens a handle on f's current version. f.mu must be held.
func (f *File) newHandleLocked(writable bool) *handle {
	f.handles++
	return &handle{file: f, writable: writable, v: version{f.attr.Size, f.attr.ETag}, gen: f.gen}
}

var _ = (gofs.FileReader)((*handle)(nil))

// Read serves local (written) content from the writer, else from S3.
func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	f := h.file
	f.mu.Lock()
	local := f.local.content
	f.mu.Unlock()
	if local {
		if res, errno, ok := h.readLocal(ctx, dest, off); ok {
			return res, errno
		}
	}
	f.mu.Lock()
	now, gen := version{f.attr.Size, f.attr.ETag}, f.gen
	l, ok := f.where()
	f.mu.Unlock()
	if !ok {
		return nil, syscall.ENOENT
	}
	h.mu.Lock()
	if h.gen != gen || h.r != nil && h.r.l != l {
		// This mount wrote the file (or moved it) since: read that.
		h.v, h.gen = now, gen
		if h.r != nil {
			h.r.Close()
			h.r = nil
		}
	}
	if off >= h.v.size {
		h.mu.Unlock()
		return fuse.ReadResultData(nil), 0
	}
	if h.r == nil {
		h.r = newReader(f.fsys.store, f.fsys.data, f.fsys.chunks, l, h.v, f.fsys.opts.Read, f.fsys.log, f.markChanged)
	}
	r := h.r
	h.mu.Unlock()
	data, done, err := r.Read(ctx, dest, off)
	if err != nil {
		return nil, f.fsys.errno("read", l.key, err)
	}
	if done != nil {
		return chunkReply{data, done}, 0
	}
	return fuse.ReadResultData(data), 0
}

// chunkReply is a reply that points into a read chunk, which it gives
// back once go-fuse has sent it.
type chunkReply struct {
	data []byte
	done func()
}

func (c chunkReply) Bytes(buf []byte) ([]byte, fuse.Status) { return c.data, fuse.OK }
func (c chunkReply) Size() int                              { return len(c.data) }
func (c chunkReply) Done()                                  { c.done() }

// Slices has go-fuse write the reply with writev straight from the
// chunk, instead of trying to splice it through a pipe (a copy more, and
// a reply over 1 MiB does not fit the pipe).
func (c chunkReply) Slices() ([][]byte, fuse.Status) { return [][]byte{c.data}, fuse.OK }

var _ fuse.ReadResult = chunkReply{}

// readLocal serves a read from the writer if it holds the content
// (ok false: it no longer does, read from S3).
func (h *handle) readLocal(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno, bool) {
	f := h.file
	f.io.Lock()
	defer f.io.Unlock()
	if f.w == nil || !f.w.local() {
		return nil, 0, false
	}
	defer f.publish()
	t, errno := f.targetIO(ctx)
	if errno != 0 {
		return nil, errno, true
	}
	n, err := f.w.ReadAt(ctx, t, dest, off)
	if err != nil {
		return nil, f.fsys.errno("read", t.key, err), true
	}
	return fuse.ReadResultData(dest[:n]), 0, true
}

var _ = (gofs.FileWriter)((*handle)(nil))

// Write hands data to the file's writer.
func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	f := h.file
	f.io.Lock()
	defer f.io.Unlock()
	if f.w == nil {
		return 0, syscall.EBADF
	}
	defer f.publish()
	t, errno := f.targetIO(ctx)
	if errno != 0 {
		return 0, errno
	}
	if err := f.w.Write(ctx, t, data, off); err != nil {
		return 0, f.fsys.errno("write", t.key, err)
	}
	f.mu.Lock()
	f.written = time.Now()
	f.mu.Unlock()
	return uint32(len(data)), 0
}

var _ = (gofs.FileFlusher)((*handle)(nil))

// Flush uploads pending writes; a failed upload fails close(2) with EIO.
func (h *handle) Flush(ctx context.Context) syscall.Errno {
	if !h.writable {
		return 0
	}
	h.file.io.Lock()
	defer h.file.io.Unlock()
	return h.file.flushIO(ctx)
}

var _ = (gofs.FileFsyncer)((*handle)(nil))

// Fsync uploads pending writes now.
func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return h.Flush(ctx)
}

var _ = (gofs.FileReleaser)((*handle)(nil))

// Release closes the read stream; the last writer drops the writer.
func (h *handle) Release(ctx context.Context) syscall.Errno {
	h.mu.Lock()
	if h.r != nil {
		h.r.Close()
	}
	h.mu.Unlock()
	f := h.file
	f.mu.Lock()
	f.handles--
	f.mu.Unlock()
	if !h.writable {
		f.releaseDetached()
		return 0
	}
	f.io.Lock()
	defer f.io.Unlock()
	return f.releaseWriterIO()
}
