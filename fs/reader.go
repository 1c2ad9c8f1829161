package fs

// The read path.
//
// A reader serves the reads of one open file from one version of its
// object: the size and ETag the file had when it was opened. Every GET
// is a bounded range, pinned to that ETag with If-Match once it is known
// (from the open, or from the first answer), and checked by the client
// against the length it asked for: a body that ends early or breaks is
// retried there, then fails the read with EIO; it is never taken for the
// end of the file. An object changed by another client in the middle of
// a read (412 Precondition Failed) fails this and every later read of the
// handle with EIO, is logged with the old and new ETag, and is seen anew
// by the next open. An object that really shrank ends where its answers
// say (logged), never where a body happened to stop.
//
// Sequential reads (the kernel may send them slightly out of order) get
// a window of parallel ranged GETs of ChunkSize ahead of them that grows
// from 2 to MaxAhead chunks; at most MaxAhead+2 chunks are held, fewer
// while the readers of the mount together hold MaxAheadMemory. Chunks
// are large (8 MiB) because every GET costs the server a lookup and a
// partly read erasure block: on MinIO, 2 MiB ranges take twice the
// server CPU per byte of 8 MiB ones and half the throughput. A read
// far from the last one is random and fetches only the Block-aligned
// blocks it touches. GETs run apart from the FUSE request that started
// them: an interrupted read returns EINTR at once, and its chunk serves
// the retry.
//
// Every byte comes from r.data (FS.data): the store, or the data cache
// in front of it (Options.Cache), which the reader does not know of; the
// If-Match pin is also what the cache keys blocks by.
//
// Whole-object check (ReadOptions.Verify; etagSum): while chunks are
// fetched in order from offset 0, each is hashed (MD5) in order off the
// read path; when the last byte is reached the sum is compared with the
// ETag, which is the MD5 of the content for an object stored in one PUT,
// and the MD5 of its parts' MD5s for a multipart upload whose part size
// bucketfs recorded in x-amz-meta-bucketfs-part-size (its own uploads).
// A mismatch fails the read of the last chunk with EIO and is logged
// with the bucket, key and both sums. Encrypted objects and other
// clients' multipart uploads are not checked; a reader that skips or
// goes back stops checking.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/bucketfs/bucketfs/s3client"
)

// ReadOptions shape reads of objects.
type ReadOptions struct {
	// ChunkSize is the size of one read-ahead GET (default DefaultChunkSize).
	ChunkSize int64
	// MaxAhead is the most chunks fetched ahead of a sequential reader
	// (default DefaultMaxAhead). Memory per reader is at most
	// (MaxAhead+2)*ChunkSize, and replies being sent.
	MaxAhead int
	// MaxAheadMemory is the most bytes of chunks all the readers of the
	// mount hold together before a read ahead is left out (default
	// DefaultMaxAheadMemory): with many files read at once, each window
	// shrinks (down to the chunks being read) instead of the mount's
	// memory growing with every reader.
	MaxAheadMemory int64
	// Block rounds random reads: each fetches only the blocks it touches
	// (default 128 KiB).
	Block int64
	// Verify turns on the whole-object MD5 check of in-order reads. It is
	// off by default: MD5 runs at about 600 MB/s on one core, slower than
	// a loopback or 10 Gbit/s server, so it halves the throughput of a
	// cold read there (measured: 1 GiB in 2.4 s with it, 1.1 s without,
	// bucketfs using 2.4 s of CPU instead of 0.7 s; docs/benchmark.md).
	Verify bool
	// DirectMin: a read-only open of an object of at least this many
	// bytes bypasses the kernel's page cache (FOPEN_DIRECT_IO). Its reads
	// are then copied once, from the read-ahead chunks straight into the
	// reader's buffer, instead of into the page cache and from there to
	// the reader: on a machine whose memory bandwidth the copies use up
	// (several large files read at once), that doubles the throughput and
	// halves bucketfs's CPU (docs/benchmark.md). The price: a later read
	// of the same bytes, after a close or within the same open once its
	// chunks are gone, is a GET again rather than a page-cache hit; mmap
	// still works (FUSE's direct-io mmap, Linux 6.6 and later for shared
	// mappings). Zero keeps every file in the page cache; the command's
	// default is DefaultDirectMin.
	DirectMin int64
}

// Defaults of ReadOptions.
const (
	DefaultChunkSize = 8 << 20
	DefaultMaxAhead  = 4
	DefaultDirectMin = 32 << 20
	// DefaultMaxAheadMemory lets about three readers have whole windows
	// (MaxAhead+2 chunks of 8 MiB each).
	DefaultMaxAheadMemory = 128 << 20
)

