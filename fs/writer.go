package fs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/sirupsen/logrus"

	"github.com/bucketfs/bucketfs/s3client"
)

// WriteOptions shape uploads. Zero values mean the defaults below,
// which the bucketfs command uses too.
type WriteOptions struct {
	// PartSize is the multipart part size (default DefaultPartSize; S3
	// wants at least MinPartSize, which Check says). It doubles every
	// 1000 parts so 10000 parts reach far past 5 TiB.
	PartSize int64
	// Parallel is the number of parts uploaded at once (default
	// DefaultParallel). Memory used by one streaming file is at most
	// (Parallel+1)*PartSize.
	Parallel int
	// TempDir holds staged files (default os.TempDir()).
	TempDir string
}

// Defaults and limits of WriteOptions.
const (
	DefaultPartSize = 8 << 20
	MinPartSize     = 5 << 20 // S3's smallest part but the last
	DefaultParallel = 4
)

// Check reports options S3 would refuse.
func (o WriteOptions) Check() error {
	if o.PartSize != 0 && o.PartSize < MinPartSize {
		return fmt.Errorf("part size %d: S3 needs parts of at least 5 MiB (%d)", o.PartSize, MinPartSize)
	}
	return nil
}

func (o *WriteOptions) setDefaults() {
	if o.PartSize <= 0 {
		o.PartSize = DefaultPartSize
	}
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
}

// partSize is the size of part n (1-based).
func (o WriteOptions) partSize(n int) int64 { return partSizeOf(o.PartSize, n) }

// multipartPut is t's metadata for a multipart upload: with the base
// part size, which lets a reader check the upload's ETag (etagSum).
func (w *writer) multipartPut(t target) s3client.PutOptions {
	put := t.put
	put.Metadata = make(map[string]string, len(t.put.Metadata)+1)
	for k, v := range t.put.Metadata {
		put.Metadata[k] = v
	}
	put.Metadata[partSizeMeta] = strconv.FormatInt(w.opts.PartSize, 10)
	return put
}

// writeState says where the file's current content is.
type writeState int

const (
	// clean: the object holds the content; nothing is local.
	stateClean writeState = iota
	// stream: content written in order from 0; uploaded parts plus buf.
	stateStream
	// staged: a temp file holds the whole content.
	stateStaged
)

// target names the object an upload goes to and its metadata.
type target struct {
	bucket, key string
	put         s3client.PutOptions
	etag        string // of the object's version the content starts from
}

// writer holds the content of a file being written. It is not safe for
// concurrent use: the owning File's mutex guards it. Background part
// uploads only touch the multipart upload, which has its own lock.
type writer struct {
	store Store
	data  Source // the object's bytes, for staging
	opts  WriteOptions
	log   *logrus.Entry
	pool  *bufPool

	state writeState
	size  int64
	dirty bool
	// broken is set when a multipart upload failed after parts had left
	// memory: the content is lost and must not be uploaded in part.
	broken error

	// stream state
	buf      []byte // bytes from bufStart on, not yet shipped
	bufStart int64
	mp       *multipart // nil until the first part is shipped

	// staged state
	tmp *os.File
	// detached: the file was unlinked while open; the content stays in
	// the staging file (never streamed to S3) until the last close.
	detached bool
}

// newWriter returns a writer for an object of size bytes (clean), or
// for a new empty file when created is set.
func (f *FS) newWriter(size int64, created bool) *writer {
	w := &writer{store: f.store, data: f.data, opts: f.opts.Write, log: f.log, pool: f.parts, size: size}
	if created {
		w.state, w.dirty = stateStream, true
	}
	return w
}

// local reports whether reads must be served by the writer.
func (w *writer) local() bool { return w.state != stateClean }

