package fs

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/bucketfs/bucketfs/s3client"
)

// Linux renameat2 flags.
const (
	renameNoReplace = 1 << 0
	renameExchange  = 1 << 1
)

const copyParallel = 8 // copies in flight during a directory rename

var _ = (gofs.NodeRenamer)((*Dir)(nil))

// Rename moves a file (copy + delete) or a directory (every key below
// it, markers included). mv over an existing file replaces it.
func (d *Dir) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if errno := d.fsys.readOnly(); errno != 0 {
		return errno
	}
	if flags&renameExchange != 0 {
		return syscall.EINVAL
	}
	dstDir, ok := newParent.(*Dir)
	if !ok {
		return syscall.EPERM
	}
	from, errno := d.where()
	if errno != 0 {
		return errno
	}
	to, errno := dstDir.where()
	if errno != 0 {
		return errno
	}
	if errno := nameTooLong(to, newName); errno != 0 {
		return errno
	}
	src, dst := from.child(name), to.child(newName)
	if src.bucket != dst.bucket {
		return syscall.EXDEV
	}
	// What the names are is enough; the copy carries the metadata over
	// (no HEAD for a listed name).
	a, _, errno := d.fsys.statLazy(ctx, src)
	if errno != 0 {
		return errno
	}
	old, _, errno := d.fsys.statLazy(ctx, dst)
	switch {
	case errno == 0 && flags&renameNoReplace != 0:
		return syscall.EEXIST
	case errno == 0 && old.Dir && !a.Dir:
		return syscall.EISDIR
	case errno == 0 && !old.Dir && a.Dir:
		return syscall.ENOTDIR
	case errno == 0 && old.Dir:
		empty, err := d.fsys.isEmptyDir(ctx, dst)
		if err != nil {
			return d.fsys.errno("rename", dst.key, err)
		}
		if !empty {
			return syscall.ENOTEMPTY
		}
	case errno != 0 && errno != syscall.ENOENT:
		return errno
	}
	if a.Dir {
		if err := d.fsys.renameDir(ctx, src, dst); err != nil {
			return d.fsys.errno("rename", src.key+"/", err)
		}
		if d.fsys.isOldStyleDir(ctx, src) {
			// The old-style s3fs object "a" would keep the old name alive.
			if err := d.fsys.store.DeleteObject(ctx, src.bucket, src.key); err != nil {
				return d.fsys.errno("rename", src.key, err)
			}
		}
		d.fsys.forgetTree(src)
		d.fsys.forgetTree(dst)
		d.fsys.remember(dst, a)
		return 0
	}
	if f := d.childFile(name); f != nil {
		f.io.Lock()
		errno := f.flushIO(ctx)
		f.io.Unlock()
		f.mu.Lock()
		a.Size = f.attr.Size
		f.mu.Unlock()
		if errno != 0 {
			return errno
		}
	}
	replaced := dstDir.childFile(newName)
	if replaced == d.childFile(name) {
		replaced = nil
	}
	unlockReplaced := func() {}
	if replaced != nil {
		// Handles open on the replaced file keep its content
		// (File.detachIO); its io is held until it is marked unlinked,
		// so no upload of it can come back after the copy.
		replaced.io.Lock()
		unlockReplaced = sync.OnceFunc(replaced.io.Unlock)
		defer unlockReplaced()
		if errno := replaced.detachIO(ctx); errno != 0 {
			return errno
		}
	}
	ctime, err := d.fsys.moveObject(ctx, src, dst, a.Size)
	if err != nil {
		return d.fsys.errno("rename", src.key, err)
	}
	if err := d.fsys.store.DeleteObject(ctx, src.bucket, src.key); err != nil {
		return d.fsys.errno("rename", src.key, err)
	}
	if replaced != nil {
		replaced.markUnlinked() // replaced: its own writes must not come back
	}
	unlockReplaced()
	// The copy's ETag need not be the source's (a multipart copy): open
	// handles learn it from their next answer.
	a.ETag = ""
	if a.Meta != nil {
		m := a.Meta.clone()
		m.Ctime = ctime // what the copy's metadata says
		a.Meta = m
	}
	if f := d.childFile(name); f != nil {
		f.mu.Lock()
		f.attr.ETag = ""
		f.gen++
		f.mu.Unlock()
	}
	d.fsys.forget(src)
	d.fsys.remember(dst, a)
	return 0
}

