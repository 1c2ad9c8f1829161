package fs

// This file fills in a directory listing's metadata from MinIO's
// listings. A listing with metadata (MinIO's metadata=true) costs MinIO
// about three times a plain one (it reads every object's metadata), and
// ls, find, rm -r and cp -r never need it: so a directory is listed with
// metadata on its first page only (where a small directory is whole) and
// plainly after that, and the first stat of a name on a later page lists
// that page again with metadata (one LIST for 1000 names instead of 1000
// HEADs), with the pages after it started ahead once stats look like a
// scan (ls -l). On servers that do not give metadata in listings (Ceph
// RGW, AWS), found out once per mount, names are HEADed as before.

import (
	"context"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
)

// What the server says of metadata in listings (FS.metaList).
const (
	metaUnknown   int32 = iota // not seen yet
	metaListed                 // it lists metadata when asked (MinIO)
	metaNotListed              // it does not (or we never ask: AWS)
)

// fillParallel bounds the single pages listed again with metadata at
// once.
const fillParallel = 4

// noteMetaListing records what a page listed with metadata asked tells
// of the server: a page with objects and no metadata on any of them
// comes from a server without the extension (MinIO lists an object's
// content type with its metadata even when it has no x-amz-meta-*).
func (f *FS) noteMetaListing(page *s3client.ListPage) {
	if len(page.Objects) == 0 || f.metaList.Load() != metaUnknown {
		return
	}
	for _, o := range page.Objects {
		if o.Metadata != nil {
			f.metaList.CompareAndSwap(metaUnknown, metaListed)
			return
		}
	}
	if f.metaList.CompareAndSwap(metaUnknown, metaNotListed) {
		f.log.Debugf("this server lists no metadata: modes of listed names come from HEADs")
	}
}

// listsMeta reports whether listings may carry metadata: known to, or
// not known yet.
func (f *FS) listsMeta() bool { return f.metaList.Load() != metaNotListed }

// pageOf is the page of dir's listing ls that held key (a key of dir), or
// -1 if ls does not know its pages. ls.mu must be held.
func (ls *listing) pageOf(key string) int {
	if len(ls.bounds) == 0 {
		return -1
	}
	return min(sort.SearchStrings(ls.bounds, key), len(ls.bounds)-1)
}

// fillMeta completes a listing's answer a for file l with its metadata
// from a listing with metadata: of l's page alone for a lone stat, or,
// once stats look like a scan (ls -l), a sweep from l's page to the end
// of the directory that stats of later names wait on. It reports false
// when that did not give l's metadata: the caller then HEADs it.
func (f *FS) fillMeta(ctx context.Context, dir loc, ls *listing, l loc, a Attr) (Attr, bool) {
	ls.mu.Lock()
	ls.lookups++
	p := ls.pageOf(l.key)
	if p < 0 || a.Dir {
		ls.mu.Unlock()
		return a, false
	}
	after := ""
	if p > 0 {
		after = ls.bounds[p-1]
	}
	var wait func(context.Context) bool
	if done, ok := ls.fills[p]; ok {
		wait = func(ctx context.Context) bool { return waitOn(ctx, done) }
	} else if sw := ls.sweepOf(l.key); sw != nil {
		wait = func(ctx context.Context) bool { return sw.wait(ctx, l.key) }
	} else if ls.lookups >= 2 {
		sw := f.startSweeps(dir, ls, p)
		wait = func(ctx context.Context) bool { return sw.wait(ctx, l.key) }
	} else {
		done := make(chan struct{})
		if ls.fills == nil {
			ls.fills = map[int]chan struct{}{}
		}
		ls.fills[p] = done
		go f.fillPage(dir, after, done)
		wait = func(ctx context.Context) bool { return waitOn(ctx, done) }
	}
	ls.mu.Unlock()
	if !wait(ctx) {
		return a, false
	}
	if c, ok := f.attrs.Get(l.cacheKey()); ok && !c.Missing && c.Value.Meta != nil && c.Value.sameVersion(a) {
		return c.Value, true
	}
	_, name := parentOf(l)
	// The listing made again meanwhile may hold what the fill found.
	for _, cur := range append([]*listing{ls}, f.listingsOf(dir)...) {
		cur.mu.Lock()
		b, ok := cur.names[name]
		cur.mu.Unlock()
		if ok && b.Meta != nil && b.sameVersion(a) {
			return b, true
		}
	}
	return a, false
}

// sweepSplit is the fewest pages a sweep is split for: the pages from a
// scan's first stat to the end of the directory are listed by
// sweepParallel sweeps of as many pages each (two listings at once make
// MinIO's work on two cores about a quarter shorter; more do not).
const (
	sweepSplit    = 8
	sweepParallel = 2
)

// startSweeps starts the sweeps of the pages of ls from page p on and
// returns the one of page p. ls.mu must be held.
func (f *FS) startSweeps(dir loc, ls *listing, p int) *metaSweep {
	n := len(ls.bounds) - p
	k := 1
	if n >= sweepSplit {
		k = sweepParallel
	}
	var first *metaSweep
	for i := range k {
		from, to := p+i*n/k, p+(i+1)*n/k // pages [from, to)
		sw := &metaSweep{moved: make(chan struct{})}
		if from > 0 {
			sw.from = ls.bounds[from-1]
		}
		if i < k-1 {
			sw.to = ls.bounds[to-1]
		}
		ls.sweeps = append(ls.sweeps, sw)
		go f.sweepMeta(dir, sw)
		if first == nil {
			first = sw
		}
	}
	return first
}