func (o *ReadOptions) setDefaults() {
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.MaxAhead <= 0 {
		o.MaxAhead = DefaultMaxAhead
	}
	if o.MaxAheadMemory <= 0 {
		o.MaxAheadMemory = DefaultMaxAheadMemory
	}
	if o.Block <= 0 {
		o.Block = 128 << 10
	}
}

// version is the object an open file reads: its size and ETag then.
type version struct {
	size int64
	etag string
}

// chunk is one ranged GET of a read-ahead window. Its buffer comes from
// the mount's chunk pool and goes back once nobody holds it: the
// reader's map, the goroutine that fills and hashes it, and each read
// whose reply points into it until go-fuse has sent that reply.
type chunk struct {
	done chan struct{} // closed when data or err is set
	data []byte
	info *s3client.ObjectInfo
	err  error
	refs atomic.Int32 // holders of data
	pool *bufPool

	// The in-order check (nil hashed: the chunk is not part of it).
	prev   *chunk        // the chunk before, in the check
	hashed chan struct{} // closed once this chunk has been hashed
	sumErr error         // set by the last chunk's hashing: a mismatch
}

// reader serves reads of one version of one object for one open file.
type reader struct {
	store   Store  // for the HEAD that names a changed object's new ETag
	data    Source // the bytes
	l       loc
	opts    ReadOptions
	log     *logrus.Entry
	changed func() // called once when the object changed under the reader
	pool    *bufPool

	failOnce sync.Once // fail's first call

	mu     sync.Mutex // protects the fields below
	v      version    // v.size shrinks if answers show the object did
	failed error      // set when the object changed: every read fails
	// The last GET that failed (for another reason), and when: within
	// failMemory of it, fetches fail at once and nothing is read ahead.
	lastErr   error
	lastErrAt time.Time
	chunks map[int64]*chunk
	next   int64 // where the last read ended
	ahead  int   // chunks fetched ahead; 0 while reads are random
	// The in-order check: chain is its last chunk, chainNext the index
	// the next one must have; checking is off when chain is nil and
	// chainNext > 0.
	chain     *chunk
	chainNext int64

	// Hashing state, touched only by the chunks' goroutines one after
	// the other (each waits for the previous chunk's hashed).
	sum    *etagSum
	summed int64 // bytes hashed so far; -1 once the check is given up
}

func newReader(store Store, data Source, pool *bufPool, l loc, v version, opts ReadOptions, log *logrus.Entry, changed func()) *reader {
	opts.setDefaults()
	r := &reader{store: store, data: data, pool: pool, l: l, v: v, opts: opts, log: log, changed: changed, chunks: map[int64]*chunk{}}
	if !opts.Verify {
		r.chainNext = 1 // off from the start
	}
	return r
}

// Read returns the bytes at off, up to len(dest); fewer only at the end
// of the object. They are in dest, or, when one chunk holds them all, a
// slice of that chunk, which spares a copy: then done must be called once
// the bytes have been sent (it gives the chunk back), else done is nil.
// An interrupt of ctx returns ctx's error; the GETs go on.
func (r *reader) Read(ctx context.Context, dest []byte, off int64) (data []byte, done func(), err error) {
	r.mu.Lock()
	if r.failed != nil {
		r.mu.Unlock()
		return nil, nil, r.failed
	}
	size := r.v.size
	if off >= size {
		r.mu.Unlock()
		return nil, nil, nil
	}
	dest = dest[:min(int64(len(dest)), size-off)]
	cs := r.opts.ChunkSize
	// A read that starts where the last one ended begins a sequential
	// run; during one, anything within the window either way belongs to
	// it (the kernel reorders the reads of a window). So does a first
	// read in the first chunk: the kernel's first read-ahead window goes
	// out as several reads at once, and the one at 0 need not come first.
	slack := r.opts.Block
	if r.ahead > 0 {
		slack = int64(r.ahead) * cs
	}
	sequential := off >= r.next-slack && off <= r.next+slack || r.next == 0 && off < cs
	r.next = max(r.next, off+int64(len(dest)))
	if !sequential {
		r.next = off + int64(len(dest))
		r.ahead = 0
		r.dropLocked(-1)
		r.chain, r.chainNext = nil, max(r.chainNext, 1) // not in order any more
		r.mu.Unlock()
		n, err := r.readBlocks(dest, off)
		return dest[:n], nil, err
	}
	r.ahead = min(max(r.ahead*2, 2), r.opts.MaxAhead)
	first, last := off/cs, (off+int64(len(dest))-1)/cs
	var need []*chunk
	for i := first; i <= last+int64(r.ahead); i++ {
		if i*cs >= size {
			break
		}
		c := r.startLocked(i, i > last)
		if c == nil {
			break // no room in the memory budget to read further ahead
		}
		if i <= last {
			c.hold() // ours until the bytes are copied or sent
			need = append(need, c)
		}
	}
	// The kernel sends reads of one window (its read-ahead, smaller than
	// a chunk) in parallel and in any order: keep the chunk before this
	// read, drop those before it. Chunks read past hold memory the
	// readers of other files may need for their reads ahead
	// (MaxAheadMemory).
	for i := range r.chunks {
		if i < first-1 {
			r.forgetLocked(i)
		}
	}
	r.mu.Unlock()
	releaseAll := func(from int) {
		for _, c := range need[from:] {
			c.release()
		}
	}

	n := 0
	for i, c := range need {
		if err := wait(ctx, c.done); err != nil {
			releaseAll(i)
			return nil, nil, err
		}
		if c.err != nil {
			r.mu.Lock()
			if r.chunks[first+int64(i)] == c {
				r.forgetLocked(first + int64(i)) // fetch again next time
			}
			r.mu.Unlock()
			err := c.err
			releaseAll(i)
			return nil, nil, err
		}
		start := (first + int64(i)) * cs
		lo := max(off, start) - start
		if lo >= int64(len(c.data)) {
			releaseAll(i)
			break // the object ends here (fetch logged that it shrank)
		}
		if c.hashed != nil && start+int64(len(c.data)) >= r.size() {
			// The last byte: the whole-object check has its say.
			if err := wait(ctx, c.hashed); err != nil {
				releaseAll(i)
				return nil, nil, err
			}
			if c.sumErr != nil {
				err := c.sumErr
				releaseAll(i)
				return nil, nil, err
			}
		}
		if len(need) == 1 {
			return c.data[lo:min(lo+int64(len(dest)), int64(len(c.data)))], c.release, nil
		}
		n += copy(dest[n:], c.data[lo:])
		c.release()
	}
	return dest[:n], nil, nil
}

