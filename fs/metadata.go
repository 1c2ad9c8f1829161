package fs

// This file is the metadata layer: what a name is (file, directory or
// missing) and its attributes. It answers from the attribute cache and
// from cached complete listings of directories (listing), asks S3 when
// they cannot say (stat, probe: a HEAD of the key and a LIST of key/ in
// parallel), and starts the HEADs of the names that follow in a listing
// once lookups look like a scan (headAhead), so ls -l and rsync do not
// wait for one HEAD per name. remember and forget keep the caches in
// step with our own changes. Reading whole directories (list, listTree)
// is in listing.go.

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
)

// listing is the complete, fresh content of one directory.
type listing struct {
	made       time.Time    // when the LIST that gave it began
	cached     time.Time    // when it was cached, complete
	uses       atomic.Int32 // lookups it answered
	refreshing atomic.Bool  // a new listing of the directory is under way
	fromTree   atomic.Bool  // made by listTree, not yet used by a readdir
	treeTried  atomic.Bool  // a tree listing of the directory was made or tried
	childReads atomic.Int32 // readdirs of its subdirectories

	mu     sync.Mutex // protects the fields below
	names  map[string]Attr
	sorted []string // the names at listing time, sorted
	// lookups counts lookups answered from this listing that needed a
	// HEAD; from the second on, HEADs of the names that follow are
	// started ahead (ls -l, du and rsync stat names in this order).
	lookups int
	headsTo int // sorted[:headsTo] have had their HEAD started
	// bounds[p] is the last key (or common prefix) of page p of the LIST
	// that made the listing (nil for a tree listing's), and fills[p] is
	// closed once page p has been listed again with metadata
	// (metafill.go); page 0 was listed with it.
	bounds []string
	fills  map[int]chan struct{}
	// sweeps are the listings with metadata of the directory that stats
	// of a scan wait on (metafill.go); a listing made again keeps those
	// still running.
	sweeps []*metaSweep

	// facts are what a delimited LIST saw beyond the names (nil for a
	// tree listing's): rmdir answers from them without a request.
	facts *listFacts

	// changed is when remember or forget last changed each name, so
	// that a listing made again (keepFresh, readdir) keeps our changes
	// made since its LIST began.
	changed map[string]time.Time
}

// listFacts are what a delimited listing of a directory saw besides the
// names it shows.
type listFacts struct {
	hidden     int  // keys not shown (names we refuse: "..", "a//b")
	markerData bool // the directory's own marker holds bytes
	// metaPages are the first pages that were listed with metadata.
	metaPages int
	// both are the names listed as a directory and as an object (an
	// old-style s3fs directory "a" with keys below it, or a file
	// shadowed by a directory).
	both map[string]bool
}

// headAhead is how many names after a looked-up one get their HEAD
// started early.
const headAhead = 64

// listingOf is dir's listing: the fresh one, or while it is being made
// again (keepFresh), the one before.
func (f *FS) listingOf(dir loc) *listing {
	if e, ok := f.listings.Get(dir.cacheKey()); ok && !e.Missing {
		return e.Value
	}
	if v, ok := f.relisting.Load(dir.cacheKey()); ok {
		return v.(*listing)
	}
	return nil
}

// listingsOf is every listing of dir that may answer: the cached one
// and the one answering while it is made again, if they differ.
func (f *FS) listingsOf(dir loc) []*listing {
	var out []*listing
	if e, ok := f.listings.Get(dir.cacheKey()); ok && !e.Missing {
		out = append(out, e.Value)
	}
	if v, ok := f.relisting.Load(dir.cacheKey()); ok && (len(out) == 0 || out[0] != v.(*listing)) {
		out = append(out, v.(*listing))
	}
	return out
}

// parentOf splits a file or directory location into its directory
// location and name ("a/b/c" and "a/b/c/" both give "a/b/" and "c").
func parentOf(l loc) (loc, string) {
	k := strings.TrimSuffix(l.key, "/")
	i := strings.LastIndexByte(k, '/')
	return loc{l.bucket, k[:i+1]}, k[i+1:]
}

// remember records what l (a file location, without trailing "/") now
// is, in the attribute cache and in its directory's listing.
func (f *FS) remember(l loc, a Attr) {
	f.attrs.Put(l.cacheKey(), a)
	dir, name := parentOf(l)
	if ls := f.listingOf(dir); ls != nil {
		ls.mu.Lock()
		ls.names[name] = a
		ls.touch(name)
		ls.mu.Unlock()
	}
}

// touch records that name changed now. ls.mu must be held.
func (ls *listing) touch(name string) {
	if ls.changed == nil {
		ls.changed = map[string]time.Time{}
	}
	ls.changed[name] = time.Now()
}