// sweepOf is the sweep that lists key, if any. ls.mu must be held.
func (ls *listing) sweepOf(key string) *metaSweep {
	for _, sw := range ls.sweeps {
		if sw.from < key && (sw.to == "" || key <= sw.to) {
			return sw
		}
	}
	return nil
}

// waitOn waits for done to be closed, and reports false if ctx ended
// first.
func waitOn(ctx context.Context, done chan struct{}) bool {
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// metaSweep is one listing with metadata of a directory from the key
// after from to its end, page after page (MinIO answers a page that
// continues a listing about twice as fast as one that starts anew).
// Stats of names it has yet to reach wait for it.
type metaSweep struct {
	from, to string // it lists the keys after from, up to to ("": the end)

	mu    sync.Mutex    // protects the fields below
	upTo  string        // the keys up to this one have been merged
	done  bool          // it is over (at the end, or failed)
	moved chan struct{} // closed (and replaced) when upTo or done moves
}

// wait waits until the sweep has merged key or is over, and reports
// false if ctx ended first.
func (s *metaSweep) wait(ctx context.Context, key string) bool {
	for {
		s.mu.Lock()
		if s.done || s.upTo >= key {
			s.mu.Unlock()
			return true
		}
		moved := s.moved
		s.mu.Unlock()
		if !waitOn(ctx, moved) {
			return false
		}
	}
}

// advance records that the keys up to upTo are merged, or with done that
// the sweep is over.
func (s *metaSweep) advance(upTo string, done bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upTo, s.done = max(s.upTo, upTo), s.done || done
	close(s.moved)
	s.moved = make(chan struct{})
}

// over reports whether the sweep is over.
func (s *metaSweep) over() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

// sweepMeta runs sweep sw of directory dir.
func (f *FS) sweepMeta(dir loc, sw *metaSweep) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	in := s3client.ListInput{Prefix: dir.key, Delimiter: "/", StartAfter: sw.from, Metadata: true}
	for {
		began := time.Now()
		page, err := f.store.ListObjects(ctx, dir.bucket, in)
		if err != nil {
			f.log.Debugf("listing %s/%s after %q with metadata: %v", dir.bucket, dir.key, in.StartAfter, err)
			sw.advance("", true)
			return
		}
		upTo := f.mergeMeta(dir, page, began)
		if !page.IsTruncated || f.metaList.Load() == metaNotListed || sw.to != "" && upTo >= sw.to {
			sw.advance(upTo, true)
			return
		}
		sw.advance(upTo, false)
		in.ContinuationToken = page.NextContinuationToken
	}
}

// fillPage lists the page of dir after key after again, with metadata,
// and merges what it shows. It closes done when it is over, whatever the
// outcome: a name still without metadata is then HEADed.
func (f *FS) fillPage(dir loc, after string, done chan struct{}) {
	defer close(done)
	f.fillSlots <- struct{}{}
	defer func() { <-f.fillSlots }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	page, err := f.store.ListObjects(ctx, dir.bucket, s3client.ListInput{
		Prefix: dir.key, Delimiter: "/", StartAfter: after, MaxKeys: 1000, Metadata: true})
	if err != nil {
		f.log.Debugf("listing %s/%s after %q with metadata: %v", dir.bucket, dir.key, after, err)
		return
	}
	f.mergeMeta(dir, page, began)
}

// mergeMeta gives every name of dir's listing that page (listed with
// metadata, begun at began) shows unchanged its metadata, in the listing
// (the cached one and the one answering while it is made again) and in
// the attribute cache, and returns the page's last key.
func (f *FS) mergeMeta(dir loc, page *s3client.ListPage, began time.Time) string {
	f.noteMetaListing(page)
	last := ""
	for _, p := range page.CommonPrefixes {
		last = max(last, p)
	}
	var got []dirEntry
	for _, o := range page.Objects {
		last = max(last, o.Key)
		if a := listedAttr(o); o.Metadata != nil && !a.Dir {
			got = append(got, dirEntry{strings.TrimPrefix(o.Key, dir.key), a})
		}
	}
	ours := map[string]bool{} // changed by us since the page began
	f.merging.Lock()
	defer f.merging.Unlock()
	for _, ls := range f.listingsOf(dir) {
		ls.mu.Lock()
		for _, e := range got {
			if ls.changed[e.name].After(began) {
				ours[e.name] = true
				continue
			}
			if cur, ok := ls.names[e.name]; ok && cur.Meta == nil && cur.sameVersion(e.attr) {
				ls.names[e.name] = e.attr
			}
		}
		ls.mu.Unlock()
	}
	// A name the attribute cache has let go (a scan that outlasts its
	// TTL) is put back: the page is what the server says now.
	for _, e := range got {
		if ours[e.name] {
			continue
		}
		l := dir.child(e.name)
		if c, ok := f.attrs.Get(l.cacheKey()); !ok || !c.Missing && c.Value.Meta == nil && c.Value.sameVersion(e.attr) {
			f.attrs.Put(l.cacheKey(), e.attr)
		}
	}
	return last
}

// onAWS reports whether endpoint is Amazon S3's.
func onAWS(endpoint string) bool {
	u, err := url.Parse(endpoint)
	return err == nil && (u.Hostname() == "amazonaws.com" || strings.HasSuffix(u.Hostname(), ".amazonaws.com"))
}
