// Package blockcache is the local data cache: blocks of objects kept in
// files of one directory, so that a re-read costs no request, across
// remounts and crashes. It knows nothing of FUSE or HTTP: it is a
// decorator around a Source (the one call every byte of object data the
// filesystem reads goes through), which Cache.Wrap returns.
//
// # What it promises
//
//   - Blocks are aligned, Options.BlockSize (1 MiB) each, keyed by
//     endpoint (Options.Namespace), bucket, key and ETag: only reads pinned to an ETag (If-Match) are
//     cached, and a block is only ever served for the ETag it was
//     fetched with, so a changed object never serves old bytes. Blocks of
//     an object's old versions are never hit again and age out.
//   - Each block file starts with a header holding a CRC-32C
//     (Castagnoli) of the header and the bytes, checked on every read: a
//     torn or corrupt block is dropped and fetched again, never returned.
//   - Writes are atomic: a temp file in the cache directory, then a
//     rename. Temp files left by a crash are removed at the next Open.
//   - The total size on disk (block files rounded up to 4 KiB, an
//     allowance per directory entry, and the directory's own few files)
//     never exceeds Options.MaxSize, not even briefly: the space of a
//     block is reserved, evicting least recently used blocks if needed,
//     before its temp file is created. A block that finds no room (all
//     the space is reserved by blocks being written) is not cached.
//   - A full or failing disk never fails a read: the bytes come from the
//     source, a warning is logged once, and on ENOSPC the limit is
//     lowered to what the cache holds, so it keeps working in the space
//     it has.
//   - The directory is 0700 and its files 0600 (objects can be
//     private). It holds a VERSION file naming its layout; a directory of
//     an unknown bucketfs layout is emptied and rebuilt, never misread,
//     and a non-empty directory without one is refused (it is not ours).
//   - A lock (flock on the file "lock") keeps a second mount from using
//     the same directory: Open fails with a clear error.
//   - Open indexes the blocks already there (size, mtime order) and reuses
//     them. A hit refreshes a block's mtime (at most once a minute), so
//     the LRU order survives restarts.
//
// # What it costs
//
// Each miss copies its blocks into the write-behind queue (at most
// Options.WriteBehind bytes, 8 MiB: memory the mount uses on top of its
// read buffers), from which two goroutines write them with their CRC;
// when the disk falls behind, a read that finds the queue full writes
// its block itself, so a cold read runs at the pace of the slower of the
// source and the disk (on loopback MinIO in a small VM, the disk: see
// docs/benchmark.md). Each hit reads the whole block and checks its CRC, also for a
// read of a part of it. Random reads of less than a block fetch the
// whole aligned block. Memory: the index (about 200 bytes per block)
// and a scratch block per read that is not block-aligned.
//
// # Files
//
// blockcache.go: Options, Open (directory, lock, VERSION, index), Close.
// blocks.go: block files (header, CRC, read and atomic write) and the
// space accounting with its LRU. behind.go: the write-behind queue.
// source.go: Wrap, the Source decorator that splits reads into blocks.
//
// # Locks
//
// Cache.mu protects the accounting, the LRU (blocks.go) and the
// write-behind's queue (behind.go). It is held across the unlink of
// evicted files (so the space is free before a reservation returns),
// never across a read, a write or a source call.
package blockcache

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/sirupsen/logrus"
)

// Options configure a cache.
type Options struct {
	// Dir is the cache directory (created 0700 if missing).
	Dir string
	// MaxSize bounds the bytes the cache uses on disk (default
	// DefaultMaxSize, unless MaxPercent is set).
	MaxSize int64
	// MaxPercent, when positive, sets the bound instead as this
	// percentage of the space free on Dir's filesystem at Open, counting
	// the space the cache already holds as free.
	MaxPercent float64
	// WriteBehind bounds the bytes of fetched blocks waiting to be
	// written to disk (default DefaultWriteBehind); see behind.go.
	WriteBehind int64
	// Namespace is mixed into the key of every block: the object
	// store's endpoint, so that two servers holding the same bucket, key
	// and ETag never share blocks.
	Namespace string
	// BlockSize is the size of a block (default DefaultBlockSize). A
	// cache directory written with one block size is used with another
	// only after it is emptied (the size is part of the layout).
	BlockSize int64
}

