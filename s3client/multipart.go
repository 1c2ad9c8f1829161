package s3client

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// MaxParts is the largest part number S3 accepts.
const MaxParts = 10000

// CompletedPart names one uploaded part for CompleteMultipartUpload.
type CompletedPart struct {
	PartNumber int
	ETag       string // as UploadPart or UploadPartCopy returned it
}

// Part is one part of an upload in progress, as ListParts reports it.
type Part struct {
	PartNumber   int
	ETag         string
	Size         int64
	LastModified time.Time
}

type xmlInitiateMultipart struct {
	UploadID string `xml:"UploadId"`
}

type xmlCompleteMultipart struct {
	Location string `xml:"Location"`
	ETag     string `xml:"ETag"`
}

type xmlListParts struct {
	IsTruncated          bool   `xml:"IsTruncated"`
	NextPartNumberMarker string `xml:"NextPartNumberMarker"`
	Parts                []struct {
		PartNumber   int    `xml:"PartNumber"`
		ETag         string `xml:"ETag"`
		Size         int64  `xml:"Size"`
		LastModified string `xml:"LastModified"`
	} `xml:"Part"`
}

// CreateMultipartUpload starts a multipart upload of bucket/key with the
// content type and metadata of opts, and returns its upload id.
func (c *Client) CreateMultipartUpload(ctx context.Context, bucket, key string, opts PutOptions) (uploadID string, err error) {
	q := url.Values{"uploads": {""}}
	body, err := c.doXML(ctx, &request{op: "CreateMultipartUpload", method: http.MethodPost, bucket: bucket, key: key, query: q, header: opts.header()})
	if err != nil {
		return "", err
	}
	id, err := parseInitiateMultipart(body)
	if err != nil {
		return "", fmt.Errorf("s3 CreateMultipartUpload %q: %w", where(bucket, key), err)
	}
	return id, nil
}

// UploadPart uploads size bytes of body as part partNumber (1 to
// MaxParts) of an upload, with Content-MD5, and returns the part's ETag.
func (c *Client) UploadPart(ctx context.Context, bucket, key, uploadID string, partNumber int, body io.ReaderAt, size int64) (etag string, err error) {
	if err := checkPartNumber(bucket, key, partNumber); err != nil {
		return "", err
	}
	sum, err := md5Of(body, size)
	if err != nil {
		return "", fmt.Errorf("read part %d for %s: %w", partNumber, where(bucket, key), err)
	}
	h := http.Header{}
	h.Set("Content-MD5", sum)
	resp, err := c.do(ctx, &request{op: "UploadPart", method: http.MethodPut, bucket: bucket, key: key,
		query: partQuery(uploadID, partNumber), header: h, body: body, size: size})
	if err != nil {
		return "", err
	}
	drain(resp)
	etag = resp.Header.Get("ETag")
	if etag == "" {
		return "", fmt.Errorf("s3 UploadPart %q part %d: response without an ETag", where(bucket, key), partNumber)
	}
	return etag, nil
}

// UploadPartCopy makes bytes first..last (inclusive) of srcBucket/srcKey
// part partNumber of an upload, on the server, and returns the part's
// ETag. Errors S3 reports in the body of a 200 are *Error too.
func (c *Client) UploadPartCopy(ctx context.Context, bucket, key, uploadID string, partNumber int, srcBucket, srcKey string, first, last int64) (etag string, err error) {
	return c.uploadPartCopy(ctx, bucket, key, uploadID, partNumber, srcBucket, srcKey, first, last, "")
}

// uploadPartCopy is UploadPartCopy, conditional on the source's ETag
// (x-amz-copy-source-if-match) unless ifMatch is "".
func (c *Client) uploadPartCopy(ctx context.Context, bucket, key, uploadID string, partNumber int, srcBucket, srcKey string, first, last int64, ifMatch string) (etag string, err error) {
	if err := checkPartNumber(bucket, key, partNumber); err != nil {
		return "", err
	}
	if first < 0 || last < first {
		return "", fmt.Errorf("s3 UploadPartCopy %q part %d: invalid range %d-%d", where(bucket, key), partNumber, first, last)
	}
	h := http.Header{}
	h.Set("X-Amz-Copy-Source", copySource(srcBucket, srcKey))
	h.Set("X-Amz-Copy-Source-Range", fmt.Sprintf("bytes=%d-%d", first, last))
	if ifMatch != "" {
		h.Set("X-Amz-Copy-Source-If-Match", ifMatch)
	}
	body, err := c.doXML(ctx, &request{op: "UploadPartCopy", method: http.MethodPut, bucket: bucket, key: key,
		query: partQuery(uploadID, partNumber), header: h})
	if err != nil {
		return "", err
	}
	etag, _, err = parseCopyResult(body)
	if err != nil {
		return "", fmt.Errorf("s3 UploadPartCopy %q part %d from %q: %w", where(bucket, key), partNumber, where(srcBucket, srcKey), err)
	}
	return etag, nil
}

