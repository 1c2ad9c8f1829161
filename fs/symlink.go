package fs

import (
	"context"
	"io"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/bucketfs/bucketfs/s3client"
)

// Symlink is a symbolic link stored as s3fs does: an object whose mode
// metadata has S_IFLNK and whose body is the target.
type Symlink struct {
	gofs.Inode
	fsys *FS

	mu     sync.Mutex // protects target
	target []byte     // cached once read
}

var _ = (gofs.NodeReadlinker)((*Symlink)(nil))

// Readlink returns the target, reading the object's body once.
func (s *Symlink) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.target != nil {
		return s.target, 0
	}
	l, ok := s.fsys.locate(&s.Inode, false)
	if !ok {
		return nil, syscall.ENOENT
	}
	body, _, err := s.fsys.store.GetObject(ctx, l.bucket, l.key, 0, 4096)
	if err != nil {
		return nil, s.fsys.errno("readlink", l.key, err)
	}
	defer body.Close()
	target, err := io.ReadAll(body)
	if err != nil {
		return nil, s.fsys.errno("readlink", l.key, err)
	}
	s.target = target
	return target, 0
}

var _ = (gofs.NodeGetattrer)((*Symlink)(nil))

// Getattr reports the link with its stored owner and times.
func (s *Symlink) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	l, ok := s.fsys.locate(&s.Inode, false)
	if !ok {
		return syscall.ENOENT
	}
	a, errno := s.fsys.stat(ctx, l)
	if errno != 0 {
		return errno
	}
	if a.kind() != syscall.S_IFLNK { // only a listing was seen
		a.Meta = a.Meta.clone()
		a.Meta.Mode = syscall.S_IFLNK | 0o777
	}
	s.fsys.fillAttr(a, &out.Attr)
	return 0
}

var _ = (gofs.NodeSetattrer)((*Symlink)(nil))

// Setattr changes the link's owner or times (touch -h, tar, rsync -a) by
// copying the object onto itself with new metadata. A link's mode stays
// 0777, as on Linux.
func (s *Symlink) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if errno := s.fsys.readOnly(); errno != 0 {
		return errno
	}
	if !metaChanges(in) {
		return s.Getattr(ctx, fh, out)
	}
	l, ok := s.fsys.locate(&s.Inode, false)
	if !ok {
		return syscall.ENOENT
	}
	a, errno := s.fsys.stat(ctx, l)
	if errno != 0 {
		return errno
	}
	if a.Meta == nil { // only a listing was seen: keep what the object has
		info, err := s.fsys.store.HeadObject(ctx, l.bucket, l.key)
		if err != nil {
			return s.fsys.errno("setattr", l.key, err)
		}
		a.Meta = parseMeta(info)
	}
	meta := applySetattr(a.Meta.clone(), in, syscall.S_IFLNK)
	meta.Mode = syscall.S_IFLNK | 0o777
	ct := meta.ContentType
	if ct == "" {
		ct = contentType(l.key)
	}
	_, err := s.fsys.store.CopyObject(ctx, l.bucket, l.key, l.bucket, l.key, s3client.CopyOptions{
		ReplaceMetadata: true, Metadata: meta.headers(), ContentType: ct,
	})
	if err != nil {
		return s.fsys.errno("setattr", l.key, err)
	}
	a.Meta = meta
	s.fsys.remember(l, a)
	s.fsys.fillAttr(a, &out.Attr)
	return 0
}