// Defaults of Options.
const (
	DefaultMaxSize     = 4 << 30
	DefaultBlockSize   = 1 << 20
	DefaultWriteBehind = 8 << 20
)

// layout is the content of the VERSION file; versionPrefix starts every
// layout this program ever wrote.
const (
	versionPrefix = "bucketfs block cache"
	layoutVersion = 1
)

func layout(blockSize int64) string {
	return fmt.Sprintf("%s, layout %d, block size %d\n", versionPrefix, layoutVersion, blockSize)
}

// Names in the cache directory.
const (
	lockName    = "lock"
	versionName = "VERSION"
	blocksName  = "blocks"
	tmpPrefix   = ".tmp-"
)

// ErrLocked is returned by Open when another process uses the directory.
var ErrLocked = errors.New("cache directory in use by another bucketfs mount")

// Open opens (or creates) the cache in opts.Dir, locks it, and indexes
// the blocks it already holds.
func Open(opts Options, log *logrus.Entry) (*Cache, error) {
	if opts.Dir == "" {
		return nil, errors.New("cache: no directory")
	}
	if opts.BlockSize <= 0 {
		opts.BlockSize = DefaultBlockSize
	}
	if opts.WriteBehind <= 0 {
		opts.WriteBehind = DefaultWriteBehind
	}
	if opts.MaxSize <= 0 && opts.MaxPercent <= 0 {
		opts.MaxSize = DefaultMaxSize
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache directory %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache directory %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	c := &Cache{dir: dir, blocks: filepath.Join(dir, blocksName), namespace: opts.Namespace, blockSize: opts.BlockSize, log: log,
		lock: lock, entries: map[string]*entry{}, writing: map[string]bool{}, pending: map[string]*pendingBlock{},
		queue: make(chan *pendingBlock, 4096), maxPending: opts.WriteBehind,
		free: make(chan []byte, opts.WriteBehind/opts.BlockSize+1), waitWhenFull: true}
	c.drained = sync.NewCond(&c.mu)
	c.lru.init()
	if err := c.checkLayout(); err != nil {
		lock.Close()
		return nil, err
	}
	if err := os.MkdirAll(c.blocks, 0o700); err != nil {
		lock.Close()
		return nil, fmt.Errorf("cache directory %s: %w", dir, err)
	}
	c.used = fixedCost
	if err := c.index(); err != nil {
		lock.Close()
		return nil, err
	}
	c.limit = opts.MaxSize
	if opts.MaxPercent > 0 {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			lock.Close()
			return nil, fmt.Errorf("cache directory %s: %w", dir, err)
		}
		free := int64(st.Bavail) * st.Bsize
		c.limit = int64(float64(free+c.used) * opts.MaxPercent / 100)
	}
	c.mu.Lock()
	c.evictLocked(0)
	c.mu.Unlock()
	log.WithFields(logrus.Fields{"dir": dir, "blocks": len(c.entries), "used": c.used, "limit": c.limit}).Info("data cache open")
	c.writersDone.Add(writers)
	for range writers {
		go c.writeBehind()
	}
	return c, nil
}

// Close writes the blocks still queued and releases the directory's
// lock. Reads through a Source the cache wrapped must have ended.
func (c *Cache) Close() error {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	c.mu.Unlock()
	if already {
		return nil
	}
	close(c.queue)
	c.writersDone.Wait()
	c.log.WithFields(logrus.Fields{"queued": c.stats.queued.Load(), "dropped": c.stats.dropped.Load(), "used": c.Used()}).
		Debug("data cache closed")
	return c.lock.Close()
}

// Limit is the most bytes the cache uses on disk.
func (c *Cache) Limit() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limit
}

