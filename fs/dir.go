package fs

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/bucketfs/bucketfs/s3client"
)

// Dir is a directory: a bucket root, a marker object "a/b/", or a prefix
// implied by deeper keys.
type Dir struct {
	gofs.Inode
	fsys *FS

	mu sync.Mutex // protects root
	// root is what chmod, chown and touch set on a bucket root, which
	// has no marker to store them in: kept in memory for the mount's
	// lifetime. nil until then.
	root *Meta
}

// where is d's location (key prefix ending in "/", or the mount prefix).
func (d *Dir) where() (loc, syscall.Errno) {
	l, ok := d.fsys.locate(&d.Inode, true)
	if !ok {
		return loc{}, syscall.ENOENT
	}
	return l, 0
}

// isBucketRoot reports whether d is the top of a bucket (or of the
// mounted prefix): it has no marker of its own.
func (d *Dir) isBucketRoot() bool {
	if d.IsRoot() {
		return true
	}
	_, parent := d.Parent()
	if parent == nil {
		return false
	}
	_, ok := parent.Operations().(*EndpointRoot)
	return ok
}

// changing is the location of name for a change in d: EROFS on a
// read-only mount.
func (d *Dir) changing(name string) (loc, syscall.Errno) {
	if errno := d.fsys.readOnly(); errno != 0 {
		return loc{}, errno
	}
	l, errno := d.where()
	if errno != 0 {
		return loc{}, errno
	}
	if errno := nameTooLong(l, name); errno != 0 {
		return loc{}, errno
	}
	return l.child(name), 0
}

// Limits on names: a file name (as most filesystems), and a key (S3).
const (
	maxName = 255
	maxKey  = 1024
)

// nameTooLong is ENAMETOOLONG if name in directory location d cannot be
// stored (a name over 255 bytes, or a key, with a directory's "/", over
// 1024 bytes), so that it fails at once instead of at upload.
func nameTooLong(d loc, name string) syscall.Errno {
	if len(name) > maxName || len(d.key)+len(name)+1 > maxKey {
		return syscall.ENAMETOOLONG
	}
	return 0
}

var _ = (gofs.NodeGetattrer)((*Dir)(nil))

// Getattr reports the directory with its marker's metadata, if any.
func (d *Dir) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	a := Attr{Dir: true}
	if d.isBucketRoot() {
		d.mu.Lock()
		a.Meta = d.root
		d.mu.Unlock()
	} else {
		l, errno := d.where()
		if errno != 0 {
			return errno
		}
		if a, errno = d.fsys.stat(ctx, l.asFile()); errno != 0 {
			return errno
		}
	}
	d.fsys.fillAttr(a, &out.Attr)
	return 0
}

var _ = (gofs.NodeLookuper)((*Dir)(nil))

// Lookup finds name as a file (HEAD) or a directory (a key below name/).
func (d *Dir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	l, errno := d.where()
	if errno != 0 {
		return nil, errno
	}
	if errno := nameTooLong(l, name); errno != 0 {
		return nil, errno
	}
	c := l.child(name)
	a, exact, errno := d.fsys.statLazy(ctx, c)
	if errno == 0 && !exact && !typeKnown(a) {
		a, errno = d.fsys.exact(ctx, c, a) // a small object may be a link
		exact = true
	}
	if errno != 0 {
		return nil, errno
	}
	if !exact {
		// Lazy attributes: the name resolves without a HEAD (rm, mv, open
		// and read never need the mode), and the kernel asks again at
		// the first stat, which fetches the metadata.
		out.SetAttrTimeout(notExact)
	}
	return d.child(ctx, name, a, &out.Attr), 0
}

// child returns the inode for name, reusing a known one of the same type.
func (d *Dir) child(ctx context.Context, name string, a Attr, out *fuse.Attr) *gofs.Inode {
	d.fsys.fillAttr(a, out)
	kind := a.kind()
	if ch := d.GetChild(name); ch != nil && ch.Mode()&syscall.S_IFMT == kind {
		if f, ok := ch.Operations().(*File); ok {
			f.refresh(a, out)
		}
		return ch
	}
	var node gofs.InodeEmbedder
	switch kind {
	case syscall.S_IFDIR:
		node = &Dir{fsys: d.fsys}
	case syscall.S_IFLNK:
		node = &Symlink{fsys: d.fsys}
	default:
		node = &File{fsys: d.fsys, attr: a}
	}
	return d.NewInode(ctx, node, gofs.StableAttr{Mode: kind})
}

