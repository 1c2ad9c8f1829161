// Package cache holds what the filesystem knows of remote names: values
// with a TTL, and negative entries ("this name does not exist") with a
// shorter one. It knows nothing of HTTP or FUSE; it is an LRU on
// hashicorp/golang-lru/v2's expirable cache.
//
// It is one file, cache.go: Options (size and the two TTLs, with their
// defaults), Entry (a value, or Missing), and Cache with Get, Put,
// PutMissing, Remove and RemovePrefix (a whole subtree, by walking every
// entry). A Cache is safe for concurrent use; its one lock is the LRU's,
// held only inside its methods.
package cache

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// Options size the cache and set how long entries stay fresh. Zero
// values mean the defaults below, which the bucketfs command uses too.
type Options struct {
	Size        int           // number of entries (default DefaultSize)
	TTL         time.Duration // freshness of positive entries (default DefaultTTL)
	NegativeTTL time.Duration // freshness of "missing" entries (default DefaultNegativeTTL)
}

// The defaults of Options.
const (
	DefaultSize        = 100000
	DefaultTTL         = 30 * time.Second
	DefaultNegativeTTL = 5 * time.Second
)

// Entry is a cached answer: either a value or the knowledge that the name
// is missing.
type Entry[V any] struct {
	Value   V
	Missing bool
}

type item[V any] struct {
	entry   Entry[V]
	expires time.Time
}

// Cache is a size-bounded, TTL-bounded map of names to values. It is safe
// for concurrent use (the LRU has its own lock).
type Cache[V any] struct {
	lru  *expirable.LRU[string, item[V]]
	opts Options
	now  func() time.Time

	hits, misses atomic.Int64 // of Get (metrics)
}

// Stats are a cache's counts since it was made.
type Stats struct {
	Hits, Misses int64
	Entries      int
}

// Stats returns the hits and misses of Get so far and the entries held.
func (c *Cache[V]) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Entries: c.lru.Len()}
}

// New returns an empty cache.
func New[V any](opts Options) *Cache[V] {
	if opts.Size <= 0 {
		opts.Size = DefaultSize
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.NegativeTTL <= 0 {
		opts.NegativeTTL = DefaultNegativeTTL
	}
	if opts.NegativeTTL > opts.TTL {
		opts.NegativeTTL = opts.TTL
	}
	return &Cache[V]{lru: expirable.NewLRU[string, item[V]](opts.Size, nil, opts.TTL), opts: opts, now: time.Now}
}

// Get returns the fresh entry for name, if any.
func (c *Cache[V]) Get(name string) (Entry[V], bool) {
	it, ok := c.lru.Get(name)
	if !ok {
		c.misses.Add(1)
		return Entry[V]{}, false
	}
	if c.now().After(it.expires) {
		c.lru.Remove(name)
		c.misses.Add(1)
		return Entry[V]{}, false
	}
	c.hits.Add(1)
	return it.entry, true
}

// Put records that name has value v.
func (c *Cache[V]) Put(name string, v V) {
	c.lru.Add(name, item[V]{entry: Entry[V]{Value: v}, expires: c.now().Add(c.opts.TTL)})
}

// PutMissing records that name does not exist.
func (c *Cache[V]) PutMissing(name string) {
	c.lru.Add(name, item[V]{entry: Entry[V]{Missing: true}, expires: c.now().Add(c.opts.NegativeTTL)})
}

// Remove forgets name.
func (c *Cache[V]) Remove(name string) {
	c.lru.Remove(name)
}

// TTL is how long a positive entry stays fresh.
func (c *Cache[V]) TTL() time.Duration { return c.opts.TTL }

// Len is the number of entries held, fresh or not yet evicted.
func (c *Cache[V]) Len() int {
	return c.lru.Len()
}

// RemovePrefix forgets every name that starts with prefix (a renamed or
// removed directory's subtree). It walks the whole cache.
func (c *Cache[V]) RemovePrefix(prefix string) {
	for _, k := range c.lru.Keys() {
		if strings.HasPrefix(k, prefix) {
			c.lru.Remove(k)
		}
	}
}