// Used is the bytes the cache counts as used on disk (blocks held and
// being written, and its fixed files).
func (c *Cache) Used() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// lockDir takes the directory's lock, or says who holds it.
func lockDir(dir string) (*os.File, error) {
	name := filepath.Join(dir, lockName)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cache directory %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid, _ := os.ReadFile(name)
			who := strings.TrimSpace(string(pid))
			if who == "" {
				who = "unknown"
			}
			return nil, fmt.Errorf("%w: %s (locked by pid %s); use another --cache-dir", ErrLocked, dir, who)
		}
		return nil, fmt.Errorf("cache directory %s: lock: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// checkLayout makes the directory one of this layout: a new or empty
// directory gets a VERSION file; one of another bucketfs layout is
// emptied first; a non-empty one without VERSION is refused.
func (c *Cache) checkLayout() error {
	want := layout(c.blockSize)
	got, err := os.ReadFile(filepath.Join(c.dir, versionName))
	switch {
	case err == nil && string(got) == want:
		return nil
	case err == nil && strings.HasPrefix(string(got), versionPrefix):
		c.log.WithFields(logrus.Fields{"dir": c.dir, "found": strings.TrimSpace(string(got)), "want": strings.TrimSpace(want)}).
			Warn("data cache of another layout: emptying it")
		if err := c.wipe(); err != nil {
			return err
		}
	case err == nil:
		return fmt.Errorf("cache directory %s: its VERSION file is not a bucketfs cache's: refusing to use it", c.dir)
	case errors.Is(err, os.ErrNotExist):
		entries, err := os.ReadDir(c.dir)
		if err != nil {
			return fmt.Errorf("cache directory %s: %w", c.dir, err)
		}
		for _, e := range entries {
			if e.Name() != lockName {
				return fmt.Errorf("cache directory %s is not empty and holds no bucketfs cache (no VERSION file): refusing to use it", c.dir)
			}
		}
	default:
		return fmt.Errorf("cache directory %s: %w", c.dir, err)
	}
	return writeAtomic(c.dir, versionName, []byte(want))
}

// wipe removes everything in the directory but the lock.
func (c *Cache) wipe() error {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("cache directory %s: %w", c.dir, err)
	}
	for _, e := range entries {
		if e.Name() == lockName {
			continue
		}
		if err := os.RemoveAll(filepath.Join(c.dir, e.Name())); err != nil {
			return fmt.Errorf("cache directory %s: %w", c.dir, err)
		}
	}
	return nil
}

// writeAtomic writes a file of dir by a temp file and a rename.
func writeAtomic(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("cache directory %s: %w", dir, err)
	}
	return nil
}

// index adds the blocks on disk to the LRU, oldest mtime last, and
// removes temp files and anything else that is no block.
func (c *Cache) index() error {
	entries, err := os.ReadDir(c.blocks)
	if err != nil {
		return fmt.Errorf("cache directory %s: %w", c.dir, err)
	}
	// Temp files in the top directory (a VERSION being written).
	if top, err := os.ReadDir(c.dir); err == nil {
		for _, e := range top {
			if strings.HasPrefix(e.Name(), tmpPrefix) {
				os.Remove(filepath.Join(c.dir, e.Name()))
			}
		}
	}
	var found []*entry
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(c.blocks, name)
		info, err := e.Info()
		if err != nil {
			continue // gone meanwhile
		}
		if !validName(name) || !info.Mode().IsRegular() || info.Size() < headerSize {
			os.RemoveAll(path) // a torn temp file, or not ours
			continue
		}
		found = append(found, &entry{name: name, cost: cost(info.Size() - headerSize), touched: info.ModTime()})
	}
	sort.Slice(found, func(i, j int) bool { return found[i].touched.Before(found[j].touched) })
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range found {
		c.entries[e.name] = e
		c.lru.pushFront(e)
		c.used += e.cost
	}
	return nil
}

// validName reports whether name is a block file's: 32 hex digits, "-",
// 16 hex digits.
func validName(name string) bool {
	if len(name) != 32+1+16 || name[32] != '-' {
		return false
	}
	return isHex(name[:32]) && isHex(name[33:])
}

func isHex(s string) bool {
	return bytes.IndexFunc([]byte(s), func(r rune) bool {
		return !('0' <= r && r <= '9' || 'a' <= r && r <= 'f')
	}) < 0
}
