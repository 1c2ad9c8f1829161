package s3client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// BucketInfo is one bucket of a ListBuckets.
type BucketInfo struct {
	Name         string
	CreationDate time.Time
}

type xmlListBuckets struct {
	Buckets []struct {
		Name         string `xml:"Name"`
		CreationDate string `xml:"CreationDate"`
	} `xml:"Buckets>Bucket"`
	ContinuationToken string `xml:"ContinuationToken"`
}

// ListBuckets returns the buckets the credentials own (GET / on the
// endpoint). It follows the ContinuationToken AWS sends when it pages the
// list; servers that don't page answer in one response.
func (c *Client) ListBuckets(ctx context.Context) ([]BucketInfo, error) {
	var all []BucketInfo
	token := ""
	for {
		var q url.Values
		if token != "" {
			q = url.Values{"continuation-token": {token}}
		}
		body, err := c.doXML(ctx, &request{op: "ListBuckets", method: http.MethodGet, query: q})
		if err != nil {
			return nil, err
		}
		buckets, next, err := parseListBuckets(body)
		if err != nil {
			return nil, fmt.Errorf("s3 ListBuckets: %w", err)
		}
		all = append(all, buckets...)
		if next == "" {
			return all, nil
		}
		if next == token {
			return nil, fmt.Errorf("s3 ListBuckets: server repeated continuation token %q", token)
		}
		token = next
	}
}

// parseListBuckets decodes a ListAllMyBucketsResult body: the buckets and
// the continuation token of the next page ("" on the last). A creation
// date that does not parse is left zero.
func parseListBuckets(body []byte) ([]BucketInfo, string, error) {
	var x xmlListBuckets
	if err := unmarshalRoot(body, &x, "ListAllMyBucketsResult"); err != nil {
		return nil, "", err
	}
	buckets := make([]BucketInfo, 0, len(x.Buckets))
	for _, b := range x.Buckets {
		if b.Name == "" {
			return nil, "", fmt.Errorf("bucket without a name in list response")
		}
		t, _ := time.Parse(time.RFC3339Nano, b.CreationDate)
		buckets = append(buckets, BucketInfo{Name: b.Name, CreationDate: t})
	}
	return buckets, x.ContinuationToken, nil
}
