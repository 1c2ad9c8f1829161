package blockcache

import "sync/atomic"

// Write-behind: a block fetched from the source is copied and queued,
// and the read goes on; writers goroutines write the queued blocks to
// disk. A local disk is not always faster than the object store (on
// loopback, or a disk busy with other work): writing in the read's path
// would slow every cold read down to the disk's pace. The queue holds at
// most Options.WriteBehind bytes; a block that finds it full is not
// cached (the next read of it fetches it again), unless the caller
// waits (write-through of an upload), which then writes it itself. A
// queued block is served from memory until it is on disk. Close drains
// the queue.

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

// behindStats count what the write-behind did.
type behindStats struct {
	queued, dropped atomic.Int64
}

// put stores block idx of id (a copy of data) by the write-behind,
// unless it is held, queued or being written already. With wait, a
// full queue makes put write the block itself rather than drop it.
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
	pb := &pendingBlock{id: id, idx: idx, name: name, data: append([]byte(nil), data...), objSize: objSize}
	select {
	case c.queue <- pb:
		c.pending[name] = pb
		c.pendingBytes += int64(len(data))
		c.stats.queued.Add(1)
	default:
		c.stats.dropped.Add(1) // more blocks queued than the channel holds: tiny ones
	}
	c.mu.Unlock()
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

// pendingData is the bytes of a queued block, or nil.
func (c *Cache) pendingData(name string) (data []byte, objSize int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pb := c.pending[name]; pb != nil {
		return pb.data, pb.objSize
	}
	return nil, 0
}

// Flush waits until every block queued so far is written.
func (c *Cache) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.pending) > 0 {
		c.drained.Wait()
	}
}
