package fs

import (
	"context"
	"errors"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/bucketfs/bucketfs/s3client"
)

// EndpointRoot is the root of a whole-endpoint mount: one directory per
// bucket. mkdir creates a bucket, rmdir deletes one; files cannot live here.
type EndpointRoot struct {
	gofs.Inode
	fsys *FS
}

var _ = (gofs.NodeGetattrer)((*EndpointRoot)(nil))

// Getattr reports a directory.
func (r *EndpointRoot) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	r.fsys.fillAttr(Attr{Dir: true}, &out.Attr)
	return 0
}

var _ = (gofs.NodeReaddirer)((*EndpointRoot)(nil))

// Readdir lists the buckets.
func (r *EndpointRoot) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	buckets, err := r.fsys.store.ListBuckets(ctx)
	if err != nil {
		return nil, r.fsys.errno("list buckets", "", err)
	}
	out := make([]fuse.DirEntry, 0, len(buckets))
	for _, b := range buckets {
		r.fsys.attrs.Put(b.Name, Attr{Dir: true, Mtime: b.CreationDate})
		out = append(out, fuse.DirEntry{Name: b.Name, Mode: syscall.S_IFDIR})
	}
	return gofs.NewListDirStream(out), 0
}

var _ = (gofs.NodeLookuper)((*EndpointRoot)(nil))

// Lookup finds a bucket with HEAD bucket.
func (r *EndpointRoot) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	a, errno := r.bucketAttr(ctx, name)
	if errno != 0 {
		return nil, errno
	}
	r.fsys.fillAttr(a, &out.Attr)
	if ch := r.GetChild(name); ch != nil {
		return ch, 0
	}
	return r.NewInode(ctx, &Dir{fsys: r.fsys}, gofs.StableAttr{Mode: syscall.S_IFDIR}), 0
}

// bucketAttr answers whether bucket exists, from the cache or HEAD bucket.
// Cache keys of buckets have no "/", unlike those of keys.
func (r *EndpointRoot) bucketAttr(ctx context.Context, bucket string) (Attr, syscall.Errno) {
	if e, ok := r.fsys.attrs.Get(bucket); ok {
		if e.Missing {
			return Attr{}, syscall.ENOENT
		}
		return e.Value, 0
	}
	if err := r.fsys.store.HeadBucket(ctx, bucket); err != nil {
		errno := syscall.ENOENT
		// A name the server refuses outright is no bucket, so mkdir may
		// go on and report EINVAL.
		if !errors.Is(err, s3client.ErrBucketNameRefused) {
			errno = r.fsys.errno("lookup bucket", bucket, err)
		}
		if errno == syscall.ENOENT {
			r.fsys.attrs.PutMissing(bucket)
		}
		return Attr{}, errno
	}
	a := Attr{Dir: true}
	r.fsys.attrs.Put(bucket, a)
	return a, 0
}

var _ = (gofs.NodeMkdirer)((*EndpointRoot)(nil))

// Mkdir creates a bucket: EINVAL for an invalid name, EEXIST if taken.
func (r *EndpointRoot) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if errno := r.fsys.readOnly(); errno != 0 {
		return nil, errno
	}
	if err := r.fsys.store.CreateBucket(ctx, name); err != nil {
		return nil, r.fsys.errno("create bucket", name, err)
	}
	a := Attr{Dir: true, Mtime: time.Now()}
	r.fsys.attrs.Put(name, a)
	r.fsys.fillAttr(a, &out.Attr)
	return r.NewInode(ctx, &Dir{fsys: r.fsys}, gofs.StableAttr{Mode: syscall.S_IFDIR}), 0
}

var _ = (gofs.NodeRmdirer)((*EndpointRoot)(nil))

// Rmdir deletes a bucket: ENOTEMPTY while it holds objects.
func (r *EndpointRoot) Rmdir(ctx context.Context, name string) syscall.Errno {
	if errno := r.fsys.readOnly(); errno != 0 {
		return errno
	}
	if err := r.fsys.store.DeleteBucket(ctx, name); err != nil {
		return r.fsys.errno("delete bucket", name, err)
	}
	r.fsys.attrs.PutMissing(name)
	return 0
}

var _ = (gofs.NodeCreater)((*EndpointRoot)(nil))

// Create refuses files at the endpoint root: only buckets live here.
func (r *EndpointRoot) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EPERM
}

var _ = (gofs.NodeSymlinker)((*EndpointRoot)(nil))

// Symlink refuses links at the endpoint root.
func (r *EndpointRoot) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

var _ = (gofs.NodeRenamer)((*EndpointRoot)(nil))

// Rename refuses to rename buckets.
func (r *EndpointRoot) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return syscall.EPERM
}

var _ = (gofs.NodeStatfser)((*EndpointRoot)(nil))

// Statfs is as for a bucket.
func (r *EndpointRoot) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	statfs(out)
	return 0
}
