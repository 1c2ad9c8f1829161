package s3client

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// CopyOptions are the optional parts of a CopyObject.
type CopyOptions struct {
	// ReplaceMetadata sends x-amz-metadata-directive: REPLACE: the copy
	// gets Metadata and ContentType instead of the source's. Without it
	// (COPY) the source's metadata is kept and both fields are ignored.
	ReplaceMetadata bool
	Metadata        map[string]string // sent as x-amz-meta-<name>
	// ContentType of the copy under REPLACE; "" means
	// application/octet-stream, as for PutObject.
	ContentType string
	// IfMatch makes the copy conditional on the source's ETag
	// (x-amz-copy-source-if-match); a mismatch is ErrPreconditionFailed.
	IfMatch string
}

// xmlCopyResult is the body of a CopyObject (<CopyObjectResult>) or an
// UploadPartCopy (<CopyPartResult>).
type xmlCopyResult struct {
	ETag         string `xml:"ETag"`
	LastModified string `xml:"LastModified"`
}

// CopyObject copies srcBucket/srcKey to bucket/key on the server, without
// the data passing through us, and returns the new ETag. Copying an object
// onto itself with ReplaceMetadata is how its metadata is changed. Errors,
// including those S3 reports in the body of a 200, are *Error for the
// destination bucket/key.
func (c *Client) CopyObject(ctx context.Context, bucket, key, srcBucket, srcKey string, opts CopyOptions) (etag string, err error) {
	h := http.Header{}
	if opts.ReplaceMetadata {
		h = PutOptions{ContentType: opts.ContentType, Metadata: opts.Metadata}.header()
		h.Set("X-Amz-Metadata-Directive", "REPLACE")
	} else {
		h.Set("X-Amz-Metadata-Directive", "COPY")
	}
	h.Set("X-Amz-Copy-Source", copySource(srcBucket, srcKey))
	if opts.IfMatch != "" {
		h.Set("X-Amz-Copy-Source-If-Match", opts.IfMatch)
	}
	body, err := c.doXML(ctx, &request{op: "CopyObject", method: http.MethodPut, bucket: bucket, key: key, header: h})
	if err != nil {
		return "", err
	}
	etag, _, err = parseCopyResult(body)
	if err != nil {
		return "", fmt.Errorf("s3 CopyObject %q from %q: %w", where(bucket, key), where(srcBucket, srcKey), err)
	}
	return etag, nil
}

// copySource is the x-amz-copy-source value: /bucket/key with the key
// URI-encoded.
func copySource(bucket, key string) string {
	return "/" + bucket + "/" + uriEncode(key, true)
}

// parseCopyResult decodes a <CopyObjectResult> or <CopyPartResult> body.
// An <Error> body is not a copy result: callers check embeddedError first.
// A missing ETag is returned as "" (the copy was made: it is not worth
// failing over), and a LastModified that does not parse is left zero.
func parseCopyResult(body []byte) (etag string, lastModified time.Time, err error) {
	var x xmlCopyResult
	if err := unmarshalRoot(body, &x, "CopyObjectResult", "CopyPartResult"); err != nil {
		return "", time.Time{}, err
	}
	t, _ := time.Parse(time.RFC3339Nano, x.LastModified)
	return x.ETag, t, nil
}
