package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/bucketfs/bucketfs/s3client"
)

func s3err(status int, code string) *s3client.Error {
	return &s3client.Error{Op: "Test", Bucket: "b", Key: "k", StatusCode: status, Code: code, RequestID: "req1"}
}

// netErr is what s3client returns when the network fails under
// net/http: the errno sits deep inside a *net.OpError.
func netErr(op string, errno syscall.Errno) error {
	opErr := &net.OpError{Op: op, Net: "tcp", Err: os.NewSyscallError(op, errno)}
	return fmt.Errorf("s3 GetObject %q: %w", "b/k", &url.Error{Op: "Get", URL: "http://s3/b/k", Err: opErr})
}

func TestToErrno(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"nil", nil, 0},
		{"NoSuchKey", s3err(http.StatusNotFound, "NoSuchKey"), syscall.ENOENT},
		{"NoSuchBucket", s3err(http.StatusNotFound, "NoSuchBucket"), syscall.ENOENT},
		{"NotFound", s3err(http.StatusNotFound, "NotFound"), syscall.ENOENT},
		{"NoSuchUpload", s3err(http.StatusNotFound, "NoSuchUpload"), syscall.ENOENT},
		{"bare 404", s3err(http.StatusNotFound, ""), syscall.ENOENT},
		{"AccessDenied", s3err(http.StatusForbidden, "AccessDenied"), syscall.EACCES},
		{"InvalidAccessKeyId", s3err(http.StatusForbidden, "InvalidAccessKeyId"), syscall.EACCES},
		{"SignatureDoesNotMatch", s3err(http.StatusForbidden, "SignatureDoesNotMatch"), syscall.EACCES},
		{"bare 403", s3err(http.StatusForbidden, ""), syscall.EACCES},
		{"BucketNotEmpty", s3err(http.StatusConflict, "BucketNotEmpty"), syscall.ENOTEMPTY},
		{"BucketAlreadyExists", s3err(http.StatusConflict, "BucketAlreadyExists"), syscall.EEXIST},
		{"BucketAlreadyOwnedByYou", s3err(http.StatusConflict, "BucketAlreadyOwnedByYou"), syscall.EEXIST},
		{"InvalidBucketName", s3err(http.StatusBadRequest, "InvalidBucketName"), syscall.EINVAL},
		{"KeyTooLongError", s3err(http.StatusBadRequest, "KeyTooLongError"), syscall.ENAMETOOLONG},
		{"InternalError", s3err(http.StatusInternalServerError, "InternalError"), syscall.EIO},
		{"SlowDown", s3err(http.StatusServiceUnavailable, "SlowDown"), syscall.EIO},
		{"PreconditionFailed", s3err(http.StatusPreconditionFailed, "PreconditionFailed"), syscall.EIO},
		{"sentinel ErrNotFound", s3client.ErrNotFound, syscall.ENOENT},
		{"sentinel ErrAccessDenied", s3client.ErrAccessDenied, syscall.EACCES},
		{"sentinel ErrBucketNotEmpty", s3client.ErrBucketNotEmpty, syscall.ENOTEMPTY},
		{"sentinel ErrAlreadyExists", s3client.ErrAlreadyExists, syscall.EEXIST},
		{"sentinel ErrInvalidName", s3client.ErrInvalidName, syscall.EINVAL},
		{"wrapped NoSuchKey", fmt.Errorf("read %q: %w", "k", s3err(http.StatusNotFound, "NoSuchKey")), syscall.ENOENT},
		{"twice wrapped AccessDenied", fmt.Errorf("a: %w", fmt.Errorf("b: %w", s3err(http.StatusForbidden, "AccessDenied"))), syscall.EACCES},
		{"joined", errors.Join(io.ErrUnexpectedEOF, s3err(http.StatusConflict, "BucketNotEmpty")), syscall.ENOTEMPTY},
		{"context canceled", context.Canceled, syscall.EINTR},
		{"wrapped context canceled", fmt.Errorf("get: %w", context.Canceled), syscall.EINTR},
		{"deadline exceeded", context.DeadlineExceeded, syscall.EIO},
		{"raw errno", syscall.ENAMETOOLONG, syscall.ENAMETOOLONG},
		{"raw EROFS", syscall.EROFS, syscall.EROFS},
		{"wrapped errno", fmt.Errorf("key %q: %w", "k", syscall.ENAMETOOLONG), syscall.ENAMETOOLONG},
		{"connection refused", netErr("dial", syscall.ECONNREFUSED), syscall.EIO},
		{"connection reset", netErr("read", syscall.ECONNRESET), syscall.EIO},
		{"broken pipe", netErr("write", syscall.EPIPE), syscall.EIO},
		{"canceled dial", fmt.Errorf("s3 HeadObject: %w", &url.Error{Op: "Head", URL: "http://s3/b/k", Err: &net.OpError{Op: "dial", Net: "tcp", Err: context.Canceled}}), syscall.EINTR},
		{"unknown", errors.New("something odd"), syscall.EIO},
		{"unexpected EOF", io.ErrUnexpectedEOF, syscall.EIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := toErrno(tt.err); got != tt.want {
				t.Errorf("toErrno(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
