package fs

import (
	"context"
	"io"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
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
