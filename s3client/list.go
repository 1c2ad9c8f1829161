package s3client

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ListInput selects one page of a ListObjectsV2.
type ListInput struct {
	Prefix            string
	Delimiter         string
	ContinuationToken string
	StartAfter        string
	MaxKeys           int // 0 means the server's default (1000)
}

// ListedObject is one entry of a listing.
type ListedObject struct {
	Key          string
	Size         int64
	LastModified time.Time
	ETag         string
}

// ListPage is one page of a listing.
type ListPage struct {
	Objects        []ListedObject
	CommonPrefixes []string
	// NextContinuationToken is set when IsTruncated.
	NextContinuationToken string
	IsTruncated           bool
}

type xmlListResult struct {
	XMLName               xml.Name `xml:"ListBucketResult"`
	EncodingType          string   `xml:"EncodingType"`
	IsTruncated           bool     `xml:"IsTruncated"`
	NextContinuationToken string   `xml:"NextContinuationToken"`
	Contents              []struct {
		Key          string `xml:"Key"`
		Size         int64  `xml:"Size"`
		LastModified string `xml:"LastModified"`
		ETag         string `xml:"ETag"`
	} `xml:"Contents"`
	CommonPrefixes []struct {
		Prefix string `xml:"Prefix"`
	} `xml:"CommonPrefixes"`
}

// ListObjectsV2 returns one page of keys under in.Prefix. Keys travel
// URL-encoded (encoding-type=url) so any byte survives the XML.
func (c *Client) ListObjectsV2(ctx context.Context, bucket string, in ListInput) (*ListPage, error) {
	q := url.Values{}
	q.Set("list-type", "2")
	q.Set("encoding-type", "url")
	q.Set("prefix", in.Prefix)
	if in.Delimiter != "" {
		q.Set("delimiter", in.Delimiter)
	}
	if in.ContinuationToken != "" {
		q.Set("continuation-token", in.ContinuationToken)
	}
	if in.StartAfter != "" {
		q.Set("start-after", in.StartAfter)
	}
	if in.MaxKeys > 0 {
		q.Set("max-keys", strconv.Itoa(in.MaxKeys))
	}
	resp, err := c.do(ctx, &request{op: "ListObjectsV2", method: http.MethodGet, bucket: bucket, query: q})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("s3 ListObjectsV2 %q prefix %q: read: %w", bucket, in.Prefix, err)
	}
	page, err := parseListV2(body)
	if err != nil {
		return nil, fmt.Errorf("s3 ListObjectsV2 %q prefix %q: %w", bucket, in.Prefix, err)
	}
	return page, nil
}

// parseListV2 decodes a ListBucketResult body.
func parseListV2(body []byte) (*ListPage, error) {
	var x xmlListResult
	if err := xml.Unmarshal(body, &x); err != nil {
		return nil, fmt.Errorf("bad list response: %w", err)
	}
	decode := func(s string) (string, error) {
		if x.EncodingType != "url" {
			return s, nil
		}
		return url.QueryUnescape(s)
	}
	page := &ListPage{IsTruncated: x.IsTruncated, NextContinuationToken: x.NextContinuationToken}
	for _, o := range x.Contents {
		key, err := decode(o.Key)
		if err != nil {
			return nil, fmt.Errorf("bad key %q in list response: %w", o.Key, err)
		}
		t, _ := time.Parse(time.RFC3339Nano, o.LastModified)
		page.Objects = append(page.Objects, ListedObject{Key: key, Size: o.Size, LastModified: t, ETag: o.ETag})
	}
	for _, p := range x.CommonPrefixes {
		prefix, err := decode(p.Prefix)
		if err != nil {
			return nil, fmt.Errorf("bad prefix %q in list response: %w", p.Prefix, err)
		}
		page.CommonPrefixes = append(page.CommonPrefixes, prefix)
	}
	if page.IsTruncated && page.NextContinuationToken == "" {
		return nil, fmt.Errorf("truncated list response without a continuation token")
	}
	return page, nil
}
