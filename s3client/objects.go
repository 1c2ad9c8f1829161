package s3client

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ObjectInfo is what HEAD (or GET) says of an object.
type ObjectInfo struct {
	Key          string
	Size         int64
	LastModified time.Time
	ETag         string
	ContentType  string
	ContentHeaders
	// Encryption is how the server says it encrypted the object: SSES3,
	// SSEKMS (x-amz-server-side-encryption), SSEC (SSE-C headers), or
	// SSENone. The ETag of an encrypted object need not be its MD5.
	Encryption string
	// KMSKeyID is the SSE-KMS key the server names, if any.
	KMSKeyID string
	// StorageClass is x-amz-storage-class; "" is STANDARD.
	StorageClass string
	// Metadata holds the x-amz-meta-* headers, keyed by the lower-case
	// name without the prefix ("mode", "mtime", ...).
	Metadata map[string]string
}

// Encrypted reports whether the server encrypted the object.
func (i *ObjectInfo) Encrypted() bool { return i.Encryption != SSENone }

// ContentHeaders are the standard headers S3 stores with an object
// besides its Content-Type; "" is absent.
type ContentHeaders struct {
	ContentEncoding    string
	ContentDisposition string
	CacheControl       string
	Expires            string
}

// set adds the headers of c that are not empty to h.
func (c ContentHeaders) set(h http.Header) {
	for name, v := range map[string]string{"Content-Encoding": c.ContentEncoding,
		"Content-Disposition": c.ContentDisposition, "Cache-Control": c.CacheControl, "Expires": c.Expires} {
		if v != "" {
			h.Set(name, v)
		}
	}
}

// contentHeaders reads them from a response.
func contentHeaders(h http.Header) ContentHeaders {
	return ContentHeaders{ContentEncoding: h.Get("Content-Encoding"), ContentDisposition: h.Get("Content-Disposition"),
		CacheControl: h.Get("Cache-Control"), Expires: h.Get("Expires")}
}

// PutOptions are the optional parts of a PutObject.
type PutOptions struct {
	ContentType string
	Metadata    map[string]string // sent as x-amz-meta-<name>
	ContentHeaders
}

// header returns the Content-Type and x-amz-meta-* headers of opts.
func (opts PutOptions) header() http.Header {
	h := http.Header{}
	ct := opts.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	opts.ContentHeaders.set(h)
	for k, v := range opts.Metadata {
		h.Set("X-Amz-Meta-"+k, v)
	}
	return h
}

// HeadBucket checks that bucket exists and is reachable with our credentials.
func (c *Client) HeadBucket(ctx context.Context, bucket string) error {
	resp, err := c.do(ctx, &request{op: "HeadBucket", method: http.MethodHead, bucket: bucket})
	if err != nil {
		return err
	}
	drain(resp)
	return nil
}

// HeadObject returns the object's size, times, ETag and metadata.
func (c *Client) HeadObject(ctx context.Context, bucket, key string) (*ObjectInfo, error) {
	resp, err := c.do(ctx, &request{op: "HeadObject", method: http.MethodHead, bucket: bucket, key: key})
	if err != nil {
		return nil, err
	}
	drain(resp)
	return objectInfo(key, resp), nil
}

// GetObject reads length bytes of the object from offset; length < 0
// means to the end. The caller closes the reader.
func (c *Client) GetObject(ctx context.Context, bucket, key string, offset, length int64) (io.ReadCloser, *ObjectInfo, error) {
	h := http.Header{}
	switch {
	case length == 0:
		return io.NopCloser(strings.NewReader("")), nil, nil
	case length > 0:
		h.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	case offset > 0:
		h.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := c.do(ctx, &request{op: "GetObject", method: http.MethodGet, bucket: bucket, key: key, header: h})
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.StatusCode == http.StatusRequestedRangeNotSatisfiable {
			return io.NopCloser(strings.NewReader("")), nil, nil
		}
		return nil, nil, err
	}
	return resp.Body, objectInfo(key, resp), nil
}

// PutObject uploads size bytes from body as one object with Content-MD5.
func (c *Client) PutObject(ctx context.Context, bucket, key string, body io.ReaderAt, size int64, opts PutOptions) (etag string, err error) {
	sum, err := md5Of(body, size)
	if err != nil {
		return "", fmt.Errorf("read body for %s/%s: %w", bucket, key, err)
	}
	h := opts.header()
	h.Set("Content-MD5", sum)
	resp, err := c.do(ctx, &request{op: "PutObject", method: http.MethodPut, bucket: bucket, key: key, header: h, body: body, size: size})
	if err != nil {
		return "", err
	}
	drain(resp)
	return resp.Header.Get("ETag"), nil
}

// DeleteObject removes an object; deleting a missing key is not an error.
func (c *Client) DeleteObject(ctx context.Context, bucket, key string) error {
	resp, err := c.do(ctx, &request{op: "DeleteObject", method: http.MethodDelete, bucket: bucket, key: key})
	if err != nil {
		return err
	}
	drain(resp)
	return nil
}

// md5Of returns the base64 MD5 of the first size bytes of r.
func md5Of(r io.ReaderAt, size int64) (string, error) {
	h := md5.New()
	if r != nil {
		if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
			return "", err
		}
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

func objectInfo(key string, resp *http.Response) *ObjectInfo {
	info := &ObjectInfo{Key: key, ETag: resp.Header.Get("ETag"), ContentType: resp.Header.Get("Content-Type"),
		ContentHeaders: contentHeaders(resp.Header)}
	info.Size = resp.ContentLength
	if cr := resp.Header.Get("Content-Range"); cr != "" {
		// bytes 0-9/1234: the total is after the slash.
		if i := strings.LastIndexByte(cr, '/'); i >= 0 {
			if n, err := strconv.ParseInt(cr[i+1:], 10, 64); err == nil {
				info.Size = n
			}
		}
	}
	info.Encryption = resp.Header.Get("X-Amz-Server-Side-Encryption")
	if resp.Header.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm") != "" {
		info.Encryption = SSEC
	}
	info.KMSKeyID = resp.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")
	info.StorageClass = resp.Header.Get("X-Amz-Storage-Class")
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		info.LastModified = t
	}
	for name, vals := range resp.Header {
		l := strings.ToLower(name)
		if strings.HasPrefix(l, "x-amz-meta-") && len(vals) > 0 {
			if info.Metadata == nil {
				info.Metadata = map[string]string{}
			}
			info.Metadata[strings.TrimPrefix(l, "x-amz-meta-")] = vals[0]
		}
	}
	return info
}