// Write stores data at off.
func (w *writer) Write(ctx context.Context, t target, data []byte, off int64) error {
	if w.broken != nil {
		return w.broken
	}
	if w.state == stateClean && w.size == 0 && off == 0 {
		w.state = stateStream
	}
	if w.state == stateStream && (off != w.size || w.detached) {
		if err := w.toStaged(ctx, t); err != nil {
			return err
		}
	}
	if w.state == stateClean {
		if err := w.toStaged(ctx, t); err != nil {
			return err
		}
	}
	w.dirty = true
	if w.state == stateStaged {
		if _, err := w.tmp.WriteAt(data, off); err != nil {
			return fmt.Errorf("staging file: %w", err)
		}
		w.size = max(w.size, off+int64(len(data)))
		return nil
	}
	for len(data) > 0 {
		n := 1
		if w.mp != nil {
			n = w.mp.nextPart()
		}
		ps := w.opts.partSize(n)
		if w.buf == nil {
			w.buf = w.pool.get(ps)
		}
		k := min(ps-int64(len(w.buf)), int64(len(data)))
		w.buf = append(w.buf, data[:k]...)
		data = data[k:]
		w.size += k
		if int64(len(w.buf)) == ps {
			part := w.buf
			w.buf, w.bufStart = nil, w.bufStart+ps
			if err := w.shipPart(ctx, t, part); err != nil {
				// The part has left the buffer: whatever happens now,
				// the content is not whole and must never be uploaded.
				return w.fail(err)
			}
		}
	}
	return nil
}

// shipPart starts uploading part (which the writer no longer touches).
func (w *writer) shipPart(ctx context.Context, t target, part []byte) error {
	if w.mp == nil {
		id, err := w.store.CreateMultipartUpload(ctx, t.bucket, t.key, w.multipartPut(t))
		if err != nil {
			w.pool.put(part)
			return err
		}
		w.mp = newMultipart(w.store, w.log, t, id, w.opts.Parallel)
	}
	return w.mp.upload(part, w.pool)
}

// Truncate sets the size.
func (w *writer) Truncate(ctx context.Context, t target, size int64) error {
	if size == 0 && !w.detached {
		w.reset()
		w.state, w.size, w.dirty = stateStream, 0, true
		return nil
	}
	if size == w.size {
		return nil
	}
	if err := w.toStaged(ctx, t); err != nil {
		return err
	}
	if err := w.tmp.Truncate(size); err != nil {
		return fmt.Errorf("staging file: %w", err)
	}
	w.size, w.dirty = size, true
	return nil
}

// ReadAt serves a read of local content (w.local() must be true).
func (w *writer) ReadAt(ctx context.Context, t target, dest []byte, off int64) (int, error) {
	if w.broken != nil {
		return 0, w.broken
	}
	if off >= w.size {
		return 0, nil
	}
	if w.state == stateStream && off < w.bufStart {
		if err := w.toStaged(ctx, t); err != nil {
			return 0, err
		}
	}
	if w.state == stateStaged {
		n, err := w.tmp.ReadAt(dest[:min(int64(len(dest)), w.size-off)], off)
		if err == io.EOF {
			err = nil
		}
		return n, err
	}
	return copy(dest, w.buf[off-w.bufStart:]), nil
}

// toStaged moves the content into a temp file, downloading the object if
// it is not local. A started multipart upload is completed first.
func (w *writer) toStaged(ctx context.Context, t target) error {
	if w.state == stateStaged {
		return nil
	}
	if w.state == stateStream && w.mp != nil {
		if _, err := w.Flush(ctx, t); err != nil {
			return err
		}
	}
	tmp, err := os.CreateTemp(w.opts.TempDir, "bucketfs-stage-")
	if err != nil {
		return fmt.Errorf("staging file: %w", err)
	}
	os.Remove(tmp.Name()) // lives until closed
	switch w.state {
	case stateStream:
		_, err = tmp.Write(w.buf)
	case stateClean:
		err = w.download(ctx, t, tmp)
	}
	if err != nil {
		tmp.Close()
		return err
	}
	if w.buf != nil {
		w.pool.put(w.buf)
	}
	w.buf, w.bufStart = nil, 0
	w.tmp, w.state = tmp, stateStaged
	return nil
}