// forgetTree drops what the caches know of directory l and below.
func (f *FS) forgetTree(l loc) {
	f.forget(l)
	f.attrs.RemovePrefix(l.asDir().cacheKey())
	f.listings.RemovePrefix(l.asDir().cacheKey())
	f.relisting.Range(func(k, _ any) bool {
		if strings.HasPrefix(k.(string), l.asDir().cacheKey()) {
			f.relisting.Delete(k)
		}
		return true
	})
}

// copyObject copies src, of size bytes, to dst with its metadata.
func (f *FS) copyObject(ctx context.Context, src, dst loc, size int64) error {
	_, err := f.store.CopyObjectAnySize(ctx, dst.bucket, dst.key, src.bucket, src.key, size, s3client.CopyOptions{})
	return err
}

// moveObject copies file src, of size bytes, to dst with all its
// headers, sent again with REPLACE after a HEAD: the COPY directive loses
// some (MinIO drops Expires). A Content-Type derived from the old name
// (derivedContentType) is derived again from the new one; an explicit
// one is kept. It returns the ctime the copy's metadata holds.
func (f *FS) moveObject(ctx context.Context, src, dst loc, size int64) (ctime time.Time, err error) {
	info, err := f.store.HeadObject(ctx, src.bucket, src.key)
	if err != nil {
		return time.Time{}, err
	}
	ct := info.ContentType
	if derivedContentType(ct, src.key) && info.Metadata["mode"] != strconv.Itoa(syscall.S_IFLNK|0o777) {
		ct = contentType(dst.key) // a type from the old name follows the new one
	}
	md := make(map[string]string, len(info.Metadata)+1)
	for k, v := range info.Metadata {
		md[k] = v
	}
	ctime = time.Unix(time.Now().Unix(), 0) // a rename moves ctime
	md["ctime"] = strconv.FormatInt(ctime.Unix(), 10)
	_, err = f.store.CopyObjectAnySize(ctx, dst.bucket, dst.key, src.bucket, src.key, size, s3client.CopyOptions{
		ReplaceMetadata: true, Metadata: md, ContentType: ct,
		ContentHeaders: info.ContentHeaders, IfMatch: info.ETag,
	})
	return ctime, err
}

// renameDir copies every key below src/ to dst/, then deletes the
// sources. Nothing is deleted unless every copy succeeded.
func (f *FS) renameDir(ctx context.Context, src, dst loc) error {
	var objects []s3client.ListedObject
	in := s3client.ListInput{Prefix: src.key + "/"}
	for {
		page, err := f.store.ListObjects(ctx, src.bucket, in)
		if err != nil {
			return err
		}
		objects = append(objects, page.Objects...)
		if !page.IsTruncated {
			break
		}
		in.ContinuationToken = page.NextContinuationToken
	}
	if len(objects) == 0 { // an empty implied directory: keep it visible
		return f.putMarker(ctx, dst, &Meta{UID: -1, GID: -1, ContentType: dirContentType})
	}
	err := parallel(objects, func(o s3client.ListedObject) error {
		to := loc{dst.bucket, dst.key + "/" + strings.TrimPrefix(o.Key, src.key+"/")}
		return f.copyObject(ctx, loc{src.bucket, o.Key}, to, o.Size)
	})
	if err != nil {
		return err
	}
	return parallel(objects, func(o s3client.ListedObject) error {
		err := f.store.DeleteObject(ctx, src.bucket, o.Key)
		if errors.Is(err, s3client.ErrNotFound) {
			return nil
		}
		return err
	})
}

// parallel runs fn on every item, copyParallel at a time, and returns the
// first error.
func parallel[T any](items []T, fn func(T) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex // protects first
		first error
	)
	slots := make(chan struct{}, copyParallel)
	for _, it := range items {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if err := fn(it); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}
