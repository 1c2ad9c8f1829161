package s3client_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/bucketfs/bucketfs/s3client"
)

// listFunc is one of the client's list calls.
type listFunc func(ctx context.Context, bucket string, in s3client.ListInput) (*s3client.ListPage, error)

// listAll pages through a listing with list, returning every page's
// entries ("key" or "prefix/") and the size of each page.
func listAll(t *testing.T, list listFunc, bucket string, in s3client.ListInput) (entries []string, pageSizes []int) {
	t.Helper()
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatalf("listing %+v does not end", in)
		}
		page, err := list(testCtx(t), bucket, in)
		if err != nil {
			t.Fatalf("list %+v: %v", in, err)
		}
		for _, o := range page.Objects {
			entries = append(entries, o.Key)
		}
		entries = append(entries, page.CommonPrefixes...)
		pageSizes = append(pageSizes, len(page.Objects)+len(page.CommonPrefixes))
		if !page.IsTruncated {
			return entries, pageSizes
		}
		in.ContinuationToken = page.NextContinuationToken
	}
}

func TestIntegrationListPaginationV2AndV1(t *testing.T) {
	c := newClient(t, "")
	ctx := testCtx(t)
	bucket := newBucket(t, c)
	keys := []string{"a", "b/1", "b/2", "c d+e%", "é/雪"} // in S3's (byte) order
	for _, k := range keys {
		if _, err := c.PutObject(ctx, bucket, k, strings.NewReader(k), int64(len(k)), s3client.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	lists := map[string]listFunc{"V2": c.ListObjectsV2, "V1": c.ListObjectsV1, "ListObjects": c.ListObjects}
	tests := []struct {
		name      string
		in        s3client.ListInput
		want      []string
		wantPages []int
	}{
		{"all keys", s3client.ListInput{MaxKeys: 2}, keys, []int{2, 2, 1}},
		{"delimiter", s3client.ListInput{MaxKeys: 2, Delimiter: "/"}, []string{"a", "b/", "c d+e%", "é/"}, []int{2, 2}},
		{"prefix", s3client.ListInput{MaxKeys: 1, Prefix: "b/"}, []string{"b/1", "b/2"}, []int{1, 1}},
		{"start after", s3client.ListInput{MaxKeys: 2, StartAfter: "b/1"}, []string{"b/2", "c d+e%", "é/雪"}, []int{2, 1}},
		{"one page", s3client.ListInput{Delimiter: "/"}, []string{"a", "c d+e%", "b/", "é/"}, []int{4}},
	}
	for _, tt := range tests {
		for name, list := range lists {
			got, pages := listAll(t, list, bucket, tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s %s: got %q, want %q", name, tt.name, got, tt.want)
			}
			// Servers may return fewer than MaxKeys; the entries are what matters,
			// but MinIO fills its pages.
			if !reflect.DeepEqual(pages, tt.wantPages) {
				t.Errorf("%s %s: got pages of %v, want %v", name, tt.name, pages, tt.wantPages)
			}
		}
	}
}