// CompleteMultipartUpload assembles the parts (sent in ascending part
// order whatever the order of parts) into the object and returns its ETag.
// S3 may fail the completion in the body of a 200: that is an *Error too.
// A server that answers with an empty ETag (Ceph RGW does) yields "" and
// no error.
func (c *Client) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []CompletedPart) (etag string, err error) {
	if len(parts) == 0 {
		return "", fmt.Errorf("s3 CompleteMultipartUpload %q: no parts", where(bucket, key))
	}
	doc := completeBody(parts)
	sum, _ := md5Of(bytes.NewReader(doc), int64(len(doc)))
	h := http.Header{}
	h.Set("Content-Type", "application/xml")
	h.Set("Content-MD5", sum)
	q := url.Values{"uploadId": {uploadID}}
	send := func() (string, error) {
		body, err := c.doXML(ctx, &request{op: "CompleteMultipartUpload", method: http.MethodPost, bucket: bucket, key: key,
			query: q, header: h, body: bytes.NewReader(doc), size: int64(len(doc))})
		if err != nil {
			return "", err
		}
		etag, err := parseCompleteMultipart(body)
		if err != nil {
			return "", fmt.Errorf("s3 CompleteMultipartUpload %q: %w", where(bucket, key), err)
		}
		return etag, nil
	}
	etag, err = send()
	var s3err *Error
	if err == nil || errors.As(err, &s3err) || ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return etag, err
	}
	return c.confirmComplete(ctx, bucket, key, parts, send, err)
}

// confirmComplete follows a completion whose answer was lost, lost being
// the network error: the server may have completed the upload. If the
// connection failed, the completion is sent once more, and an answer is
// the answer. Then (or at once, if the wait for the answer ran out: the
// server had the request, and may still be at it) NoSuchUpload, the
// upload gone, is checked: the object is ours if its ETag is the one these
// parts make (multipartETag). Anything else, and parts whose ETags are
// not MD5s (encrypted uploads), leave the first error standing.
func (c *Client) confirmComplete(ctx context.Context, bucket, key string, parts []CompletedPart, send func() (string, error), lost error) (string, error) {
	log := c.log.WithFields(logrus.Fields{"bucket": bucket, "key": key})
	if !errors.Is(lost, ErrStalled) {
		etag, err := send()
		if err == nil {
			log.Infof("completion's answer lost (%v); sent again, completed", lost)
			return etag, nil
		}
		var s3err *Error
		if !errors.As(err, &s3err) || s3err.Code != "NoSuchUpload" {
			return "", lost
		}
	}
	want, ok := multipartETag(parts)
	if !ok {
		return "", lost
	}
	info, err := c.HeadObject(ctx, bucket, key)
	if err != nil || !strings.EqualFold(strings.Trim(info.ETag, `"`), want) {
		return "", lost
	}
	log.Infof("completion's answer lost (%v); the object's ETag is its parts': completed", lost)
	return info.ETag, nil
}

// multipartETag is the ETag S3 gives the object a multipart upload of
// parts makes: the hex MD5 of their MD5s, a dash, their number. ok is
// false if a part's ETag is not an MD5 (as for encrypted parts).
func multipartETag(parts []CompletedPart) (etag string, ok bool) {
	h := md5.New()
	for _, p := range parts {
		sum, err := hex.DecodeString(strings.Trim(p.ETag, `"`))
		if err != nil || len(sum) != md5.Size {
			return "", false
		}
		h.Write(sum)
	}
	return fmt.Sprintf("%x-%d", h.Sum(nil), len(parts)), true
}

// AbortMultipartUpload discards an upload and the parts sent so far. An
// upload that is already gone is an *Error matching ErrNotFound
// (NoSuchUpload).
func (c *Client) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	q := url.Values{"uploadId": {uploadID}}
	resp, err := c.do(ctx, &request{op: "AbortMultipartUpload", method: http.MethodDelete, bucket: bucket, key: key, query: q})
	if err != nil {
		return err
	}
	drain(resp)
	return nil
}

