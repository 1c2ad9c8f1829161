package s3client

import "context"

// This file lends the integration tests (package s3client_test) the calls
// that only tests make, which are not part of the package's API.

// ErrBucketNotFound is errBucketNotFound.
var ErrBucketNotFound = errBucketNotFound

// ListObjectsV2 is listObjectsV2.
func (c *Client) ListObjectsV2(ctx context.Context, bucket string, in ListInput) (*ListPage, error) {
	return c.listObjectsV2(ctx, bucket, in)
}

// ListObjectsV1 is listObjectsV1.
func (c *Client) ListObjectsV1(ctx context.Context, bucket string, in ListInput) (*ListPage, error) {
	return c.listObjectsV1(ctx, bucket, in)
}

// ListParts is listParts.
func (c *Client) ListParts(ctx context.Context, bucket, key, uploadID string) ([]Part, error) {
	return c.listParts(ctx, bucket, key, uploadID)
}
