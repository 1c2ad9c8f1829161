package fs

import (
	"context"
	"io"
	"sync"
	"time"
)

// ReadOptions shape reads of objects.
type ReadOptions struct {
	// ChunkSize is the size of one read-ahead GET (default 2 MiB).
	ChunkSize int64
	// MaxAhead is the most chunks fetched ahead of a sequential reader
	// (default 8). Memory per reader is at most (MaxAhead+4)*ChunkSize.
	MaxAhead int
	// Block rounds random reads: each fetches only the blocks it touches
	// (default 128 KiB).
	Block int64
}

func (o *ReadOptions) setDefaults() {
	if o.ChunkSize <= 0 {
		o.ChunkSize = 2 << 20
	}
	if o.MaxAhead <= 0 {
		o.MaxAhead = 8
	}
	if o.Block <= 0 {
		o.Block = 128 << 10
	}
}

// chunk is one ranged GET of a read-ahead window.
type chunk struct {
	done chan struct{} // closed when data or err is set
	data []byte
	err  error
}

// reader serves reads of one object for one open file. Sequential
// reads (the kernel may send them slightly out of order) get a window of
// parallel ranged GETs ahead of them that grows from 2 to MaxAhead
// chunks (at most MaxAhead+4 are held); a read far from the last one is random and fetches only the
// blocks it touches. Every GET has a bounded length, so connections are
// reused and no open-ended stream is abandoned.
type reader struct {
	store Store
	l     loc
	size  int64
	opts  ReadOptions

	mu     sync.Mutex // protects the fields below
	chunks map[int64]*chunk
	next   int64 // where the last read ended
	ahead  int   // chunks fetched ahead; 0 while reads are random
}

func newReader(store Store, l loc, size int64, opts ReadOptions) *reader {
	opts.setDefaults()
	return &reader{store: store, l: l, size: size, opts: opts, chunks: map[int64]*chunk{}}
}

// ReadAt fills dest from off; short only at the end of the object.
func (r *reader) ReadAt(dest []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, nil
	}
	dest = dest[:min(int64(len(dest)), r.size-off)]
	cs := r.opts.ChunkSize
	r.mu.Lock()
	// A read that starts where the last one ended begins a sequential
	// run; during one, anything within the window either way belongs to
	// it (the kernel reorders the reads of a window).
	slack := r.opts.Block
	if r.ahead > 0 {
		slack = int64(r.ahead) * cs
	}
	sequential := off >= r.next-slack && off <= r.next+slack
	r.next = off + int64(len(dest))
	if !sequential {
		r.ahead = 0
		r.dropLocked(-1)
		r.mu.Unlock()
		return r.readBlocks(dest, off)
	}
	r.ahead = min(max(r.ahead*2, 2), r.opts.MaxAhead)
	first, last := off/cs, (off+int64(len(dest))-1)/cs
	var need []*chunk
	for i := first; i <= last+int64(r.ahead); i++ {
		if i*cs >= r.size {
			break
		}
		c := r.startLocked(i)
		if i <= last {
			need = append(need, c)
		}
	}
	// The kernel sends reads of one window in parallel and in any order:
	// keep chunks until there are too many, then drop the lowest.
	for len(r.chunks) > r.opts.MaxAhead+4 {
		lowest := int64(-1)
		for i := range r.chunks {
			if i < first && (lowest < 0 || i < lowest) {
				lowest = i
			}
		}
		if lowest < 0 {
			break
		}
		delete(r.chunks, lowest)
	}
	r.mu.Unlock()

	n := 0
	for i, c := range need {
		<-c.done
		if c.err != nil {
			r.mu.Lock()
			if r.chunks[first+int64(i)] == c {
				delete(r.chunks, first+int64(i)) // fetch again next time
			}
			r.mu.Unlock()
			return n, c.err
		}
		start := (first + int64(i)) * cs
		lo := max(off, start) - start
		if lo >= int64(len(c.data)) {
			break // the object shrank since we learnt its size
		}
		n += copy(dest[n:], c.data[lo:])
	}
	return n, nil
}

// startLocked returns chunk i, starting its GET if needed. r.mu must be held.
func (r *reader) startLocked(i int64) *chunk {
	if c, ok := r.chunks[i]; ok {
		return c
	}
	c := &chunk{done: make(chan struct{})}
	r.chunks[i] = c
	start := i * r.opts.ChunkSize
	length := min(r.opts.ChunkSize, r.size-start)
	go func() {
		defer close(c.done)
		c.data, c.err = r.fetch(start, length)
	}()
	return c
}

// dropLocked forgets chunks before index keep (all if keep < 0).
// r.mu must be held.
func (r *reader) dropLocked(keep int64) {
	for i := range r.chunks {
		if keep < 0 || i < keep {
			delete(r.chunks, i)
		}
	}
}

// readBlocks serves a random read with one GET of the blocks it touches.
func (r *reader) readBlocks(dest []byte, off int64) (int, error) {
	b := r.opts.Block
	start := off / b * b
	end := min((off+int64(len(dest))+b-1)/b*b, r.size)
	data, err := r.fetch(start, end-start)
	if err != nil {
		return 0, err
	}
	if off-start >= int64(len(data)) {
		return 0, nil // the object shrank since we learnt its size
	}
	return copy(dest, data[off-start:]), nil
}

// fetch reads length bytes at start with one ranged GET. It does not
// depend on any FUSE request: reads ahead outlive the one that started
// them.
func (r *reader) fetch(start, length int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	body, _, err := r.store.GetObject(ctx, r.l.bucket, r.l.key, start, length)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data := make([]byte, length)
	n, err := io.ReadFull(body, data)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		// The object shrank since we learnt its size.
		return data[:n], nil
	}
	return data, err
}

// Close drops the chunks; GETs in flight finish on their own.
func (r *reader) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropLocked(-1)
}
