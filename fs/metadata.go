package fs

// This file is the metadata layer: what a name is (file, directory or
// missing) and its attributes. It answers from the attribute cache and
// from cached complete listings of directories (listing), asks S3 when
// they cannot say (stat, probe: a HEAD of the key and a LIST of key/ in
// parallel), reads whole directories (list), and starts the HEADs of the
// names that follow in a listing once lookups look like a scan
// (headAhead), so ls -l and rsync do not wait for one HEAD per name.
// remember and forget keep the caches in step with our own changes.

import (
	"context"
	"errors"
	"math"
	"path"
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

// dirEntry is one name of a directory listing.
type dirEntry struct {
	name string
	attr Attr
}

// metaPages is how many pages a listing asks metadata for: a directory
// of up to 2000 names (1000 files and their directory's marker make two
// pages) needs no second listing for ls -l.
const metaPages = 2

// list reads every page of the listing of directory dir, caches it as
// complete, and returns it sorted. The first metaPages pages ask for
// metadata (MinIO gives each object's in the listing: a small
// directory's names then need no HEAD for their modes); the others do
// not, as most readdirs never need it and it triples MinIO's cost of a
// listing: fillMeta lists a page again with it when a name of it is
// stat'ed.
func (f *FS) list(ctx context.Context, dir loc) ([]dirEntry, error) {
	made := time.Now()
	byName := map[string]Attr{}
	var bounds []string
	facts := &listFacts{both: map[string]bool{}}
	in := s3client.ListInput{Prefix: dir.key, Delimiter: "/", Metadata: f.listsMeta()}
	for {
		page, err := f.store.ListObjects(ctx, dir.bucket, in)
		if err != nil {
			return nil, err
		}
		if in.Metadata {
			f.noteMetaListing(page)
			facts.metaPages++
		}
		bound := ""
		for _, p := range page.CommonPrefixes {
			bound = max(bound, p)
			name := strings.TrimSuffix(strings.TrimPrefix(p, dir.key), "/")
			if !f.validName(dir.key, name) {
				facts.hidden++
				continue
			}
			if old, ok := byName[name]; ok && !old.Dir {
				facts.both[name] = true
				f.warnOnce(dir.key+name, "key %q is shadowed by directory %q", dir.key+name, p)
			}
			byName[name] = Attr{Dir: true}
		}
		for _, o := range page.Objects {
			bound = max(bound, o.Key)
			name := strings.TrimPrefix(o.Key, dir.key)
			if name == "" { // the directory's own marker
				facts.markerData = facts.markerData || o.Size > 0
				continue
			}
			if !f.validName(dir.key, name) {
				facts.hidden++
				continue
			}
			if old, ok := byName[name]; ok && old.Dir {
				facts.both[name] = true
				f.warnOnce(o.Key, "key %q is shadowed by directory %q", o.Key, o.Key+"/")
				continue
			}
			byName[name] = listedAttr(o)
		}
		bounds = append(bounds, bound)
		if !page.IsTruncated {
			break
		}
		in.ContinuationToken = page.NextContinuationToken
		in.Metadata = in.Metadata && facts.metaPages < metaPages
	}
	return f.cacheListing(dir, byName, made, bounds, facts), nil
}

// cacheListing caches byName, what a LIST begun at made saw of directory
// dir, as its complete listing, and returns it sorted. bounds are the
// LIST's page bounds (listing.bounds); nil marks a listing made by a tree
// listing (listTree), kept for the readdir to come.
func (f *FS) cacheListing(dir loc, byName map[string]Attr, made time.Time, bounds []string, facts *listFacts) []dirEntry {
	// What we changed since the LIST began wins over what it saw.
	ours := map[string]bool{}
	var sweeps []*metaSweep
	f.merging.Lock()
	defer f.merging.Unlock()
	if old := f.listingOf(dir); old != nil {
		old.mu.Lock()
		for _, sw := range old.sweeps {
			if !sw.over() {
				sweeps = append(sweeps, sw)
			}
		}
		// Keep the metadata the old listing learnt (from a HEAD or a
		// listing with metadata) where the new one shows the same
		// version: a change of metadata is a copy, which changes
		// LastModified. Without this, a scan that outlasts half the TTL
		// (ls -l of 100 000 names) would list every page with metadata
		// again, or HEAD each name once the attribute cache had let go.
		for name, a := range byName {
			if o, ok := old.names[name]; ok && a.Meta == nil && o.Meta != nil && o.sameVersion(a) {
				byName[name] = o
			}
		}
		for name, t := range old.changed {
			if t.Before(made) {
				continue
			}
			ours[name] = true
			if a, ok := old.names[name]; ok {
				byName[name] = a
			} else {
				delete(byName, name)
			}
		}
		old.mu.Unlock()
	}
	out := make([]dirEntry, 0, len(byName))
	for name, a := range byName {
		if ours[name] {
			out = append(out, dirEntry{name, a})
			continue
		}
		l := dir.child(name)
		// Keep metadata learnt by HEAD if the listing agrees on the rest.
		if old, ok := f.attrs.Get(l.cacheKey()); ok && !old.Missing && old.Value.Meta != nil &&
			old.Value.sameVersion(a) {
			a = old.Value
		}
		f.attrs.Put(l.cacheKey(), a)
		byName[name] = a
		out = append(out, dirEntry{name, a})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	sorted := make([]string, len(out))
	for i, e := range out {
		sorted[i] = e.name
	}
	ls := &listing{names: byName, sorted: sorted, made: made, cached: time.Now(), bounds: bounds, sweeps: sweeps, facts: facts}
	if facts != nil && facts.metaPages > 0 {
		done := make(chan struct{})
		close(done)
		ls.fills = map[int]chan struct{}{}
		for p := range min(facts.metaPages, len(bounds)) {
			ls.fills[p] = done // listed with metadata
		}
	}
	ls.fromTree.Store(bounds == nil)
	f.listings.Put(dir.cacheKey(), ls)
	return out
}

// treePages is the most pages a tree listing reads: past them (10 000
// keys) the directories are listed one by one.
const treePages = 10

// listTree lists everything below directory dir in one LIST without a
// delimiter, and caches a listing for dir and every directory below it
// (find, du and rm -r of a tree then cost a handful of LISTs, not one per
// directory). It gives up (false) on a tree of more than treePages pages.
func (f *FS) listTree(ctx context.Context, dir loc) (bool, error) {
	made := time.Now()
	dirs := map[string]map[string]Attr{dir.key: {}} // by directory key
	// What the pages say of each directory's own objects: its marker
	// ("d/", with its metadata where the server lists it) and an object
	// of its name without the slash (an old-style s3fs directory).
	markers := map[string]*Meta{}
	named := map[string]bool{}
	facts := map[string]*listFacts{} // by directory key
	factsOf := func(key string) *listFacts {
		if facts[key] == nil {
			facts[key] = &listFacts{both: map[string]bool{}}
		}
		return facts[key]
	}
	in := s3client.ListInput{Prefix: dir.key, Metadata: f.listsMeta()}
	last := "" // the last key read
	for pages := 0; ; pages++ {
		if pages == treePages {
			// Too big a tree: keep the directories the pages read cover
			// whole (keys come sorted), and list the rest one by one.
			for key, byName := range dirs {
				if key != dir.key && key < last && !strings.HasPrefix(last, key) {
					f.cacheListing(loc{dir.bucket, key}, byName, made, nil, factsOf(key))
				}
			}
			return false, nil
		}
		page, err := f.store.ListObjects(ctx, dir.bucket, in)
		if err != nil {
			return false, err
		}
		if in.Metadata {
			f.noteMetaListing(page)
		}
		for _, o := range page.Objects {
			last = o.Key
			segs := strings.Split(strings.TrimPrefix(o.Key, dir.key), "/")
			at, ok := dir.key, true
			for _, seg := range segs[:len(segs)-1] {
				if !f.validName(at, seg) {
					factsOf(at).hidden++
					ok = false
					break
				}
				if old, seen := dirs[at][seg]; !seen || !old.Dir {
					if seen {
						f.warnOnce(at+seg, "key %q is shadowed by directory %q", at+seg, at+seg+"/")
					}
					dirs[at][seg] = Attr{Dir: true}
				}
				at += seg + "/"
				if dirs[at] == nil {
					dirs[at] = map[string]Attr{}
				}
			}
			name := segs[len(segs)-1]
			if ok && name == "" { // a marker: its directory is recorded above
				if at != dir.key {
					markers[at] = listedAttr(o).Meta
				}
				factsOf(at).markerData = factsOf(at).markerData || o.Size > 0
			}
			if !ok || name == "" {
				continue
			}
			named[at+name] = true
			if !f.validName(at, name) {
				factsOf(at).hidden++
				continue
			}
			if old, seen := dirs[at][name]; seen && old.Dir {
				f.warnOnce(o.Key, "key %q is shadowed by directory %q", o.Key, o.Key+"/")
				continue
			}
			dirs[at][name] = listedAttr(o)
		}
		if !page.IsTruncated {
			break
		}
		in.ContinuationToken = page.NextContinuationToken
	}
	// A directory the whole tree shows no marker and no old-style object
	// for has no metadata to HEAD for; one whose marker was listed with
	// its metadata (MinIO) needs no HEAD either.
	for key := range dirs {
		if key == dir.key {
			continue
		}
		parent, name := parentOf(loc{dir.bucket, key})
		if named[strings.TrimSuffix(key, "/")] {
			factsOf(parent.key).both[name] = true
		}
		a, seen := dirs[parent.key][name]
		if !seen || !a.Dir || a.Meta != nil || named[strings.TrimSuffix(key, "/")] {
			continue
		}
		if m, marked := markers[key]; !marked {
			a.Meta = noMeta()
		} else if m != nil {
			a.Meta = m
		}
		dirs[parent.key][name] = a
	}
	for key, byName := range dirs {
		f.cacheListing(loc{dir.bucket, key}, byName, made, nil, factsOf(key))
	}
	return true, nil
}

// readdirReuse is how long after it was made a listing answers a
// readdir again: programs that open a directory twice in a row (rm -r
// does, to read it and then to check it is empty) list it once. Our own
// changes are in it; another client's show at the next listing, as the
// kernel's attributes do after its TTL (1 s by default).
const readdirReuse = time.Second

// readdirList is the listing of dir for a readdir: the one a tree
// listing just made, if any (once), or one cached less than readdirReuse
// ago; else, at the second readdir of a subdirectory of a listed
// directory (a walk: find, du, rm -r, cp -r), a tree listing of that
// directory; else a LIST of dir. A lone ls of one directory never pays
// for a tree listing.
func (f *FS) readdirList(ctx context.Context, dir loc) ([]dirEntry, error) {
	if e, ok := f.listings.Get(dir.cacheKey()); ok && !e.Missing {
		if ls := e.Value; ls.fromTree.CompareAndSwap(true, false) || time.Since(ls.cached) < readdirReuse {
			return ls.entries(), nil
		}
	}
	if dir.key != "" {
		parent, _ := parentOf(dir)
		if pl := f.listingOf(parent); pl != nil && !pl.treeTried.Load() && pl.childReads.Add(1) >= pl.walkAt() &&
			!pl.treeTried.Swap(true) {
			if ok, err := f.listTree(ctx, parent); err == nil && ok {
				if e, ok := f.listings.Get(dir.cacheKey()); ok && !e.Missing && e.Value.fromTree.CompareAndSwap(true, false) {
					return e.Value.entries(), nil
				}
			}
		}
	}
	return f.list(ctx, dir)
}

// entries is the listing's content, sorted.
func (ls *listing) entries() []dirEntry {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	out := make([]dirEntry, 0, len(ls.names))
	for name, a := range ls.names {
		out = append(out, dirEntry{name, a})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// walkAt is the readdir of a subdirectory from which a walk down the
// listing's directory is assumed and the tree below it listed at once:
// the first when it holds nothing but directories (two or more: find or
// du of a tree of them, which would otherwise list one of them alone
// first), the second when it also holds files, never when it holds no
// directory.
func (ls *listing) walkAt() int32 {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	dirs := 0
	for _, a := range ls.names {
		if a.Dir {
			dirs++
		}
	}
	switch {
	case dirs == 0:
		return math.MaxInt32
	case dirs >= 2 && dirs == len(ls.names):
		return 1
	}
	return 2
}

// listedAttr is what a listing says of object o: with its metadata when
// the server listed it (MinIO), which may make it an old-style directory.
func listedAttr(o s3client.ListedObject) Attr {
	a := Attr{Size: o.Size, Mtime: o.LastModified, ETag: o.ETag}
	if o.Metadata != nil {
		a.Meta = parseMeta(&s3client.ObjectInfo{Metadata: o.Metadata, ContentType: o.ContentType})
		a = a.asOldStyleDir()
	}
	return a
}

// validName says whether a key segment can be a file name; keys that
// cannot are skipped with one warning.
func (f *FS) validName(prefix, name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 255 ||
		strings.ContainsAny(name, "/\x00") || path.Clean(name) != name {
		f.warnOnce(prefix+name, "skipping key %q: %q cannot be a file name", prefix+name, name)
		return false
	}
	return true
}

// warnOnce logs a warning about key the first time only.
func (f *FS) warnOnce(key, format string, args ...any) {
	if _, seen := f.warned.LoadOrStore(key, true); !seen {
		f.log.Warnf(format, args...)
	}
}