var _ = (gofs.NodeReaddirer)((*Dir)(nil))

// Readdir lists the directory with LIST (delimiter "/"); sizes and times
// come from the listing, which is cached as complete.
func (d *Dir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	l, errno := d.where()
	if errno != 0 {
		return nil, errno
	}
	entries, err := d.fsys.readdirList(ctx, l)
	if err != nil {
		return nil, d.fsys.errno("list", l.key, err)
	}
	seen := make(map[string]bool, len(entries))
	out := make([]fuse.DirEntry, 0, len(entries))
	for _, e := range entries {
		seen[e.name] = true
		out = append(out, fuse.DirEntry{Name: e.name, Mode: e.attr.kind()})
	}
	// Files created here and not uploaded yet are not listed by S3.
	for name, ch := range d.Children() {
		if f, ok := ch.Operations().(*File); ok && !seen[name] && f.pending() {
			out = append(out, fuse.DirEntry{Name: name, Mode: syscall.S_IFREG})
		}
	}
	return gofs.NewListDirStream(out), 0
}

var _ = (gofs.NodeCreater)((*Dir)(nil))

// Create makes a new, empty file; it is uploaded on flush.
func (d *Dir) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	target, errno := d.changing(name)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	meta := d.fsys.newMeta(ctx, syscall.S_IFREG|mode&0o7777)
	f := &File{fsys: d.fsys, attr: Attr{Mtime: meta.Mtime, Meta: meta}}
	f.w = d.fsys.newWriter(0, true)
	f.writers = 1
	f.publish()
	d.fsys.remember(target, f.attr)
	f.mu.Lock()
	f.fillLocked(&out.Attr)
	h := f.newHandleLocked(true)
	f.mu.Unlock()
	ch := d.NewInode(ctx, f, gofs.StableAttr{Mode: syscall.S_IFREG})
	return ch, h, 0, 0
}

// newMeta is the metadata of an object created now by the caller of ctx.
func (f *FS) newMeta(ctx context.Context, mode uint32) *Meta {
	now := time.Now()
	m := &Meta{Mode: mode, UID: int64(f.opts.UID), GID: int64(f.opts.GID), Mtime: now, Ctime: now}
	if caller, ok := fuse.FromContext(ctx); ok {
		m.UID, m.GID = int64(caller.Uid), int64(caller.Gid)
	}
	return m
}

var _ = (gofs.NodeUnlinker)((*Dir)(nil))

// Unlink deletes the object. Handles still open on the file keep its
// content (File.detachIO) and upload nothing.
func (d *Dir) Unlink(ctx context.Context, name string) syscall.Errno {
	target, errno := d.changing(name)
	if errno != 0 {
		return errno
	}
	f := d.childFile(name)
	if f != nil {
		f.io.Lock() // no upload of f may start between the DELETE and markUnlinked
		defer f.io.Unlock()
		if errno := f.detachIO(ctx); errno != 0 {
			return errno
		}
	}
	if err := d.fsys.store.DeleteObject(ctx, target.bucket, target.key); err != nil {
		return d.fsys.errno("delete", target.key, err)
	}
	d.fsys.forget(target)
	if f != nil {
		f.markUnlinked()
	}
	return 0
}

var _ = (gofs.NodeMkdirer)((*Dir)(nil))

// Mkdir writes a directory marker "name/" carrying the mode and owner.
func (d *Dir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	target, errno := d.changing(name)
	if errno != 0 {
		return nil, errno
	}
	meta := d.fsys.newMeta(ctx, syscall.S_IFDIR|mode&0o7777)
	meta.ContentType = dirContentType
	if err := d.fsys.putMarker(ctx, target, meta); err != nil {
		return nil, d.fsys.errno("mkdir", target.key+"/", err)
	}
	a := Attr{Dir: true, Meta: meta}
	d.fsys.remember(target, a)
	d.fsys.listings.Put(target.asDir().cacheKey(), &listing{names: map[string]Attr{}})
	return d.child(ctx, name, a, &out.Attr), 0
}

