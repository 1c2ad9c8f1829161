package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
)

// Extended attributes are not stored (only s3fs's mode/uid/gid/mtime
// metadata is): getting or listing them says the filesystem does not
// support them (the kernel answers that itself, see NewRawFS), and so
// does setting one, as cp -a and rsync -X expect.

var _ = (gofs.NodeSetxattrer)((*File)(nil))

// Setxattr is not supported.
func (f *File) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.ENOTSUP
}

var _ = (gofs.NodeSetxattrer)((*Dir)(nil))

// Setxattr is not supported.
func (d *Dir) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.ENOTSUP
}

var _ = (gofs.NodeSetxattrer)((*Symlink)(nil))

// Setxattr is not supported.
func (s *Symlink) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.ENOTSUP
}
