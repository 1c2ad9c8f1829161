package fs

import (
	"context"
	"errors"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/bucketfs/bucketfs/s3client"
)

// listing is the complete, fresh content of one directory.
type listing struct {
	mu    sync.Mutex // protects names
	names map[string]Attr
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
	if ls, ok := f.listings.Get(dir.cacheKey()); ok && !ls.Missing {
		ls.Value.mu.Lock()
		ls.Value.names[name] = a
		ls.Value.mu.Unlock()
	}
}

// forget records that l no longer exists.
func (f *FS) forget(l loc) {
	f.attrs.PutMissing(l.cacheKey())
	dir, name := parentOf(l)
	if ls, ok := f.listings.Get(dir.cacheKey()); ok && !ls.Missing {
		ls.Value.mu.Lock()
		delete(ls.Value.names, name)
		ls.Value.mu.Unlock()
	}
	f.listings.Remove(l.cacheKey() + "/")
}

// stat answers what l is: a file, a directory (marker or implied by
// deeper keys), or missing. A directory wins over a file of the same name.
func (f *FS) stat(ctx context.Context, l loc) (Attr, syscall.Errno) {
	if e, ok := f.attrs.Get(l.cacheKey()); ok {
		if e.Missing {
			return Attr{}, syscall.ENOENT
		}
		if e.Value.Meta != nil || !f.opts.StatHead {
			return e.Value, 0
		}
		return f.statKnown(ctx, l, e.Value)
	}
	dir, name := parentOf(l)
	if ls, ok := f.listings.Get(dir.cacheKey()); ok && !ls.Missing {
		ls.Value.mu.Lock()
		a, found := ls.Value.names[name]
		ls.Value.mu.Unlock()
		if !found {
			return Attr{}, syscall.ENOENT
		}
		if !f.opts.StatHead {
			return a, 0
		}
		return f.statKnown(ctx, l, a)
	}
	return f.probe(ctx, l)
}

// statKnown completes a listing's answer with the object's metadata.
func (f *FS) statKnown(ctx context.Context, l loc, a Attr) (Attr, syscall.Errno) {
	key := l.key
	if a.Dir {
		key += "/"
	}
	info, err := f.store.HeadObject(ctx, l.bucket, key)
	switch {
	case err == nil:
		a.Meta = parseMeta(info)
		if !a.Dir {
			a.Size, a.Mtime = info.Size, info.LastModified
		}
	case errors.Is(err, s3client.ErrNotFound) && a.Dir:
		a.Meta = noMeta() // an implied directory has no marker
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
		if h.err == nil {
			f.warnOnce(l.key, "key %q is shadowed by directory %q", l.key, l.key+"/")
		}
		a := Attr{Dir: true}
		if f.opts.StatHead {
			if len(page.Objects) > 0 && page.Objects[0].Key == l.key+"/" {
				return f.statKnown(ctx, l, a)
			}
			a.Meta = noMeta()
		}
		f.attrs.Put(l.cacheKey(), a)
		return a, 0
	}
	if h.err == nil {
		a := Attr{Size: h.info.Size, Mtime: h.info.LastModified, Meta: parseMeta(h.info)}
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

// list reads every page of the listing of directory dir, caches it as
// complete, and returns it sorted.
func (f *FS) list(ctx context.Context, dir loc) ([]dirEntry, error) {
	byName := map[string]Attr{}
	in := s3client.ListInput{Prefix: dir.key, Delimiter: "/"}
	for {
		page, err := f.store.ListObjects(ctx, dir.bucket, in)
		if err != nil {
			return nil, err
		}
		for _, p := range page.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(p, dir.key), "/")
			if !f.validName(dir.key, name) {
				continue
			}
			if old, ok := byName[name]; ok && !old.Dir {
				f.warnOnce(dir.key+name, "key %q is shadowed by directory %q", dir.key+name, p)
			}
			byName[name] = Attr{Dir: true}
		}
		for _, o := range page.Objects {
			name := strings.TrimPrefix(o.Key, dir.key)
			if name == "" { // the directory's own marker
				continue
			}
			if !f.validName(dir.key, name) {
				continue
			}
			if old, ok := byName[name]; ok && old.Dir {
				f.warnOnce(o.Key, "key %q is shadowed by directory %q", o.Key, o.Key+"/")
				continue
			}
			byName[name] = Attr{Size: o.Size, Mtime: o.LastModified}
		}
		if !page.IsTruncated {
			break
		}
		in.ContinuationToken = page.NextContinuationToken
	}
	out := make([]dirEntry, 0, len(byName))
	for name, a := range byName {
		l := dir.child(name)
		// Keep metadata learnt by HEAD if the listing agrees on the rest.
		if old, ok := f.attrs.Get(l.cacheKey()); ok && !old.Missing && old.Value.Meta != nil &&
			old.Value.Dir == a.Dir && old.Value.Size == a.Size && old.Value.Mtime.Equal(a.Mtime) {
			a = old.Value
		}
		f.attrs.Put(l.cacheKey(), a)
		byName[name] = a
		out = append(out, dirEntry{name, a})
	}
	f.listings.Put(dir.cacheKey(), &listing{names: byName})
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
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
