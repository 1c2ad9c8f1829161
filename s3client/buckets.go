package s3client

import (
	"bytes"
	"context"
	"net/http"
)

// CreateBucket creates bucket; outside us-east-1 it sends the region as
// the location constraint.
func (c *Client) CreateBucket(ctx context.Context, bucket string) error {
	r := &request{op: "CreateBucket", method: http.MethodPut, bucket: bucket}
	if c.opts.Region != "us-east-1" {
		body := []byte(`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
			`<LocationConstraint>` + c.opts.Region + `</LocationConstraint></CreateBucketConfiguration>`)
		r.body, r.size = bytes.NewReader(body), int64(len(body))
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	drain(resp)
	return nil
}

// DeleteBucket deletes an empty bucket.
func (c *Client) DeleteBucket(ctx context.Context, bucket string) error {
	resp, err := c.do(ctx, &request{op: "DeleteBucket", method: http.MethodDelete, bucket: bucket})
	if err != nil {
		return err
	}
	drain(resp)
	return nil
}
