package fs

import (
	"context"
	"errors"
	"sort"
	"strings"
	"syscall"

	"github.com/bucketfs/bucketfs/s3client"
)

// stat answers what key is: a file, a directory (marker or implied by
// deeper keys), or missing. A directory wins over a file of the same name.
func (f *FS) stat(ctx context.Context, key string) (Attr, syscall.Errno) {
	if e, ok := f.cache.Get(key); ok {
		if e.Missing {
			return Attr{}, syscall.ENOENT
		}
		return e.Value, 0
	}
	type headResult struct {
		info *s3client.ObjectInfo
		err  error
	}
	head := make(chan headResult, 1)
	go func() {
		info, err := f.store.HeadObject(ctx, f.opts.Bucket, key)
		head <- headResult{info, err}
	}()
	page, listErr := f.store.ListObjectsV2(ctx, f.opts.Bucket, s3client.ListInput{Prefix: key + "/", MaxKeys: 1})
	h := <-head
	if listErr == nil && (len(page.Objects) > 0 || len(page.CommonPrefixes) > 0) {
		if h.err == nil {
			f.warnOnce(key, "key %q is shadowed by directory %q", key, key+"/")
		}
		a := Attr{Dir: true}
		f.cache.Put(key, a)
		return a, 0
	}
	if h.err == nil {
		a := Attr{Size: h.info.Size, Mtime: h.info.LastModified}
		f.cache.Put(key, a)
		return a, 0
	}
	if errors.Is(h.err, s3client.ErrNotFound) && listErr == nil {
		f.cache.PutMissing(key)
		return Attr{}, syscall.ENOENT
	}
	err := h.err
	if listErr != nil {
		err = listErr
	}
	return Attr{}, f.errno("lookup", key, err)
}

// dirEntry is one name of a directory listing.
type dirEntry struct {
	name string
	attr Attr
}

// list reads every page of the listing of prefix and caches each entry.
func (f *FS) list(ctx context.Context, prefix string) ([]dirEntry, error) {
	byName := map[string]Attr{}
	in := s3client.ListInput{Prefix: prefix, Delimiter: "/"}
	for {
		page, err := f.store.ListObjectsV2(ctx, f.opts.Bucket, in)
		if err != nil {
			return nil, err
		}
		for _, p := range page.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(p, prefix), "/")
			if !f.validName(prefix, name) {
				continue
			}
			if old, ok := byName[name]; ok && !old.Dir {
				f.warnOnce(prefix+name, "key %q is shadowed by directory %q", prefix+name, p)
			}
			byName[name] = Attr{Dir: true}
		}
		for _, o := range page.Objects {
			name := strings.TrimPrefix(o.Key, prefix)
			if name == "" { // the directory's own marker
				continue
			}
			if !f.validName(prefix, name) {
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
		f.cache.Put(prefix+name, a)
		out = append(out, dirEntry{name, a})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// validName says whether a key segment can be a file name; keys that
// cannot are skipped with a warning.
func (f *FS) validName(prefix, name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 255 || strings.ContainsRune(name, 0) {
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
