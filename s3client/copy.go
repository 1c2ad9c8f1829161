package s3client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
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
// destination bucket/key. A server that cannot copy the object (Ceph RGW
// 16 answers NotImplemented for an encrypted source) gets it read and
// written again through us (copyThrough).
func (c *Client) CopyObject(ctx context.Context, bucket, key, srcBucket, srcKey string, opts CopyOptions) (etag string, err error) {
	etag, err = c.copyObject(ctx, bucket, key, srcBucket, srcKey, opts)
	if notImplemented(err) {
		return c.copyThrough(ctx, bucket, key, srcBucket, srcKey, opts, copyThroughPartSize, err)
	}
	return etag, err
}

// copyObject is one CopyObject request.
func (c *Client) copyObject(ctx context.Context, bucket, key, srcBucket, srcKey string, opts CopyOptions) (etag string, err error) {
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
	etag, err := c.copyInParts(ctx, bucket, key, srcBucket, srcKey, opts, partSize)
	if notImplemented(err) {
		return c.copyThrough(ctx, bucket, key, srcBucket, srcKey, opts, copyThroughPartSize, err)
	}
	return etag, err
}

// copyInParts copies an object as a multipart upload of UploadPartCopy
// parts of partSize bytes.
func (c *Client) copyInParts(ctx context.Context, bucket, key, srcBucket, srcKey string, opts CopyOptions, partSize int64) (string, error) {
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

// copyThroughPartSize is the part size of a copy through the client: the
// memory it takes.
const copyThroughPartSize = 16 << 20

// notImplemented reports whether err is a server's NotImplemented (501).
func notImplemented(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.StatusCode == http.StatusNotImplemented || e.Code == "NotImplemented")
}

// copyThrough copies srcBucket/srcKey to bucket/key by reading it and
// writing it again, for a server that refused to copy it (why): one PUT
// up to partSize bytes, else a multipart upload of partSize parts, one
// part in memory at a time. Every read is pinned (If-Match) to the
// version a HEAD found, which must match opts.IfMatch if set. The copy
// keeps the source's content type and metadata unless
// opts.ReplaceMetadata, as CopyObject does.
func (c *Client) copyThrough(ctx context.Context, bucket, key, srcBucket, srcKey string, opts CopyOptions, partSize int64, why error) (string, error) {
	c.mu.Lock()
	first := !c.copyThroughLogged
	c.copyThroughLogged = true
	c.mu.Unlock()
	if first {
		c.log.WithFields(logrus.Fields{"bucket": srcBucket, "key": srcKey}).
			Warnf("the server cannot copy this object itself (%v): copying it, and the next such, through bucketfs (GET and PUT)", why)
	}
	info, err := c.HeadObject(ctx, srcBucket, srcKey)
	if err != nil {
		return "", err
	}
	if opts.IfMatch != "" && trimETag(info.ETag) != trimETag(opts.IfMatch) {
		return "", &Error{Op: "CopyObject", Bucket: srcBucket, Key: srcKey, StatusCode: http.StatusPreconditionFailed,
			Code: "PreconditionFailed", Message: "the source changed"}
	}
	put := PutOptions{ContentType: info.ContentType, Metadata: info.Metadata, ContentHeaders: info.ContentHeaders}
	if opts.ReplaceMetadata {
		put = PutOptions{ContentType: opts.ContentType, Metadata: opts.Metadata, ContentHeaders: opts.ContentHeaders}
	}
	get := GetOptions{IfMatch: info.ETag}
	partSize = max(partSize, (info.Size+MaxParts-1)/MaxParts) // past 156 GiB, larger parts
	buf := make([]byte, min(info.Size, partSize))
	read := func(off int64, p []byte) error {
		n, _, err := c.ReadObject(ctx, srcBucket, srcKey, off, p, get)
		if err == nil && n < len(p) {
			err = fmt.Errorf("s3 GetObject %q: object ended at %d, HEAD said %d bytes", where(srcBucket, srcKey), off+int64(n), info.Size)
		}
		return err
	}
	if info.Size <= partSize {
		if err := read(0, buf); err != nil {
			return "", err
		}
		return c.PutObject(ctx, bucket, key, bytes.NewReader(buf), info.Size, put)
	}
	id, err := c.CreateMultipartUpload(ctx, bucket, key, put)
	if err != nil {
		return "", err
	}
	var parts []CompletedPart
	for off, n := int64(0), 1; off < info.Size && err == nil; off, n = off+partSize, n+1 {
		p := buf[:min(partSize, info.Size-off)]
		var etag string
		if err = read(off, p); err == nil {
			etag, err = c.UploadPart(ctx, bucket, key, id, n, bytes.NewReader(p), int64(len(p)))
		}
		parts = append(parts, CompletedPart{PartNumber: n, ETag: etag})
	}
	var etag string
	if err == nil {
		etag, err = c.CompleteMultipartUpload(ctx, bucket, key, id, parts)
	}
	if err != nil {
		c.AbortMultipartUpload(context.WithoutCancel(ctx), bucket, key, id)
		return "", err
	}
	return etag, nil
}

// trimETag is an ETag without its quotes.
func trimETag(etag string) string { return strings.Trim(etag, `"`) }