// hold takes a reference to c's buffer; the chunk must be held already
// (by the map, under r.mu).
func (c *chunk) hold() { c.refs.Add(1) }

// release gives back a reference; the last one returns the buffer.
func (c *chunk) release() {
	if c.refs.Add(-1) == 0 && c.data != nil {
		c.pool.put(c.data)
		c.data = nil
	}
}

// wait waits for ch to close or ctx to end.
func wait(ctx context.Context, ch chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// size is the object's size as known now.
func (r *reader) size() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.v.size
}

// startLocked returns chunk i, starting its GET if needed; a chunk only
// read ahead is not started (nil) if the memory budget has no room for
// it, or if a GET has just failed. r.mu must be held.
func (r *reader) startLocked(i int64, ahead bool) *chunk {
	if c, ok := r.chunks[i]; ok {
		return c
	}
	if ahead && r.recentErrLocked() != nil {
		return nil
	}
	start := i * r.opts.ChunkSize
	length := min(r.opts.ChunkSize, r.v.size-start)
	var buf []byte
	if ahead {
		if buf = r.pool.tryGet(length); buf == nil {
			return nil
		}
	} else {
		buf = r.pool.get(length)
	}
	c := &chunk{done: make(chan struct{}), pool: r.pool}
	c.refs.Store(2) // the map's and the goroutine's
	r.chunks[i] = c
	switch {
	case i == r.chainNext && (r.chain != nil || i == 0):
		c.prev, c.hashed = r.chain, make(chan struct{})
		r.chain, r.chainNext = c, i+1
	case i > r.chainNext:
		r.chain = nil // a gap: the check is off
	}
	go func() {
		defer c.release()
		c.data, c.info, c.err = r.fetch(start, buf[:length])
		close(c.done)
		if c.hashed != nil {
			if c.prev != nil {
				<-c.prev.hashed
			}
			c.prev = nil // let the chain be collected
			r.hash(c, start)
			close(c.hashed)
		}
	}()
	return c
}

// forgetLocked drops chunk i from the map. r.mu must be held.
func (r *reader) forgetLocked(i int64) {
	if c, ok := r.chunks[i]; ok {
		delete(r.chunks, i)
		c.release()
	}
}

// dropLocked forgets chunks before index keep (all if keep < 0).
// r.mu must be held.
func (r *reader) dropLocked(keep int64) {
	for i := range r.chunks {
		if keep < 0 || i < keep {
			r.forgetLocked(i)
		}
	}
}

// readBlocks serves a random read with one GET of the blocks it touches.
func (r *reader) readBlocks(dest []byte, off int64) (int, error) {
	b := r.opts.Block
	start := off / b * b
	end := min((off+int64(len(dest))+b-1)/b*b, r.size())
	data, _, err := r.fetch(start, make([]byte, end-start))
	if err != nil {
		return 0, err
	}
	if off-start >= int64(len(data)) {
		return 0, nil // the object ends here
	}
	return copy(dest, data[off-start:]), nil
}

