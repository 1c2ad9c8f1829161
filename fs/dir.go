package fs

import (
	"bytes"
	"context"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/bucketfs/bucketfs/s3client"
)

// Dir is a directory: the bucket root, a marker object "a/b/", or a
// prefix implied by deeper keys.
type Dir struct {
	gofs.Inode
	fsys *FS
}

// prefix is the key prefix of d's children, "" or ending in "/".
func (d *Dir) prefix() (string, bool) {
	rel, ok := relPath(&d.Inode)
	if !ok {
		return "", false
	}
	if rel == "" {
		return d.fsys.opts.Prefix, true
	}
	return d.fsys.opts.Prefix + rel + "/", true
}

var _ = (gofs.NodeGetattrer)((*Dir)(nil))

// Getattr reports a directory with the mount's owner and mode.
func (d *Dir) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.fsys.fillAttr(Attr{Dir: true}, &out.Attr)
	return 0
}

var _ = (gofs.NodeLookuper)((*Dir)(nil))

// Lookup finds name as a file (HEAD) or a directory (a key below name/).
func (d *Dir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	prefix, ok := d.prefix()
	if !ok {
		return nil, syscall.ENOENT
	}
	a, errno := d.fsys.stat(ctx, prefix+name)
	if errno != 0 {
		return nil, errno
	}
	return d.child(ctx, name, a, &out.Attr), 0
}

// child returns the inode for name, reusing a known one of the same type.
func (d *Dir) child(ctx context.Context, name string, a Attr, out *fuse.Attr) *gofs.Inode {
	d.fsys.fillAttr(a, out)
	if ch := d.GetChild(name); ch != nil {
		switch n := ch.Operations().(type) {
		case *Dir:
			if a.Dir {
				return ch
			}
		case *File:
			if !a.Dir {
				n.refresh(a, out)
				return ch
			}
		}
	}
	if a.Dir {
		return d.NewInode(ctx, &Dir{fsys: d.fsys}, gofs.StableAttr{Mode: syscall.S_IFDIR})
	}
	return d.NewInode(ctx, &File{fsys: d.fsys, size: a.Size, mtime: a.Mtime}, gofs.StableAttr{Mode: syscall.S_IFREG})
}

var _ = (gofs.NodeReaddirer)((*Dir)(nil))

// Readdir lists the directory with LIST (delimiter "/"); sizes and times
// come from the listing and are cached, so no HEAD per entry.
func (d *Dir) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	prefix, ok := d.prefix()
	if !ok {
		return nil, syscall.ENOENT
	}
	entries, err := d.fsys.list(ctx, prefix)
	if err != nil {
		return nil, d.fsys.errno("list", prefix, err)
	}
	out := make([]fuse.DirEntry, 0, len(entries))
	for _, e := range entries {
		mode := uint32(syscall.S_IFREG)
		if e.attr.Dir {
			mode = syscall.S_IFDIR
		}
		out = append(out, fuse.DirEntry{Name: e.name, Mode: mode})
	}
	return gofs.NewListDirStream(out), 0
}

var _ = (gofs.NodeCreater)((*Dir)(nil))

// Create makes a new, empty file; it is uploaded on flush.
func (d *Dir) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	prefix, ok := d.prefix()
	if !ok {
		return nil, nil, 0, syscall.ENOENT
	}
	now := time.Now()
	f := &File{fsys: d.fsys, mtime: now, data: []byte{}, loaded: true, dirty: true, writers: 1}
	d.fsys.cache.Put(prefix+name, Attr{Mtime: now})
	d.fsys.fillAttr(Attr{Mtime: now}, &out.Attr)
	ch := d.NewInode(ctx, f, gofs.StableAttr{Mode: syscall.S_IFREG})
	return ch, &handle{file: f, writable: true}, 0, 0
}

var _ = (gofs.NodeUnlinker)((*Dir)(nil))

// Unlink deletes the object.
func (d *Dir) Unlink(ctx context.Context, name string) syscall.Errno {
	prefix, ok := d.prefix()
	if !ok {
		return syscall.ENOENT
	}
	key := prefix + name
	if err := d.fsys.store.DeleteObject(ctx, d.fsys.opts.Bucket, key); err != nil {
		return d.fsys.errno("delete", key, err)
	}
	d.fsys.cache.PutMissing(key)
	if ch := d.GetChild(name); ch != nil {
		if f, ok := ch.Operations().(*File); ok {
			f.markUnlinked()
		}
	}
	return 0
}

var _ = (gofs.NodeMkdirer)((*Dir)(nil))

// Mkdir writes a directory marker "name/".
func (d *Dir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	prefix, ok := d.prefix()
	if !ok {
		return nil, syscall.ENOENT
	}
	key := prefix + name
	if _, err := d.fsys.store.PutObject(ctx, d.fsys.opts.Bucket, key+"/", bytes.NewReader(nil), 0, s3client.PutOptions{}); err != nil {
		return nil, d.fsys.errno("mkdir", key+"/", err)
	}
	a := Attr{Dir: true}
	d.fsys.cache.Put(key, a)
	return d.child(ctx, name, a, &out.Attr), 0
}

var _ = (gofs.NodeRmdirer)((*Dir)(nil))

// Rmdir deletes the marker of an empty directory.
func (d *Dir) Rmdir(ctx context.Context, name string) syscall.Errno {
	prefix, ok := d.prefix()
	if !ok {
		return syscall.ENOENT
	}
	key := prefix + name + "/"
	page, err := d.fsys.store.ListObjectsV2(ctx, d.fsys.opts.Bucket, s3client.ListInput{Prefix: key, MaxKeys: 2})
	if err != nil {
		return d.fsys.errno("rmdir", key, err)
	}
	for _, o := range page.Objects {
		if o.Key != key {
			return syscall.ENOTEMPTY
		}
	}
	if err := d.fsys.store.DeleteObject(ctx, d.fsys.opts.Bucket, key); err != nil {
		return d.fsys.errno("rmdir", key, err)
	}
	d.fsys.cache.PutMissing(prefix + name)
	return 0
}

var _ = (gofs.NodeStatfser)((*Dir)(nil))

// Statfs reports a large, mostly free filesystem so tools do not refuse
// to write; S3 has no fixed capacity.
func (d *Dir) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	const blocks = 1 << 40 // 4 PiB of 4 KiB blocks
	out.Bsize, out.Frsize = 4096, 4096
	out.Blocks, out.Bfree, out.Bavail = blocks, blocks, blocks
	out.Files, out.Ffree = 1<<40, 1<<40
	out.NameLen = 255
	return 0
}
