package fs

import "sync"

// bufPool recycles buffers of one size (upload parts, read chunks), so
// a long upload or read reuses a few buffers instead of leaving one per
// part or GET to the garbage collector, which lets the heap grow to
// twice what is live.
type bufPool struct {
	size int64
	p    sync.Pool
}

// get returns an empty buffer with room for size bytes.
func (b *bufPool) get(size int64) []byte {
	if size == b.size {
		if v, ok := b.p.Get().(*[]byte); ok {
			return (*v)[:0]
		}
	}
	return make([]byte, 0, size)
}

// put gives back a buffer nobody uses any more.
func (b *bufPool) put(buf []byte) {
	if int64(cap(buf)) == b.size {
		b.p.Put(&buf)
	}
}
