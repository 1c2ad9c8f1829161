package blockcache

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

// Cache is a directory of blocks with an LRU and a bound on its size.
// It is safe for concurrent use.
type Cache struct {
	dir, blocks string
	namespace   string // Options.Namespace
	blockSize   int64
	log         *logrus.Entry
	lock        *os.File    // flocked while open
	warned      atomic.Bool // the disk's first failure was logged
	scratch     sync.Pool   // *[]byte of blockSize, for reads that are not block-aligned

	queue       chan *pendingBlock // the write-behind's (behind.go)
	free        chan []byte        // whole-block buffers for the queue
	maxPending  int64              // most bytes queued
	writersDone sync.WaitGroup
	stats       behindStats
	// waitWhenFull: a read that finds the queue full writes its block
	// itself (true but in tests of dropping).
	waitWhenFull bool

	mu      sync.Mutex // protects the fields below
	limit   int64      // most bytes used on disk
	used    int64      // bytes of the blocks held and being written, and fixedCost
	lru     lruList    // held blocks, most recently used first
	entries map[string]*entry
	writing map[string]bool // blocks being written, by name
	// The write-behind's queue: blocks not yet written, by name, and
	// their bytes; drained is signalled when it empties.
	pending      map[string]*pendingBlock
	pendingBytes int64
	drained      *sync.Cond
	closed       bool // Close has begun: nothing more is queued
}

// entry is one block file held.
type entry struct {
	name    string
	cost    int64     // its bytes on disk, as counted
	touched time.Time // its mtime as last set
	elem    *list.Element
}

// lruList is a list of *entry.
type lruList struct{ l *list.List }

func (l *lruList) init()                { l.l = list.New() }
func (l *lruList) pushFront(e *entry)   { e.elem = l.l.PushFront(e) }
func (l *lruList) moveToFront(e *entry) { l.l.MoveToFront(e.elem) }
func (l *lruList) remove(e *entry)      { l.l.Remove(e.elem) }
func (l *lruList) len() int             { return l.l.Len() }
func (l *lruList) back() *entry {
	if b := l.l.Back(); b != nil {
		return b.Value.(*entry)
	}
	return nil
}

// Space accounting: a block file counts its size rounded up to 4 KiB
// (the allocation unit of ext4, xfs and tmpfs) and an allowance for its
// directory entry; the cache directory, the blocks directory, VERSION
// and lock count 4 KiB each.
const (
	allocUnit     = 4096
	dirEntryCost  = 256
	fixedCost     = 4 * allocUnit
	touchInterval = time.Minute
)

// cost is what a block of n bytes counts on disk.
func cost(n int64) int64 {
	return (headerSize+n+allocUnit-1)/allocUnit*allocUnit + dirEntryCost
}

// A block file is a header, then the block's bytes:
//
//	0:4   magic "BFCB"
//	4:8   layout version, big-endian
//	8:12  CRC-32C of bytes 12:64 of the header and of the block's bytes
//	12:16 the block's length
//	16:24 the object's size (-1: unknown)
//	24:32 the block's index in the object
//	32:64 the object's id (SHA-256 of bucket, key and ETag)
const headerSize = 64

var (
	magic    = [4]byte{'B', 'F', 'C', 'B'}
	castagno = crc32.MakeTable(crc32.Castagnoli)
)

// objectID names one version of one object.
type objectID [32]byte

// newObjectID is the id of bucket/key at etag (without quotes) in
// namespace (Options.Namespace).
func newObjectID(namespace, bucket, key, etag string) objectID {
	h := sha256.New()
	fmt.Fprintf(h, "%d:%s\x00%d:%s\x00%d:%s\x00%s", len(namespace), namespace, len(bucket), bucket, len(key), key, etag)
	var id objectID
	h.Sum(id[:0])
	return id
}

// blockName is the file name of block idx of id.
func blockName(id objectID, idx int64) string {
	return fmt.Sprintf("%s-%016x", hex.EncodeToString(id[:16]), uint64(idx))
}

func header(id objectID, idx int64, data []byte, objSize int64) []byte {
	h := make([]byte, headerSize)
	copy(h[0:4], magic[:])
	binary.BigEndian.PutUint32(h[4:8], layoutVersion)
	binary.BigEndian.PutUint32(h[12:16], uint32(len(data)))
	binary.BigEndian.PutUint64(h[16:24], uint64(objSize))
	binary.BigEndian.PutUint64(h[24:32], uint64(idx))
	copy(h[32:64], id[:])
	binary.BigEndian.PutUint32(h[8:12], checksum(h, data))
	return h
}

func checksum(h, data []byte) uint32 {
	return crc32.Update(crc32.Checksum(h[12:headerSize], castagno), castagno, data)
}

// errCorrupt marks a block file that does not hold what its name says.
var errCorrupt = errors.New("corrupt block file")

