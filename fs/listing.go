package fs

// Reading whole directories: list (one directory, delimited), listTree
// (a whole subtree in one LIST without a delimiter, for find, du and
// rm -r), and what their pages put in the caches (cacheListing).

import (
	"context"
	"math"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
)

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