// forget records that l no longer exists.
func (f *FS) forget(l loc) {
	f.attrs.PutMissing(l.cacheKey())
	dir, name := parentOf(l)
	if ls := f.listingOf(dir); ls != nil {
		ls.mu.Lock()
		delete(ls.names, name)
		ls.touch(name)
		ls.mu.Unlock()
	}
	f.listings.Remove(l.asDir().cacheKey())
	f.relisting.Delete(l.asDir().cacheKey())
}

// stat answers what l is: a file, a directory (marker or implied by
// deeper keys), or missing. A directory wins over a file of the same name.
// The cache answers first, then a fresh listing of the parent (a name it
// lacks is missing), then S3.
func (f *FS) stat(ctx context.Context, l loc) (Attr, syscall.Errno) {
	a, exact, errno := f.statLazy(ctx, l)
	if errno != 0 || exact {
		return a, errno
	}
	return f.exact(ctx, l, a)
}

// statLazy is stat without the HEAD for metadata: exact is false when
// the answer came from a listing and lacks the metadata a HEAD would
// give (mode, owner, mtime), which exact then fetches.
func (f *FS) statLazy(ctx context.Context, l loc) (a Attr, exact bool, errno syscall.Errno) {
	if a, exact, errno, known := f.cachedStat(l); known {
		return a, exact, errno
	}
	a, errno = f.probe(ctx, l)
	return a, true, errno
}

// cachedStat is statLazy from the caches alone: known is false when
// they cannot say (then only a probe of S3 can).
func (f *FS) cachedStat(l loc) (a Attr, exact bool, errno syscall.Errno, known bool) {
	dir, name := parentOf(l)
	ls := f.listingOf(dir)
	if ls != nil {
		f.keepFresh(dir, ls)
	}
	if e, ok := f.attrs.Get(l.cacheKey()); ok {
		if e.Missing {
			return Attr{}, true, syscall.ENOENT, true
		}
		a = e.Value
	} else if ls != nil {
		ls.mu.Lock()
		found := false
		a, found = ls.names[name]
		ls.mu.Unlock()
		if !found {
			return Attr{}, true, syscall.ENOENT, true
		}
	} else {
		return Attr{}, false, 0, false
	}
	return a, a.Meta != nil || !f.opts.StatHead, 0, true
}

// exact completes what statLazy found from a listing with the object's
// metadata (a HEAD, or one started ahead for a scan).
func (f *FS) exact(ctx context.Context, l loc, a Attr) (Attr, syscall.Errno) {
	dir, name := parentOf(l)
	if ls := f.listingOf(dir); ls != nil {
		if !f.listsMeta() {
			f.headAhead(dir, ls, name)
		} else if b, ok := f.fillMeta(ctx, dir, ls, l, a); ok {
			return b, 0
		}
	}
	return f.statKnown(ctx, l, a)
}

// maxSymlink is the size from which an object cannot be a symbolic link:
// an s3fs link's body is its target, shorter than PATH_MAX (4096).
const maxSymlink = 4096

// typeKnown says whether a listing's answer a tells the file type
// without the metadata: a directory, or an object too big to be a link.
func typeKnown(a Attr) bool { return a.Dir || a.Size >= maxSymlink }

// keepFresh lists dir again, once and in the background, when its
// listing ls is in use (a second lookup) past half its TTL: a scan of a
// big directory (ls -l, rsync, find of 100 000 names) that outlasts the
// TTL then goes on with a fresh listing, where it would otherwise fall
// back to a HEAD and a LIST per name once the listing expired. Names
// are then at most a TTL and a LIST's time old.
func (f *FS) keepFresh(dir loc, ls *listing) {
	if ls.uses.Add(1) < 2 || time.Since(ls.made) < f.listings.TTL()/2 || !ls.refreshing.CompareAndSwap(false, true) {
		return
	}
	// The old listing answers until the new one is made (a directory of
	// 100 000 names takes seconds to list), even once it has expired.
	f.relisting.Store(dir.cacheKey(), ls)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		_, err := f.list(ctx, dir)
		f.relisting.CompareAndDelete(dir.cacheKey(), ls)
		if err != nil {
			f.log.Debugf("refresh of the listing of %s/%s: %v", dir.bucket, dir.key, err)
			ls.refreshing.Store(false) // the next lookup tries again
		}
	}()
}

