package fs

import (
	"sync"
	"sync/atomic"
	"time"
)

// bufPool recycles buffers of one size (upload parts, read chunks), so
// a long upload or read reuses a few buffers instead of leaving one per
// part or GET to the garbage collector. The buffers it keeps are on a
// free list of its own, not in a sync.Pool: a sync.Pool is emptied at
// every collection, and the buffers made again meanwhile let the heap
// grow to twice what is live (GOGC=100) — 270 MiB of RSS for four
// readers whose read-ahead holds 140 MiB. The free list holds at most
// what the budget allows and gives back, every trimInterval, the
// buffers that were not needed during the last one (its low-water
// mark), so an idle mount does not keep its peak. Every buffer it hands
// out is charged to the mount's memory budget until it is put back.
type bufPool struct {
	size int64
	mem  *budget
	// aheadMax, if positive, bounds held for tryGet: the most bytes of
	// buffers handed out before what can wait is refused.
	aheadMax int64
	held     atomic.Int64 // bytes of the buffers handed out (metrics)

	mu       sync.Mutex // protects the fields below
	free     [][]byte   // buffers of size bytes, not in use
	lowWater int        // the fewest free buffers since the last trim
	trimming bool       // a trim is scheduled
}

// trimInterval is how often a bufPool gives back the buffers it did not
// need.
const trimInterval = 30 * time.Second

// get returns an empty buffer with room for size bytes, charged to the
// budget whatever the budget says (the caller cannot do without it).
func (b *bufPool) get(size int64) []byte {
	b.mem.charge(size)
	b.held.Add(size)
	if size == b.size {
		b.mu.Lock()
		if n := len(b.free); n > 0 {
			buf := b.free[n-1]
			b.free[n-1] = nil
			b.free = b.free[:n-1]
			b.lowWater = min(b.lowWater, len(b.free))
			b.mu.Unlock()
			return buf[:0]
		}
		b.lowWater = 0
		b.mu.Unlock()
	}
	return make([]byte, 0, size)
}

// tryGet is get for what can wait (a read ahead): nil if the budget has
// no room, or the pool has handed out aheadMax bytes.
func (b *bufPool) tryGet(size int64) []byte {
	if b.aheadMax > 0 && b.held.Load()+size > b.aheadMax {
		return nil
	}
	if !b.mem.tryCharge(size) {
		return nil
	}
	b.mem.release(size)
	return b.get(size)
}

// put gives back a buffer nobody uses any more.
func (b *bufPool) put(buf []byte) {
	b.mem.release(int64(cap(buf)))
	b.held.Add(-int64(cap(buf)))
	if int64(cap(buf)) != b.size {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mem != nil && int64(len(b.free)+1)*b.size > b.mem.max {
		return // more than the budget could ever hand out at once
	}
	b.free = append(b.free, buf[:0])
	if !b.trimming {
		b.trimming = true
		b.lowWater = len(b.free)
		time.AfterFunc(trimInterval, b.trim)
	}
}

// trim drops the free buffers that stayed unused since the last trim,
// and schedules the next while any are left.
func (b *bufPool) trim() {
	b.mu.Lock()
	defer b.mu.Unlock()
	drop := min(b.lowWater, len(b.free))
	for i := 0; i < drop; i++ {
		b.free[i] = nil
	}
	b.free = append(b.free[:0], b.free[drop:]...)
	b.lowWater = len(b.free)
	b.trimming = len(b.free) > 0
	if b.trimming {
		time.AfterFunc(trimInterval, b.trim)
	}
}

// budget is the memory of one mount's buffers (--max-memory): upload
// parts being filled and in flight, and read chunks. Reads ahead start
// only while there is room; an upload part waits for room before it is
// sent (back-pressure on the writer), unless no part is in flight at
// all, so that something always moves. A nil budget has no limit.
type budget struct {
	max int64

	mu       sync.Mutex // protects the fields below
	used     int64      // bytes of buffers handed out
	inFlight int        // upload parts being sent
	room     *sync.Cond // signalled when used or inFlight drops
}

func newBudget(max int64) *budget {
	b := &budget{max: max}
	b.room = sync.NewCond(&b.mu)
	return b
}

func (b *budget) charge(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.used += n
	b.mu.Unlock()
}

func (b *budget) tryCharge(n int64) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

func (b *budget) release(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	b.room.Broadcast()
}

// startFlight waits until an upload part may be sent: the budget is not
// exceeded, or nothing else is in flight.
func (b *budget) startFlight() {
	if b == nil {
		return
	}
	b.mu.Lock()
	for b.used > b.max && b.inFlight > 0 {
		b.room.Wait()
	}
	b.inFlight++
	b.mu.Unlock()
}

// endFlight records that an upload part was sent (or failed).
func (b *budget) endFlight() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.inFlight--
	b.mu.Unlock()
	b.room.Broadcast()
}

// flying is the number of upload parts being sent.
func (b *budget) flying() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inFlight
}

// inUse is the bytes charged now.
func (b *budget) inUse() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
