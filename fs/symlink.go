package fs

import (
	"context"
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
	buf := make([]byte, 4096)
	n, _, err := s.fsys.data.ReadObject(ctx, l.bucket, l.key, 0, buf, s3client.GetOptions{})
	if err != nil {
		return nil, s.fsys.errno("readlink", l.key, err)
	}
	target := buf[:n]
	s.target = target
	return target, 0
}

// attr is what the link is now. Meta is nil when only a listing was seen.
func (s *Symlink) attr(ctx context.Context) (loc, Attr, syscall.Errno) {
	l, ok := s.fsys.locate(&s.Inode, false)
	if !ok {
		return loc{}, Attr{}, syscall.ENOENT
	}
	a, errno := s.fsys.stat(ctx, l)
	return l, a, errno
}

// asLink is a with the link type a listing cannot tell.
func asLink(a Attr) Attr {
	if a.kind() != syscall.S_IFLNK {
		a.Meta = a.Meta.clone()
		a.Meta.Mode = syscall.S_IFLNK | 0o777
	}
	return a
}

var _ = (gofs.NodeGetattrer)((*Symlink)(nil))

// Getattr reports the link with its stored owner and times.
func (s *Symlink) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	_, a, errno := s.attr(ctx)
	if errno != 0 {
		return errno
	}
	s.fsys.fillAttr(asLink(a), &out.Attr)
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
	l, a, errno := s.attr(ctx)
	if errno == 0 && a.Meta == nil {
		// Only a listing was seen: learn what the object has, to keep it.
		a, errno = s.fsys.statKnown(ctx, l, a)
	}
	if errno != 0 {
		return errno
	}
	meta := applySetattr(a.Meta.clone(), in, syscall.S_IFLNK)
	meta.Mode = syscall.S_IFLNK | 0o777
	if _, err := s.fsys.rewriteMeta(ctx, l, meta); err != nil {
		return s.fsys.errno("setattr", l.key, err)
	}
	a.Meta = meta
	s.fsys.remember(l, a)
	s.fsys.fillAttr(a, &out.Attr)
	return 0
}
