package s3client

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ListInput selects one page of a listing (ListObjectsV2, ListObjectsV1
// or ListObjects).
type ListInput struct {
	Prefix            string
	Delimiter         string
	ContinuationToken string
	StartAfter        string
	MaxKeys           int // 0 means the server's default (1000)
	// Metadata asks for each object's user metadata in the listing, as
	// MinIO's metadata=true extension gives it (other servers ignore the
	// parameter: the objects then have no Metadata).
	Metadata bool
}

// ListedObject is one entry of a listing.
type ListedObject struct {
	Key          string
	Size         int64
	LastModified time.Time
	ETag         string
	// Metadata holds the x-amz-meta-* values the listing carried (as in
	// ObjectInfo.Metadata) when ListInput.Metadata asked for them and the
	// server gave them; nil otherwise. ContentType likewise.
	Metadata    map[string]string
	ContentType string
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
	KeyCount              *string  `xml:"KeyCount"`   // only V2 answers have it
	NextMarker            string   `xml:"NextMarker"` // V1 only
	Contents              []struct {
		Key          string `xml:"Key"`
		Size         int64  `xml:"Size"`
		LastModified string `xml:"LastModified"`
		ETag         string `xml:"ETag"`
		// UserMetadata is MinIO's extension (metadata=true): the
		// object's metadata headers, one element each.
		UserMetadata *struct {
			Items []struct {
				XMLName xml.Name
				Value   string `xml:",chardata"`
			} `xml:",any"`
		} `xml:"UserMetadata"`
	} `xml:"Contents"`
	CommonPrefixes []struct {
		Prefix string `xml:"Prefix"`
	} `xml:"CommonPrefixes"`
}

// listObjectsV2 returns one page of keys under in.Prefix. Keys travel
// URL-encoded (encoding-type=url) so any byte survives the XML.
func (c *Client) listObjectsV2(ctx context.Context, bucket string, in ListInput) (*ListPage, error) {
	x, err := c.listV2(ctx, bucket, in)
	if err != nil {
		return nil, err
	}
	page, err := x.v2Page()
	if err != nil {
		return nil, fmt.Errorf("s3 ListObjectsV2 %q prefix %q: %w", bucket, in.Prefix, err)
	}
	return page, nil
}

// listV2 sends a ListObjectsV2 request and decodes the XML of its answer.
func (c *Client) listV2(ctx context.Context, bucket string, in ListInput) (*xmlListResult, error) {
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
	if in.Metadata {
		q.Set("metadata", "true")
	}
	body, err := c.doXML(ctx, &request{op: "ListObjectsV2", method: http.MethodGet, bucket: bucket, query: q})
	if err != nil {
		return nil, err
	}
	x, err := unmarshalList(body)
	if err != nil {
		return nil, fmt.Errorf("s3 ListObjectsV2 %q prefix %q: %w", bucket, in.Prefix, err)
	}
	return x, nil
}

// parseListV2 decodes a ListBucketResult body.
func parseListV2(body []byte) (*ListPage, error) {
	x, err := unmarshalList(body)
	if err != nil {
		return nil, err
	}
	return x.v2Page()
}

// v2Page turns a decoded ListObjectsV2 answer into a page.
func (x *xmlListResult) v2Page() (*ListPage, error) {
	page, err := x.entries()
	if err != nil {
		return nil, err
	}
	page.IsTruncated, page.NextContinuationToken = x.IsTruncated, x.NextContinuationToken
	if page.IsTruncated && page.NextContinuationToken == "" {
		return nil, fmt.Errorf("truncated list response without a continuation token")
	}
	return page, nil
}
