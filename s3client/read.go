package s3client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// GetOptions are the optional parts of a GetObject or ReadObject.
type GetOptions struct {
	// IfMatch pins the read to one version of the object: if its ETag is
	// no longer this, the read fails with ErrPreconditionFailed.
	IfMatch string
}

// header returns the headers opts add to a GET.
func (opts GetOptions) header() http.Header {
	h := http.Header{}
	if opts.IfMatch != "" {
		h.Set("If-Match", quoteETag(opts.IfMatch))
	}
	return h
}

// quoteETag returns etag in double quotes, as If-Match wants it.
func quoteETag(etag string) string {
	if strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, `W/"`) {
		return etag
	}
	return `"` + etag + `"`
}

// ReadObject fills p with the bytes of the object from off, with ranged
// GETs. Every answer is checked against the range it was asked for: a
// body that ends early, breaks or stalls is a transport error, and the
// rest of the range is asked for again (pinned with If-Match to the
// version the first answer came from) with the backoff and bounds of
// any idempotent request. n < len(p) only where the object ends; info
// (from the first answer) then gives its size. Reading at or past the
// end returns 0 and a nil error.
func (c *Client) ReadObject(ctx context.Context, bucket, key string, off int64, p []byte, opts GetOptions) (n int, info *ObjectInfo, err error) {
	if len(p) == 0 {
		return 0, nil, nil
	}
	deadline := time.Now().Add(c.opts.RequestTimeout)
	for attempt := 0; ; attempt++ {
		var got int
		var part *ObjectInfo
		got, part, err = c.readRange(ctx, bucket, key, off+int64(n), p[n:], opts)
		n += got
		if info == nil && part != nil {
			info = part
			if opts.IfMatch == "" && info.ETag != "" {
				opts.IfMatch = info.ETag // the rest comes from the same version
			}
		}
		// readRange returns io.EOF itself where the object ends; a
		// transport error that wraps io.EOF (a connection closed before
		// any answer) is a failure like any other, never the end.
		if err == nil || err == io.EOF {
			return n, info, nil
		}
		// do has retried what failed before the body; a body that broke
		// is retried here, progress or not.
		if ctx.Err() != nil || !bodyFailure(err) || attempt >= c.opts.MaxRetries || c.opts.MaxRetries < 0 {
			return n, info, err
		}
		if time.Now().After(deadline) {
			return n, info, err
		}
		delay := min(backoff(c.opts.RetryBase, attempt), time.Until(deadline))
		c.log.WithFields(logrus.Fields{"op": "GetObject", "bucket": bucket, "key": key, "offset": off + int64(n), "attempt": attempt + 1, "delay": delay}).
			Debugf("retrying a broken body: %v", err)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return n, info, err
		}
	}
}

// errShortBody marks a body that ended before the length its headers gave.
var errShortBody = errors.New("body shorter than its headers said")

// bodyFailure reports whether err broke a body after its headers came:
// a short body, a reset, a stall.
func bodyFailure(err error) bool {
	var s3err *Error
	if errors.As(err, &s3err) || errors.Is(err, errBadAnswer) || errors.Is(err, context.Canceled) {
		return false // an answer; do retried it if it was worth it
	}
	return true // short, reset, stalled
}

// errBadAnswer marks an answer that is not what a GET of a range gets.
var errBadAnswer = errors.New("bad answer")

// readRange reads p from off with one ranged GET. It returns io.EOF when
// the object ends at or before off+len(p).
func (c *Client) readRange(ctx context.Context, bucket, key string, off int64, p []byte, opts GetOptions) (int, *ObjectInfo, error) {
	h := opts.header()
	h.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+int64(len(p))-1))
	resp, err := c.do(ctx, &request{op: "GetObject", method: http.MethodGet, bucket: bucket, key: key, header: h})
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.StatusCode == http.StatusRequestedRangeNotSatisfiable {
			// At or past the end; the answer's Content-Range is "bytes */SIZE".
			return 0, nil, io.EOF
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	info := objectInfo(key, resp)
	what := fmt.Sprintf("s3 GetObject %q at %d", where(bucket, key), off)
	want := int64(len(p))
	switch resp.StatusCode {
	case http.StatusPartialContent:
		first, last, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || first != off || last < first || last-first+1 > want {
			return 0, info, fmt.Errorf("%s: %w: Content-Range %q", what, errBadAnswer, resp.Header.Get("Content-Range"))
		}
		want = last - first + 1
		info.Size = total
	case http.StatusOK:
		// The server sent the whole object: usable from offset 0 only.
		if off != 0 {
			return 0, info, fmt.Errorf("%s: %w: the server ignored the Range header", what, errBadAnswer)
		}
		if resp.ContentLength >= 0 {
			want = min(want, resp.ContentLength)
		}
	default:
		return 0, info, fmt.Errorf("%s: %w: status %d", what, errBadAnswer, resp.StatusCode)
	}
	n, err := io.ReadFull(resp.Body, p[:want])
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return n, info, fmt.Errorf("%s: got %d of %d bytes: %w", what, n, want, errShortBody)
		}
		return n, info, fmt.Errorf("%s: after %d of %d bytes: %w", what, n, want, err)
	}
	if want < int64(len(p)) {
		return n, info, io.EOF
	}
	return n, info, nil
}

// parseContentRange reads "bytes FIRST-LAST/TOTAL"; total is -1 for "*".
func parseContentRange(v string) (first, last, total int64, ok bool) {
	v, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, size, found := strings.Cut(v, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	first, err1 = strconv.ParseInt(a, 10, 64)
	last, err2 = strconv.ParseInt(b, 10, 64)
	total = -1
	if size != "*" {
		total, err3 = strconv.ParseInt(size, 10, 64)
	}
	return first, last, total, err1 == nil && err2 == nil && err3 == nil
}
