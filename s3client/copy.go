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
	// ContentHeaders of the copy under REPLACE.
	ContentHeaders
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
		h = PutOptions{ContentType: opts.ContentType, Metadata: opts.Metadata, ContentHeaders: opts.ContentHeaders}.header()
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

// Limits of CopyObjectAnySize.
const (
	maxCopySize  = 5 << 30   // the largest object one CopyObject may copy
	copyPartSize = 512 << 20 // the part size of a multipart copy
)

// CopyObjectAnySize copies srcBucket/srcKey, of size bytes, to bucket/key
// on the server, whatever its size, and returns the new ETag ("" if the
// server named none). Up to 5 GiB it is one CopyObject. A larger object,
// which CopyObject refuses, is copied as a multipart upload of 512 MiB
// UploadPartCopy parts: a HEAD of the source gives its size, content type
// and metadata, which the copy keeps (with ReplaceMetadata it gets those
// of opts instead), and IfMatch is sent with every part. A multipart copy
// that fails is aborted; one that succeeds has an ETag unlike the
// source's.
func (c *Client) CopyObjectAnySize(ctx context.Context, bucket, key, srcBucket, srcKey string, size int64, opts CopyOptions) (etag string, err error) {
	return c.copyAnySize(ctx, bucket, key, srcBucket, srcKey, size, opts, maxCopySize, copyPartSize)
}

// copyAnySize is CopyObjectAnySize with its limits as parameters: objects
// over maxSingle bytes are copied in parts of partSize bytes.
func (c *Client) copyAnySize(ctx context.Context, bucket, key, srcBucket, srcKey string, size int64, opts CopyOptions, maxSingle, partSize int64) (string, error) {
	if size <= maxSingle {
		return c.CopyObject(ctx, bucket, key, srcBucket, srcKey, opts)
	}
	info, err := c.HeadObject(ctx, srcBucket, srcKey)
	if err != nil {
		return "", err
	}
	put := PutOptions{ContentType: info.ContentType, Metadata: info.Metadata, ContentHeaders: info.ContentHeaders}
	if opts.ReplaceMetadata {
		put = PutOptions{ContentType: opts.ContentType, Metadata: opts.Metadata, ContentHeaders: opts.ContentHeaders}
	}
	id, err := c.CreateMultipartUpload(ctx, bucket, key, put)
	if err != nil {
		return "", err
	}
	abort := func() { c.AbortMultipartUpload(context.WithoutCancel(ctx), bucket, key, id) }
	var parts []CompletedPart
	for off, n := int64(0), 1; off < info.Size; off, n = off+partSize, n+1 {
		last := min(off+partSize, info.Size) - 1
		etag, err := c.uploadPartCopy(ctx, bucket, key, id, n, srcBucket, srcKey, off, last, opts.IfMatch)
		if err != nil {
			abort()
			return "", err
		}
		parts = append(parts, CompletedPart{PartNumber: n, ETag: etag})
	}
	etag, err := c.CompleteMultipartUpload(ctx, bucket, key, id, parts)
	if err != nil {
		abort()
		return "", err
	}
	return etag, nil
}