// listParts returns every part uploaded so far, following
// part-number-marker pages while the server says the list is truncated.
func (c *Client) listParts(ctx context.Context, bucket, key, uploadID string) ([]Part, error) {
	var all []Part
	marker := 0
	for {
		q := url.Values{"uploadId": {uploadID}}
		if marker > 0 {
			q.Set("part-number-marker", strconv.Itoa(marker))
		}
		body, err := c.doXML(ctx, &request{op: "ListParts", method: http.MethodGet, bucket: bucket, key: key, query: q})
		if err != nil {
			return nil, err
		}
		parts, truncated, next, err := parseListParts(body)
		if err != nil {
			return nil, fmt.Errorf("s3 ListParts %q: %w", where(bucket, key), err)
		}
		all = append(all, parts...)
		if !truncated {
			return all, nil
		}
		if next <= marker {
			return nil, fmt.Errorf("s3 ListParts %q: truncated page without a next part number marker past %d", where(bucket, key), marker)
		}
		marker = next
	}
}

// partQuery is the query of a request on one part of an upload.
func partQuery(uploadID string, partNumber int) url.Values {
	return url.Values{"partNumber": {strconv.Itoa(partNumber)}, "uploadId": {uploadID}}
}

// checkPartNumber refuses part numbers S3 would.
func checkPartNumber(bucket, key string, n int) error {
	if n < 1 || n > MaxParts {
		return fmt.Errorf("s3 part %d of %q: part numbers go from 1 to %d", n, where(bucket, key), MaxParts)
	}
	return nil
}

// completeBody is the <CompleteMultipartUpload> document for parts, in
// ascending part order. ETags keep their quotes verbatim (as boto sends
// them) rather than as &#34;, which some servers have mishandled.
func completeBody(parts []CompletedPart) []byte {
	sorted := append([]CompletedPart(nil), parts...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].PartNumber < sorted[j].PartNumber })
	var b bytes.Buffer
	b.WriteString(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	for _, p := range sorted {
		fmt.Fprintf(&b, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", p.PartNumber, xmlText(p.ETag))
	}
	b.WriteString(`</CompleteMultipartUpload>`)
	return b.Bytes()
}

// xmlText escapes the characters that cannot stand in XML character data.
var xmlText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

// parseInitiateMultipart decodes an <InitiateMultipartUploadResult> body
// and returns its upload id.
func parseInitiateMultipart(body []byte) (string, error) {
	var x xmlInitiateMultipart
	if err := unmarshalRoot(body, &x, "InitiateMultipartUploadResult"); err != nil {
		return "", err
	}
	if x.UploadID == "" {
		return "", fmt.Errorf("initiate multipart upload response without an UploadId")
	}
	return x.UploadID, nil
}

// parseCompleteMultipart decodes a <CompleteMultipartUploadResult> body
// and returns the object's ETag, which may be "" (Ceph RGW sends
// <ETag></ETag>). An <Error> body is not a result: callers check
// embeddedError first.
func parseCompleteMultipart(body []byte) (string, error) {
	var x xmlCompleteMultipart
	if err := unmarshalRoot(body, &x, "CompleteMultipartUploadResult"); err != nil {
		return "", err
	}
	return x.ETag, nil
}

// parseListParts decodes a <ListPartsResult> body: its parts, whether more
// follow, and the part-number-marker of the next page (0 when absent).
func parseListParts(body []byte) (parts []Part, truncated bool, next int, err error) {
	var x xmlListParts
	if err := unmarshalRoot(body, &x, "ListPartsResult"); err != nil {
		return nil, false, 0, err
	}
	if s := strings.TrimSpace(x.NextPartNumberMarker); s != "" {
		if next, err = strconv.Atoi(s); err != nil || next < 0 {
			return nil, false, 0, fmt.Errorf("bad NextPartNumberMarker %q", x.NextPartNumberMarker)
		}
	}
	for _, p := range x.Parts {
		if p.PartNumber < 1 || p.PartNumber > MaxParts {
			return nil, false, 0, fmt.Errorf("bad part number %d in list parts response", p.PartNumber)
		}
		t, _ := time.Parse(time.RFC3339Nano, p.LastModified)
		parts = append(parts, Part{PartNumber: p.PartNumber, ETag: p.ETag, Size: p.Size, LastModified: t})
	}
	if truncated = x.IsTruncated; truncated && next == 0 && len(parts) > 0 {
		// Some servers leave NextPartNumberMarker out: continue after the last part.
		next = parts[len(parts)-1].PartNumber
	}
	return parts, truncated, next, nil
}