// headAhead starts, in the background, the HEADs of the names after name
// in dir's listing once lookups there look like a scan.
func (f *FS) headAhead(dir loc, ls *listing, name string) {
	ls.mu.Lock()
	ls.lookups++
	if ls.lookups < 2 {
		ls.mu.Unlock()
		return
	}
	i := sort.SearchStrings(ls.sorted, name) + 1
	from, to := max(i, ls.headsTo), min(i+headAhead, len(ls.sorted))
	var todo []dirEntry
	for _, n := range ls.sorted[max(from, 0):max(to, from)] {
		if a := ls.names[n]; a.Meta == nil {
			todo = append(todo, dirEntry{n, a})
		}
	}
	ls.headsTo = max(ls.headsTo, to)
	ls.mu.Unlock()
	for _, e := range todo {
		go func() {
			f.headSlots <- struct{}{}
			defer func() { <-f.headSlots }()
			l := dir.child(e.name)
			if c, ok := f.attrs.Get(l.cacheKey()); ok && (c.Missing || c.Value.Meta != nil) {
				return // a lookup got there first
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			f.statKnown(ctx, l, e.attr)
		}()
	}
}

// statKnown completes a listing's answer with the object's metadata.
func (f *FS) statKnown(ctx context.Context, l loc, a Attr) (Attr, syscall.Errno) {
	key := l.key
	if a.Dir {
		key += "/"
	}
	// One HEAD per key at a time: a lookup joins one started ahead. The
	// answer is cached before the key is let go, and a HEAD that another
	// finished just before is not made again.
	v, err, _ := f.heads.Do(l.bucket+"/"+key, func() (any, error) {
		if c, ok := f.attrs.Get(l.cacheKey()); ok && !c.Missing && c.Value.Meta != nil {
			return c.Value, nil
		}
		info, err := f.store.HeadObject(ctx, l.bucket, key)
		if err != nil {
			return nil, err
		}
		b := a
		b.Meta = parseMeta(info)
		if !b.Dir {
			b.Size, b.Mtime, b.ETag = info.Size, info.LastModified, info.ETag
			b = b.asOldStyleDir()
		}
		f.attrs.Put(l.cacheKey(), b)
		return b, nil
	})
	switch {
	case err == nil:
		return v.(Attr), 0
	case errors.Is(err, s3client.ErrNotFound) && a.Dir:
		// No marker: an implied directory, or an old-style s3fs one
		// (an object "a" of directory type) that carries its metadata.
		a.Meta = noMeta()
		if info, err := f.store.HeadObject(ctx, l.bucket, l.key); err == nil {
			if m := parseMeta(info); m.oldStyleDir() {
				a.Meta = m
			}
		}
	case errors.Is(err, s3client.ErrNotFound):
		// Gone since the listing: ask afresh.
		f.attrs.Remove(l.cacheKey())
		return f.probe(ctx, l)
	default:
		return Attr{}, f.errno("lookup", l.key, err)
	}
	f.attrs.Put(l.cacheKey(), a)
	return a, 0
}

// probe finds out what l is with a HEAD of the key and a LIST of the
// prefix key/, in parallel.
func (f *FS) probe(ctx context.Context, l loc) (Attr, syscall.Errno) {
	type headResult struct {
		info *s3client.ObjectInfo
		err  error
	}
	head := make(chan headResult, 1)
	go func() {
		info, err := f.store.HeadObject(ctx, l.bucket, l.key)
		head <- headResult{info, err}
	}()
	page, listErr := f.store.ListObjects(ctx, l.bucket, s3client.ListInput{Prefix: l.key + "/", MaxKeys: 1})
	h := <-head
	if listErr == nil && (len(page.Objects) > 0 || len(page.CommonPrefixes) > 0) {
		var old *Meta // of an old-style s3fs directory object "a"
		if h.err == nil {
			if m := parseMeta(h.info); m.oldStyleDir() {
				old = m
			} else {
				f.warnOnce(l.key, "key %q is shadowed by directory %q", l.key, l.key+"/")
			}
		}
		a := Attr{Dir: true}
		if f.opts.StatHead {
			if len(page.Objects) > 0 && page.Objects[0].Key == l.key+"/" {
				return f.statKnown(ctx, l, a)
			}
			a.Meta = noMeta()
			if old != nil {
				a.Meta = old
			}
		}
		f.attrs.Put(l.cacheKey(), a)
		return a, 0
	}
	if h.err == nil {
		a := Attr{Size: h.info.Size, Mtime: h.info.LastModified, ETag: h.info.ETag, Meta: parseMeta(h.info)}.asOldStyleDir()
		f.attrs.Put(l.cacheKey(), a)
		return a, 0
	}
	if errors.Is(h.err, s3client.ErrNotFound) && listErr == nil {
		f.attrs.PutMissing(l.cacheKey())
		return Attr{}, syscall.ENOENT
	}
	err := h.err
	if listErr != nil {
		err = listErr
	}
	return Attr{}, f.errno("lookup", l.key, err)
}