// get reads block idx of id into dst (of at least blockSize bytes): its
// length and the object's size (-1 if unknown). ok is false on a miss;
// a corrupt block is dropped and is a miss.
func (c *Cache) get(id objectID, idx int64, dst []byte) (n int, objSize int64, ok bool) {
	name := blockName(id, idx)
	if n, size, ok := c.pendingRead(name, dst); ok {
		return n, size, true
	}
	c.mu.Lock()
	e := c.entries[name]
	if e == nil {
		c.mu.Unlock()
		return 0, 0, false
	}
	c.lru.moveToFront(e)
	now := time.Now()
	touch := now.Sub(e.touched) > touchInterval
	if touch {
		e.touched = now
	}
	c.mu.Unlock()

	path := filepath.Join(c.blocks, name)
	n, objSize, err := c.readFile(path, id, idx, dst)
	if err != nil {
		if errors.Is(err, errCorrupt) {
			c.log.WithFields(logrus.Fields{"file": path}).Warnf("data cache: dropping a block: %v", err)
		} else if !errors.Is(err, os.ErrNotExist) {
			c.diskFailed("read", err)
		}
		c.drop(e)
		return 0, 0, false
	}
	if touch {
		os.Chtimes(path, now, now) // the LRU order of the next mount
	}
	return n, objSize, true
}

// readFile reads and checks a block file.
func (c *Cache) readFile(path string, id objectID, idx int64, dst []byte) (int, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	h := make([]byte, headerSize)
	if _, err := io.ReadFull(f, h); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, 0, fmt.Errorf("%w: short header", errCorrupt)
		}
		return 0, 0, err
	}
	n := int64(binary.BigEndian.Uint32(h[12:16]))
	switch {
	case [4]byte(h[0:4]) != magic || binary.BigEndian.Uint32(h[4:8]) != layoutVersion:
		return 0, 0, fmt.Errorf("%w: bad magic or version", errCorrupt)
	case n > c.blockSize || n > int64(len(dst)):
		return 0, 0, fmt.Errorf("%w: length %d", errCorrupt, n)
	case int64(binary.BigEndian.Uint64(h[24:32])) != idx || [32]byte(h[32:64]) != id:
		return 0, 0, fmt.Errorf("%w: another block's header", errCorrupt)
	}
	if _, err := io.ReadFull(f, dst[:n]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, 0, fmt.Errorf("%w: short block", errCorrupt)
		}
		return 0, 0, err
	}
	if sum := checksum(h, dst[:n]); sum != binary.BigEndian.Uint32(h[8:12]) {
		return 0, 0, fmt.Errorf("%w: checksum %08x, want %08x", errCorrupt, sum, binary.BigEndian.Uint32(h[8:12]))
	}
	return int(n), int64(binary.BigEndian.Uint64(h[16:24])), nil
}

// writeFile writes a block file atomically: a temp file, then a rename.
func (c *Cache) writeFile(name string, h, data []byte) error {
	f, err := os.CreateTemp(c.blocks, tmpPrefix+"*")
	if err != nil {
		return err
	}
	_, err = f.Write(h)
	if err == nil {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(c.blocks, name))
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// reserve counts size bytes for block name before its file is written,
// evicting blocks as needed. It reports false (nothing reserved) if the
// block is held or being written, or if no room can be made.
func (c *Cache) reserve(name string, size int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[name] != nil || c.writing[name] || !c.evictLocked(size) {
		return false
	}
	c.used += size
	c.writing[name] = true
	return true
}

// finish ends the write of block name: on success it is held, most
// recently used; on failure its reservation is given back, and a full
// disk lowers the limit to what the cache holds.
func (c *Cache) finish(name string, size int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.writing, name)
	if err != nil {
		c.used -= size
		if errors.Is(err, syscall.ENOSPC) && c.limit > c.used {
			c.log.WithFields(logrus.Fields{"dir": c.dir, "from": c.limit, "to": c.used}).Debug("data cache: disk full, lowering the limit")
			c.limit = c.used
		}
		return
	}
	e := &entry{name: name, cost: size, touched: time.Now()}
	c.entries[name] = e
	c.lru.pushFront(e)
}

// evictLocked removes least recently used blocks until need more bytes
// fit, and reports whether they do. c.mu must be held; files are
// unlinked before it returns.
func (c *Cache) evictLocked(need int64) bool {
	for c.used+need > c.limit {
		e := c.lru.back()
		if e == nil {
			return false
		}
		c.removeLocked(e)
	}
	return true
}

// drop removes e if it is still held.
func (c *Cache) drop(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[e.name] == e {
		c.removeLocked(e)
	}
}

// removeLocked forgets e and unlinks its file. c.mu must be held.
func (c *Cache) removeLocked(e *entry) {
	delete(c.entries, e.name)
	c.lru.remove(e)
	c.used -= e.cost
	if err := os.Remove(filepath.Join(c.blocks, e.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		c.diskFailed("remove", err)
	}
}

// diskFailed logs the first failure of the cache's disk as a warning,
// later ones at debug level: reads go on from the source.
func (c *Cache) diskFailed(op string, err error) {
	l := c.log.WithFields(logrus.Fields{"dir": c.dir, "op": op})
	if c.warned.CompareAndSwap(false, true) {
		if errors.Is(err, syscall.ENOSPC) {
			l.Warnf("data cache: disk full (%v): keeping to the space it has, lowering its limit (further failures logged at debug level)", err)
			return
		}
		l.Warnf("data cache: %v; reading from the object store instead (further failures logged at debug level)", err)
		return
	}
	l.Debugf("data cache: %v", err)
}
