package fs

import (
	"context"
	"io"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// maxSkip is how far ahead of the open stream a read may land and still
// be served by reading on instead of starting a new GET.
const maxSkip = 1 << 20

// handle is one open file. Reads of content that is not local stream
// from one GET that is reused while reads are sequential.
type handle struct {
	file     *File
	writable bool

	mu     sync.Mutex // protects the fields below
	body   io.ReadCloser
	pos    int64 // offset of the next byte of body
	cancel context.CancelFunc
}

var _ = (gofs.FileReader)((*handle)(nil))

// Read serves local (written) content from the writer, else from S3.
func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	f := h.file
	f.mu.Lock()
	if f.w != nil && f.w.local() {
		defer f.mu.Unlock()
		t, errno := f.targetLocked(ctx)
		if errno != 0 {
			return nil, errno
		}
		n, err := f.w.ReadAt(ctx, t, dest, off)
		if err != nil {
			return nil, f.fsys.errno("read", t.key, err)
		}
		return fuse.ReadResultData(dest[:n]), 0
	}
	size := f.attr.Size
	l, ok := f.where()
	f.mu.Unlock()
	if !ok {
		return nil, syscall.ENOENT
	}
	if off >= size {
		return fuse.ReadResultData(nil), 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	n, err := h.readStream(l, dest[:min(int64(len(dest)), size-off)], off)
	if err != nil {
		return nil, f.fsys.errno("read", l.key, err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// readStream fills dest from offset off, reusing the open GET when off is
// at or a little ahead of its position. h.mu must be held.
func (h *handle) readStream(l loc, dest []byte, off int64) (int, error) {
	store := h.file.fsys.store
	for attempt := 0; ; attempt++ {
		if h.body != nil && off >= h.pos && off-h.pos <= maxSkip {
			if _, err := io.CopyN(io.Discard, h.body, off-h.pos); err == nil {
				h.pos = off
				n, err := io.ReadFull(h.body, dest)
				h.pos += int64(n)
				if err == nil || err == io.EOF || err == io.ErrUnexpectedEOF {
					return n, nil
				}
			}
		}
		h.closeStream()
		if attempt > 0 {
			break
		}
		// The stream outlives this request, so it gets its own context.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		body, _, err := store.GetObject(ctx, l.bucket, l.key, off, -1)
		if err != nil {
			cancel()
			return 0, err
		}
		h.body, h.pos, h.cancel = body, off, cancel
	}
	// A fresh stream failed too: one plain ranged GET for exactly this read.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	body, _, err := store.GetObject(ctx, l.bucket, l.key, off, int64(len(dest)))
	if err != nil {
		return 0, err
	}
	defer body.Close()
	n, err := io.ReadFull(body, dest)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	return n, err
}

// closeStream drops the open GET. h.mu must be held.
func (h *handle) closeStream() {
	if h.body != nil {
		h.body.Close()
		h.cancel()
		h.body, h.cancel = nil, nil
	}
}

var _ = (gofs.FileWriter)((*handle)(nil))

// Write hands data to the file's writer.
func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	f := h.file
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.w == nil {
		return 0, syscall.EBADF
	}
	t, errno := f.targetLocked(ctx)
	if errno != 0 {
		return 0, errno
	}
	if err := f.w.Write(ctx, t, data, off); err != nil {
		return 0, f.fsys.errno("write", t.key, err)
	}
	f.written = time.Now()
	return uint32(len(data)), 0
}

var _ = (gofs.FileFlusher)((*handle)(nil))

// Flush uploads pending writes; a failed upload fails close(2) with EIO.
func (h *handle) Flush(ctx context.Context) syscall.Errno {
	if !h.writable {
		return 0
	}
	h.file.mu.Lock()
	defer h.file.mu.Unlock()
	return h.file.flushLocked(ctx)
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
	h.closeStream()
	h.mu.Unlock()
	if !h.writable {
		return 0
	}
	h.file.mu.Lock()
	defer h.file.mu.Unlock()
	return h.file.releaseWriterLocked()
}