// download copies the object into tmp, one version of it (t.etag, or
// the first answer's), part by part.
func (w *writer) download(ctx context.Context, t target, tmp *os.File) error {
	buf := w.pool.get(w.opts.PartSize)[:w.opts.PartSize]
	defer w.pool.put(buf[:0])
	opts := s3client.GetOptions{IfMatch: t.etag}
	for off := int64(0); off < w.size; {
		want := min(int64(len(buf)), w.size-off)
		n, info, err := w.data.ReadObject(ctx, t.bucket, t.key, off, buf[:want], opts)
		if err != nil {
			return err
		}
		if opts.IfMatch == "" && info != nil {
			opts.IfMatch = info.ETag
		}
		if _, err := tmp.WriteAt(buf[:n], off); err != nil {
			return fmt.Errorf("staging file: %w", err)
		}
		off += int64(n)
		if int64(n) < want {
			return fmt.Errorf("s3 GetObject %q: the object ends at %d bytes, want %d: it changed", t.bucket+"/"+t.key, off, w.size)
		}
	}
	return nil
}

// fail marks the writer broken by err, once part of the content has
// left memory and cannot be uploaded again, aborting the multipart
// upload if one was started; it returns err. Until a truncation to 0
// replaces the whole content, every write, read and flush fails.
func (w *writer) fail(err error) error {
	if w.mp != nil {
		w.mp.abort()
		w.mp = nil
	}
	w.broken = err
	return err
}

// Flush uploads the content if it changed and returns the new object's
// ETag ("" if the server named none); afterwards the writer is clean.
func (w *writer) Flush(ctx context.Context, t target) (string, error) {
	if w.broken != nil {
		return "", w.broken
	}
	if !w.dirty {
		return t.etag, nil
	}
	var etag string
	var err error
	// The whole content is at hand after the upload unless parts of it
	// left memory as they went (a streamed multipart upload).
	var body io.ReaderAt
	size := w.size
	switch w.state {
	case stateStream:
		if w.mp == nil {
			body, size = bytes.NewReader(w.buf), int64(len(w.buf))
		}
		etag, err = w.flushStream(ctx, t)
	case stateStaged:
		body = w.tmp
		etag, err = w.flushStaged(ctx, t)
	}
	if err != nil {
		return "", err
	}
	if u, ok := w.data.(Uploaded); ok && body != nil && etag != "" {
		u.Uploaded(ctx, t.bucket, t.key, etag, body, size)
	}
	w.reset()
	return etag, nil
}

func (w *writer) flushStream(ctx context.Context, t target) (string, error) {
	if w.mp == nil {
		return w.store.PutObject(ctx, t.bucket, t.key, bytes.NewReader(w.buf), int64(len(w.buf)), t.put)
	}
	if len(w.buf) > 0 {
		part := w.buf
		w.buf = nil
		if err := w.mp.upload(part, w.pool); err != nil {
			return "", w.fail(err)
		}
	}
	etag, err := w.mp.complete(ctx)
	w.mp = nil // done, or complete aborted it
	if err != nil {
		w.broken = err
		return "", err
	}
	return etag, nil
}

func (w *writer) flushStaged(ctx context.Context, t target) (string, error) {
	if w.size <= w.opts.PartSize {
		return w.store.PutObject(ctx, t.bucket, t.key, w.tmp, w.size, t.put)
	}
	id, err := w.store.CreateMultipartUpload(ctx, t.bucket, t.key, w.multipartPut(t))
	if err != nil {
		return "", err
	}
	mp := newMultipart(w.store, w.log, t, id, w.opts.Parallel)
	for off, n := int64(0), 1; off < w.size; n++ {
		size := min(w.opts.partSize(n), w.size-off)
		if err := mp.uploadFrom(io.NewSectionReader(w.tmp, off, size), size, nil); err != nil {
			break // complete reports it and aborts
		}
		off += size
	}
	return mp.complete(ctx)
}

// reset drops local content: the writer is clean at its current size.
// A multipart upload still open is aborted.
func (w *writer) reset() {
	if w.mp != nil {
		w.mp.abort()
		w.mp = nil
	}
	if w.tmp != nil {
		w.tmp.Close()
		w.tmp = nil
	}
	if w.buf != nil {
		w.pool.put(w.buf)
	}
	w.buf, w.bufStart = nil, 0
	w.state, w.dirty, w.broken = stateClean, false, nil
}

// Close drops local content; unsaved changes are lost (the caller has
// reported the failed flush).
func (w *writer) Close() { w.reset() }
