package fs

import (
	"context"
	"io"

	"github.com/bucketfs/bucketfs/s3client"
)

// uninterruptible runs every store call without the FUSE request's
// cancellation: a signal to the caller (FUSE INTERRUPT) does not abandon
// S3 work, as in s3fs and rclone.
type uninterruptible struct{ s Store }

func bg(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

func (u uninterruptible) HeadObject(ctx context.Context, b, k string) (*s3client.ObjectInfo, error) {
	return u.s.HeadObject(bg(ctx), b, k)
}
func (u uninterruptible) ReadObject(ctx context.Context, b, k string, off int64, p []byte, o s3client.GetOptions) (int, *s3client.ObjectInfo, error) {
	return u.s.ReadObject(bg(ctx), b, k, off, p, o)
}
func (u uninterruptible) PutObject(ctx context.Context, b, k string, body io.ReaderAt, n int64, o s3client.PutOptions) (string, error) {
	return u.s.PutObject(bg(ctx), b, k, body, n, o)
}
func (u uninterruptible) DeleteObject(ctx context.Context, b, k string) error {
	return u.s.DeleteObject(bg(ctx), b, k)
}
func (u uninterruptible) CopyObject(ctx context.Context, b, k, sb, sk string, o s3client.CopyOptions) (string, error) {
	return u.s.CopyObject(bg(ctx), b, k, sb, sk, o)
}
func (u uninterruptible) CopyObjectAnySize(ctx context.Context, b, k, sb, sk string, size int64, o s3client.CopyOptions) (string, error) {
	return u.s.CopyObjectAnySize(bg(ctx), b, k, sb, sk, size, o)
}
func (u uninterruptible) ListObjects(ctx context.Context, b string, in s3client.ListInput) (*s3client.ListPage, error) {
	return u.s.ListObjects(bg(ctx), b, in)
}
func (u uninterruptible) CreateMultipartUpload(ctx context.Context, b, k string, o s3client.PutOptions) (string, error) {
	return u.s.CreateMultipartUpload(bg(ctx), b, k, o)
}
func (u uninterruptible) UploadPart(ctx context.Context, b, k, id string, n int, body io.ReaderAt, size int64) (string, error) {
	return u.s.UploadPart(bg(ctx), b, k, id, n, body, size)
}
func (u uninterruptible) CompleteMultipartUpload(ctx context.Context, b, k, id string, parts []s3client.CompletedPart) (string, error) {
	return u.s.CompleteMultipartUpload(bg(ctx), b, k, id, parts)
}
func (u uninterruptible) AbortMultipartUpload(ctx context.Context, b, k, id string) error {
	return u.s.AbortMultipartUpload(bg(ctx), b, k, id)
}
func (u uninterruptible) ListBuckets(ctx context.Context) ([]s3client.BucketInfo, error) {
	return u.s.ListBuckets(bg(ctx))
}
func (u uninterruptible) HeadBucket(ctx context.Context, b string) error {
	return u.s.HeadBucket(bg(ctx), b)
}
func (u uninterruptible) CreateBucket(ctx context.Context, b string) error {
	return u.s.CreateBucket(bg(ctx), b)
}
func (u uninterruptible) DeleteBucket(ctx context.Context, b string) error {
	return u.s.DeleteBucket(bg(ctx), b)
}