// fetch reads length bytes at start of the reader's version. It does not
// depend on any FUSE request: reads ahead outlive the one that started
// them, and the client bounds every request's time itself.
func (r *reader) fetch(start int64, data []byte) ([]byte, *s3client.ObjectInfo, error) {
	length := int64(len(data))
	r.mu.Lock()
	etag, failed, recent := r.v.etag, r.failed, r.recentErrLocked()
	r.mu.Unlock()
	if failed != nil {
		return data[:0], nil, failed
	}
	if recent != nil {
		return data[:0], nil, recent
	}
	n, info, err := r.data.ReadObject(context.Background(), r.l.bucket, r.l.key, start, data, s3client.GetOptions{IfMatch: etag})
	if errors.Is(err, s3client.ErrPreconditionFailed) {
		return data[:0], nil, r.fail(etag)
	}
	if err != nil {
		r.mu.Lock()
		r.lastErr, r.lastErrAt = err, time.Now()
		r.mu.Unlock()
		return data[:0], nil, err
	}
	r.mu.Lock()
	if info != nil && info.ETag != "" {
		if r.v.etag == "" {
			r.v.etag = info.ETag // the first answer names the version
		} else if !sameETag(r.v.etag, info.ETag) {
			pinned := r.v.etag
			r.mu.Unlock()
			return data[:0], nil, r.fail(pinned)
		}
	}
	defer r.mu.Unlock()
	if int64(n) < length {
		end := start + int64(n)
		if info != nil && info.Size >= 0 {
			end = info.Size
		}
		if end < r.v.size {
			r.log.WithField("key", r.l.key).Warnf("object shrank from %d to %d bytes while open; reading to its new end", r.v.size, end)
			r.v.size = end
		}
	}
	return data[:n], info, nil
}

// failMemory is how long after a failed GET the reader's fetches fail at
// once with its error. The client has retried that GET for up to
// --request-timeout already, and the kernel asks again at once for a read
// whose read-ahead failed: without this, each ask waited out the retries
// again (a cat with the server away took 154 s to fail, not 60).
var failMemory = 5 * time.Second

// recentErrLocked is the last failed GET's error if it is recent enough
// to be the answer, else nil. r.mu must be held.
func (r *reader) recentErrLocked() error {
	if r.lastErr != nil && time.Since(r.lastErrAt) < failMemory {
		return r.lastErr
	}
	return nil
}

// fail records that the object is no longer the version pinned with
// etag and returns the error every read now gets. The first call logs
// it and tells the file (the next open asks S3 afresh) before any read
// can see the error; concurrent calls wait for it.
func (r *reader) fail(etag string) error {
	r.failOnce.Do(func() {
		now := "unknown"
		if info, err := r.store.HeadObject(context.Background(), r.l.bucket, r.l.key); err == nil {
			now = info.ETag
		} else if errors.Is(err, s3client.ErrNotFound) {
			now = "none (deleted)"
		}
		r.log.WithFields(logrus.Fields{"key": r.l.key, "etag_open": etag, "etag_now": now}).
			Error("object changed while open: failing its reads (EIO); the next open reads the new version")
		if r.changed != nil {
			r.changed()
		}
		r.mu.Lock()
		r.failed = fmt.Errorf("%s changed while open (ETag was %s, now %s)", r.l, etag, now)
		r.mu.Unlock()
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// hash adds chunk c (at start) to the whole-object check, and at the end
// of the object compares the sum with the ETag. Only chunks' goroutines
// call it, one after the other, in the order of the object.
func (r *reader) hash(c *chunk, start int64) {
	if r.summed < 0 {
		return
	}
	if c.err != nil || start != r.summed {
		r.summed = -1 // a chunk failed: no check this time
		return
	}
	r.mu.Lock()
	size := r.v.size
	r.mu.Unlock()
	if start == 0 {
		if r.sum = newETagSum(c.info, size); r.sum == nil {
			r.summed = -1
			return
		}
	}
	r.sum.Write(c.data)
	r.summed += int64(len(c.data))
	if r.summed < size {
		return
	}
	if got, ok := r.sum.check(); !ok {
		c.sumErr = fmt.Errorf("%s: content does not match its ETag (computed %s, ETag %s)", r.l, got, r.sum.want)
		r.log.WithFields(logrus.Fields{"key": r.l.key, "computed": got, "etag": r.sum.want}).
			Error("corrupt object: the bytes read do not match the ETag; failing the read (EIO)")
	}
}

// Close drops the chunks; GETs in flight finish on their own.
func (r *reader) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropLocked(-1)
}