// putMarker writes the empty marker object of directory l (a file
// location) with meta.
func (f *FS) putMarker(ctx context.Context, l loc, meta *Meta) error {
	marker := l.asDir().key
	_, err := f.store.PutObject(ctx, l.bucket, marker, bytes.NewReader(nil), 0, meta.putOptions(marker))
	return err
}

var _ = (gofs.NodeRmdirer)((*Dir)(nil))

// Rmdir deletes the marker of an empty directory.
func (d *Dir) Rmdir(ctx context.Context, name string) syscall.Errno {
	target, errno := d.changing(name)
	if errno != 0 {
		return errno
	}
	if !d.fsys.emptyListed(target) {
		empty, err := d.fsys.isEmptyDir(ctx, target)
		if err != nil {
			return d.fsys.errno("rmdir", target.key+"/", err)
		}
		if !empty {
			return syscall.ENOTEMPTY
		}
	}
	if err := d.fsys.store.DeleteObject(ctx, target.bucket, target.key+"/"); err != nil && !errors.Is(err, s3client.ErrNotFound) {
		return d.fsys.errno("rmdir", target.key+"/", err)
	}
	if !d.fsys.listedNotOldStyle(target) && d.fsys.isOldStyleDir(ctx, target) {
		if err := d.fsys.store.DeleteObject(ctx, target.bucket, target.key); err != nil && !errors.Is(err, s3client.ErrNotFound) {
			return d.fsys.errno("rmdir", target.key, err)
		}
	}
	d.fsys.forget(target)
	return 0
}

// emptyListed reports whether a fresh listing of directory l (a file
// location), made by a delimited LIST and kept up to date with our own
// changes, shows it empty: no name, no key hidden from it, a marker
// without data. rm -r, which has just listed and emptied the directory,
// then removes it without another LIST. A key another client put there
// since is not lost: the directory stays, implied by it.
func (f *FS) emptyListed(l loc) bool {
	e, ok := f.listings.Get(l.asDir().cacheKey())
	if !ok || e.Missing || e.Value.facts == nil {
		return false
	}
	ls := e.Value
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return len(ls.names) == 0 && ls.facts.hidden == 0 && !ls.facts.markerData
}

// listedNotOldStyle reports whether a fresh delimited listing of l's
// parent shows directory l as a prefix alone, without an object of its
// name: then it is not an old-style s3fs directory object (no HEAD to
// ask). Metadata that could be an old-style object's (a directory mode,
// as markers also carry) keeps the HEAD.
func (f *FS) listedNotOldStyle(l loc) bool {
	dir, name := parentOf(l)
	e, ok := f.listings.Get(dir.cacheKey())
	if !ok || e.Missing || e.Value.facts == nil {
		return false
	}
	ls := e.Value
	ls.mu.Lock()
	defer ls.mu.Unlock()
	a, ok := ls.names[name]
	return ok && a.Dir && !a.Meta.oldStyleDir() && !ls.facts.both[name]
}

// isOldStyleDir reports whether directory l (a file location) is stored
// as an old-style s3fs directory object "a" (Meta.oldStyleDir), with a
// HEAD of it.
func (f *FS) isOldStyleDir(ctx context.Context, l loc) bool {
	info, err := f.store.HeadObject(ctx, l.bucket, l.key)
	return err == nil && parseMeta(info).oldStyleDir()
}

// isEmptyDir reports whether directory l (a file location) holds no key
// but its marker. A marker that holds data (another tool stored bytes in
// "dir/") counts as content: removing the directory would delete them.
func (f *FS) isEmptyDir(ctx context.Context, l loc) (bool, error) {
	marker := l.asDir().key
	page, err := f.store.ListObjects(ctx, l.bucket, s3client.ListInput{Prefix: marker, MaxKeys: 2})
	if err != nil {
		return false, err
	}
	for _, o := range page.Objects {
		if o.Key != marker {
			return false, nil
		}
		if o.Size > 0 {
			f.log.WithField("key", o.Key).Warnf("directory marker %q holds %d bytes of data: not removing it (ENOTEMPTY)", o.Key, o.Size)
			return false, nil
		}
	}
	return len(page.CommonPrefixes) == 0, nil
}

var _ = (gofs.NodeSymlinker)((*Dir)(nil))

