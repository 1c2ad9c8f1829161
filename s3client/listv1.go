package s3client

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// listObjectsV1 returns one page of keys under in.Prefix with the original
// ListObjects call, for servers without ListObjectsV2. V1 pages by marker:
// in.ContinuationToken (or, on the first page, in.StartAfter) is sent as
// the marker, and the page's NextContinuationToken is the marker of the
// next page: the server's NextMarker, or when it sends none the last key
// or common prefix of the page. Keys travel URL-encoded, as for V2.
func (c *Client) listObjectsV1(ctx context.Context, bucket string, in ListInput) (*ListPage, error) {
	q := url.Values{}
	q.Set("encoding-type", "url")
	q.Set("prefix", in.Prefix)
	if in.Delimiter != "" {
		q.Set("delimiter", in.Delimiter)
	}
	if marker := in.ContinuationToken; marker != "" {
		q.Set("marker", marker)
	} else if in.StartAfter != "" {
		q.Set("marker", in.StartAfter)
	}
	if in.MaxKeys > 0 {
		q.Set("max-keys", strconv.Itoa(in.MaxKeys))
	}
	body, err := c.doXML(ctx, &request{op: "ListObjectsV1", method: http.MethodGet, bucket: bucket, query: q})
	if err != nil {
		return nil, err
	}
	page, err := parseListV1(body)
	if err != nil {
		return nil, fmt.Errorf("s3 ListObjectsV1 %q prefix %q: %w", bucket, in.Prefix, err)
	}
	return page, nil
}

// ListObjects returns one page of keys under in.Prefix with ListObjectsV2,
// or with ListObjectsV1 once the server has shown it lacks V2. The client
// remembers that for good, so the tokens of one listing all come from the
// same version. The server lacks V2 when it
//   - answers with the error code NotImplemented, or
//   - answers 400 with a message that mentions list-type, or
//   - answers 200 with a body without <KeyCount>: it ignored list-type=2
//     and sent a V1 listing (which may have ignored continuation-token and
//     start-after too, so the page is asked for again with V1).
func (c *Client) ListObjects(ctx context.Context, bucket string, in ListInput) (*ListPage, error) {
	if c.listsV1() {
		return c.listObjectsV1(ctx, bucket, in)
	}
	x, err := c.listV2(ctx, bucket, in)
	switch {
	case err != nil && v2Unsupported(err):
		c.useListV1(err.Error())
		return c.listObjectsV1(ctx, bucket, in)
	case err != nil:
		return nil, err
	case x.KeyCount == nil:
		c.useListV1("a list-type=2 answer without KeyCount")
		return c.listObjectsV1(ctx, bucket, in)
	}
	page, err := x.v2Page()
	if err != nil {
		return nil, fmt.Errorf("s3 ListObjectsV2 %q prefix %q: %w", bucket, in.Prefix, err)
	}
	return page, nil
}

// v2Unsupported reports whether err is a server's way of saying it does
// not know ListObjectsV2 (see ListObjects).
func v2Unsupported(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	if e.Code == "NotImplemented" {
		return true
	}
	return e.StatusCode == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Message), "list-type")
}

// listsV1 reports whether ListObjects uses V1.
func (c *Client) listsV1() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.listV1
}

// useListV1 makes ListObjects use V1 from now on, logging why once.
func (c *Client) useListV1(why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.listV1 {
		c.listV1 = true
		c.log.Warnf("server does not support ListObjectsV2 (%s); listing with ListObjects V1 from now on", why)
	}
}

// parseListV1 decodes the ListBucketResult body of a ListObjects V1.
func parseListV1(body []byte) (*ListPage, error) {
	x, err := unmarshalList(body)
	if err != nil {
		return nil, err
	}
	return x.v1Page()
}

// v1Page turns a decoded ListObjects V1 answer into a page whose
// NextContinuationToken is the next marker (see ListObjectsV1). When the
// server sends no NextMarker (AWS sends it only with a delimiter) the
// marker is the greater of the last key and the last common prefix: the
// last entry of the page in S3's order.
func (x *xmlListResult) v1Page() (*ListPage, error) {
	page, err := x.entries()
	if err != nil {
		return nil, err
	}
	page.IsTruncated = x.IsTruncated
	if !x.IsTruncated {
		return page, nil
	}
	next, err := x.decode(x.NextMarker)
	if err != nil {
		return nil, fmt.Errorf("bad next marker %q in list response: %w", x.NextMarker, err)
	}
	if next == "" {
		if n := len(page.Objects); n > 0 {
			next = page.Objects[n-1].Key
		}
		if n := len(page.CommonPrefixes); n > 0 && page.CommonPrefixes[n-1] > next {
			next = page.CommonPrefixes[n-1]
		}
	}
	if next == "" {
		return nil, fmt.Errorf("truncated list response without a next marker or entries")
	}
	page.NextContinuationToken = next
	return page, nil
}

// unmarshalList decodes a ListBucketResult (V1 or V2).
func unmarshalList(body []byte) (*xmlListResult, error) {
	var x xmlListResult
	if err := xml.Unmarshal(body, &x); err != nil {
		return nil, fmt.Errorf("bad list response: %w", err)
	}
	return &x, nil
}

// decode undoes encoding-type=url on a key, prefix or marker when the
// answer says it applied it.
func (x *xmlListResult) decode(s string) (string, error) {
	if x.EncodingType != "url" {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// entries returns a page with the decoded objects and common prefixes of
// a list answer, V1 or V2; the caller fills in the paging fields.
func (x *xmlListResult) entries() (*ListPage, error) {
	page := &ListPage{}
	for _, o := range x.Contents {
		key, err := x.decode(o.Key)
		if err != nil {
			return nil, fmt.Errorf("bad key %q in list response: %w", o.Key, err)
		}
		t, _ := time.Parse(time.RFC3339Nano, o.LastModified)
		lo := ListedObject{Key: key, Size: o.Size, LastModified: t, ETag: o.ETag}
		if o.UserMetadata != nil {
			lo.Metadata = map[string]string{}
			for _, it := range o.UserMetadata.Items {
				name := strings.ToLower(it.XMLName.Local)
				if m, ok := strings.CutPrefix(name, "x-amz-meta-"); ok {
					lo.Metadata[m] = it.Value
				} else if name == "content-type" {
					lo.ContentType = it.Value
				}
			}
		}
		page.Objects = append(page.Objects, lo)
	}
	for _, p := range x.CommonPrefixes {
		prefix, err := x.decode(p.Prefix)
		if err != nil {
			return nil, fmt.Errorf("bad prefix %q in list response: %w", p.Prefix, err)
		}
		page.CommonPrefixes = append(page.CommonPrefixes, prefix)
	}
	return page, nil
}
