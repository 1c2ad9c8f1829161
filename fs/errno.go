package fs

import (
	"context"
	"errors"
	"net"
	"syscall"

	"github.com/bucketfs/bucketfs/s3client"
)

// toErrno maps an error from the store to the errno a user sees. It is
// the only such mapping in bucketfs.
func toErrno(err error) syscall.Errno {
	var errno syscall.Errno
	var netErr *net.OpError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case errors.As(err, &netErr):
		// A network failure is EIO, not the socket's errno
		// (ECONNREFUSED, ECONNRESET, EPIPE) that sits inside it.
		return syscall.EIO
	case errors.As(err, &errno):
		return errno
	case errors.Is(err, s3client.ErrNotFound):
		return syscall.ENOENT
	case errors.Is(err, s3client.ErrAccessDenied):
		return syscall.EACCES
	case errors.Is(err, s3client.ErrBucketNotEmpty):
		return syscall.ENOTEMPTY
	case errors.Is(err, s3client.ErrAlreadyExists):
		return syscall.EEXIST
	case errors.Is(err, s3client.ErrInvalidName):
		return syscall.EINVAL
	case errors.Is(err, s3client.ErrKeyTooLong):
		return syscall.ENAMETOOLONG
	}
	return syscall.EIO
}

// errno maps err for an operation on key, logging what a user would
// otherwise not see: everything but plain not-found.
func (f *FS) errno(op, key string, err error) syscall.Errno {
	e := toErrno(err)
	if e != syscall.ENOENT {
		f.log.WithField("key", key).Warnf("%s failed (%v): %v", op, e, err)
	}
	return e
}