// Symlink stores the target as the body of an object whose mode says
// S_IFLNK, as s3fs does.
func (d *Dir) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	at, errno := d.changing(name)
	if errno != 0 {
		return nil, errno
	}
	meta := d.fsys.newMeta(ctx, syscall.S_IFLNK|0o777)
	body := []byte(target)
	if _, err := d.fsys.store.PutObject(ctx, at.bucket, at.key, bytes.NewReader(body), int64(len(body)), meta.putOptions("")); err != nil {
		return nil, d.fsys.errno("symlink", at.key, err)
	}
	a := Attr{Size: int64(len(body)), Mtime: meta.Mtime, Meta: meta}
	d.fsys.remember(at, a)
	return d.child(ctx, name, a, &out.Attr), 0
}

var _ = (gofs.NodeSetattrer)((*Dir)(nil))

// Setattr changes a directory's mode, owner or times by rewriting its
// marker (creating one for an implied directory). At a bucket root,
// which has no marker, it is kept in memory for the mount's lifetime.
func (d *Dir) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if errno := d.fsys.readOnly(); errno != 0 {
		return errno
	}
	if d.isBucketRoot() {
		d.mu.Lock()
		d.root = applySetattr(d.root.clone(), in, syscall.S_IFDIR)
		a := Attr{Dir: true, Meta: d.root}
		d.mu.Unlock()
		d.fsys.fillAttr(a, &out.Attr)
		return 0
	}
	l, errno := d.where()
	if errno != 0 {
		return errno
	}
	file := l.asFile()
	a, errno := d.fsys.stat(ctx, file)
	if errno != 0 {
		return errno
	}
	meta := applySetattr(a.Meta.clone(), in, syscall.S_IFDIR)
	if meta.ContentType == "" {
		meta.ContentType = dirContentType
	}
	// Rewrite the marker's metadata, keeping what else it carries; an
	// implied directory gets a marker.
	_, err := d.fsys.rewriteMeta(ctx, l, meta)
	if errors.Is(err, s3client.ErrNotFound) {
		if d.fsys.isOldStyleDir(ctx, file) {
			_, err = d.fsys.rewriteMeta(ctx, file, meta) // no second, "dir/" marker
		} else {
			err = d.fsys.putMarker(ctx, file, meta)
		}
	}
	if err != nil {
		return d.fsys.errno("setattr", l.key, err)
	}
	a.Meta = meta
	d.fsys.remember(file, a)
	d.fsys.fillAttr(a, &out.Attr)
	return 0
}

var _ = (gofs.NodeStatfser)((*Dir)(nil))

// Statfs reports a large, mostly free filesystem so tools do not refuse
// to write; S3 has no fixed capacity.
func (d *Dir) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	statfs(out)
	return 0
}

func statfs(out *fuse.StatfsOut) {
	const blocks = 1 << 40 // 4 PiB of 4 KiB blocks
	out.Bsize, out.Frsize = 4096, 4096
	out.Blocks, out.Bfree, out.Bavail = blocks, blocks, blocks
	out.Files, out.Ffree = 1<<40, 1<<40
	out.NameLen = 255
}

// childFile is the File node known for name, or nil.
func (d *Dir) childFile(name string) *File {
	if ch := d.GetChild(name); ch != nil {
		f, _ := ch.Operations().(*File)
		return f
	}
	return nil
}

var _ = (gofs.NodeMknoder)((*Dir)(nil))

// Mknod creates an empty regular file for S_IFREG (as Linux does),
// stored at once as an empty object. FIFOs, sockets and device files
// cannot be objects: EPERM, as filesystems without them answer.
func (d *Dir) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if mode&syscall.S_IFMT != syscall.S_IFREG && mode&syscall.S_IFMT != 0 {
		return nil, syscall.EPERM
	}
	target, errno := d.changing(name)
	if errno != 0 {
		return nil, errno
	}
	meta := d.fsys.newMeta(ctx, syscall.S_IFREG|mode&0o7777)
	etag, err := d.fsys.store.PutObject(ctx, target.bucket, target.key, bytes.NewReader(nil), 0, meta.putOptions(target.key))
	if err != nil {
		return nil, d.fsys.errno("mknod", target.key, err)
	}
	a := Attr{Mtime: meta.Mtime, ETag: etag, Meta: meta}
	d.fsys.remember(target, a)
	return d.child(ctx, name, a, &out.Attr), 0
}
