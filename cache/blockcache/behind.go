package blockcache

import "sync/atomic"

// Write-behind: a block fetched from the source is copied and queued,
// and the read goes on; writers goroutines write the queued blocks to
// disk. A local disk is not always faster than the object store (on
// loopback, or a disk busy with other work): writing in the read's path
// would slow every cold read down to the disk's pace. The queue holds at
// most Options.WriteBehind bytes; the caller of a block that finds it
// full writes that block itself: back-pressure, so a block read once is
// cached (within the limit) however fast the store, and a cold read
// runs at the pace of the slower of the store and the disk once the
// queue is full. A queued block is served from memory until it is on
// disk. Close drains the queue.

// writers is the number of goroutines writing queued blocks.
const writers = 2

// pendingBlock is a block queued to be written.
type pendingBlock struct {
	id      objectID
	idx     int64
	name    string
	data    []byte // a copy of its own, never changed
	objSize int64
}

// behindStats count what the write-behind did: blocks queued, and
// dropped for a full queue (only puts that do not wait drop).
type behindStats struct {
	queued, dropped atomic.Int64
}

// put stores block idx of id (a copy of data) by the write-behind,
// unless it is held, queued or being written already. A full queue
// makes put write the block itself (wait), or drop it (!wait: for tests
// of what the queue does).
func (c *Cache) put(id objectID, idx int64, data []byte, objSize int64, wait bool) {
	name := blockName(id, idx)
	c.mu.Lock()
	if c.closed || c.entries[name] != nil || c.writing[name] || c.pending[name] != nil {
		c.mu.Unlock()
		return
	}
	if c.pendingBytes+int64(len(data)) > c.maxPending {
		c.mu.Unlock()
		if wait {
			c.write(&pendingBlock{id: id, idx: idx, name: name, data: data, objSize: objSize})
			return
		}
		c.stats.dropped.Add(1)
		return
	}
	buf := c.getBuf(len(data))
	pb := &pendingBlock{id: id, idx: idx, name: name, data: buf[:copy(buf[:len(data)], data)], objSize: objSize}
	select {
	case c.queue <- pb:
		c.pending[name] = pb
		c.pendingBytes += int64(len(data))
		c.stats.queued.Add(1)
	default: // more blocks queued than the channel holds: tiny ones
		c.mu.Unlock()
		c.putBuf(buf)
		if wait {
			c.write(&pendingBlock{id: id, idx: idx, name: name, data: data, objSize: objSize})
		} else {
			c.stats.dropped.Add(1)
		}
		return
	}
	c.mu.Unlock()
}

// getBuf returns a buffer for a queued block of n bytes: a whole block's
// from the free list (buffers are kept, not given back to the garbage
// collector: fresh memory costs page faults), a small one made anew.
func (c *Cache) getBuf(n int) []byte {
	if int64(n) < c.blockSize/4 {
		return make([]byte, n)
	}
	select {
	case b := <-c.free:
		return b
	default:
		return make([]byte, c.blockSize)
	}
}

// putBuf keeps a whole block's buffer for the next queued block.
func (c *Cache) putBuf(b []byte) {
	if int64(cap(b)) != c.blockSize {
		return
	}
	select {
	case c.free <- b[:cap(b)]:
	default:
	}
}

// writeBehind writes queued blocks until the queue is closed.
func (c *Cache) writeBehind() {
	defer c.writersDone.Done()
	for pb := range c.queue {
		c.write(pb)
		c.mu.Lock()
		delete(c.pending, pb.name)
		c.pendingBytes -= int64(len(pb.data))
		if len(c.pending) == 0 {
			c.drained.Broadcast()
		}
		c.mu.Unlock()
		c.putBuf(pb.data) // no reader holds it: they copy under c.mu
	}
}

// write writes a block file: its space first, then the file.
func (c *Cache) write(pb *pendingBlock) {
	size := cost(int64(len(pb.data)))
	if !c.reserve(pb.name, size) {
		return
	}
	err := c.writeFile(pb.name, header(pb.id, pb.idx, pb.data, pb.objSize), pb.data)
	c.finish(pb.name, size, err)
	if err != nil {
		c.diskFailed("write", err)
	}
}

// pendingRead copies a queued block into dst: its length and the
// object's size; ok is false if it is not queued. The copy is made
// under c.mu, as the buffer goes back to the free list once written.
func (c *Cache) pendingRead(name string, dst []byte) (n int, objSize int64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pb := c.pending[name]; pb != nil {
		return copy(dst, pb.data), pb.objSize, true
	}
	return 0, 0, false
}

// Flush waits until every block queued so far is written.
func (c *Cache) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.pending) > 0 {
		c.drained.Wait()
	}
}
