package s3client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// opsClient returns a SigV4 client of a fake server that answers with h.
func opsClient(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(Options{Endpoint: srv.URL, Signature: SignatureV4, RetryBase: time.Millisecond,
		Credentials: Credentials{AccessKey: "AKIDEXAMPLE", SecretKey: "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// opsLog records the requests a fake server saw.
type opsLog struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func (l *opsLog) add(r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, r)
	l.body = append(l.body, b)
}

func (l *opsLog) n() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

func TestOpsCopyObjectRequest(t *testing.T) {
	var log opsLog
	c := opsClient(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		io.WriteString(w, awsCopyXML)
	})
	etag, err := c.CopyObject(context.Background(), "dst", "new key", "src", "dir/a b+c%é", CopyOptions{
		ReplaceMetadata: true, Metadata: map[string]string{"mode": "33188"}, ContentType: "text/plain", IfMatch: `"e"`})
	if err != nil || etag != `"9b2cf535f27731c974343645a3985328"` {
		t.Fatalf("got %q, %v", etag, err)
	}
	r := log.reqs[0]
	for name, want := range map[string]string{
		"X-Amz-Copy-Source":          "/src/dir/a%20b%2Bc%25%C3%A9",
		"X-Amz-Metadata-Directive":   "REPLACE",
		"X-Amz-Meta-Mode":            "33188",
		"Content-Type":               "text/plain",
		"X-Amz-Copy-Source-If-Match": `"e"`,
	} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	if r.Method != http.MethodPut || r.URL.EscapedPath() != "/dst/new%20key" {
		t.Errorf("got %s %s, want PUT /dst/new%%20key", r.Method, r.URL.EscapedPath())
	}

	c.CopyObject(context.Background(), "dst", "k", "src", "k", CopyOptions{Metadata: map[string]string{"mode": "1"}})
	if r := log.reqs[1]; r.Header.Get("X-Amz-Metadata-Directive") != "COPY" || r.Header.Get("X-Amz-Meta-Mode") != "" {
		t.Errorf("COPY: got headers %v", r.Header)
	}
}

func TestOpsCopyObjectErrorIn200(t *testing.T) {
	var log opsLog
	c := opsClient(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		io.WriteString(w, rgwErrorXML)
	})
	_, err := c.CopyObject(context.Background(), "dst", "k", "src", "gone", CopyOptions{})
	var e *Error
	if !errors.As(err, &e) || e.Code != "NoSuchKey" || e.Op != "CopyObject" || e.Bucket != "dst" || e.Key != "k" ||
		!errors.Is(err, ErrNotFound) {
		t.Errorf("got %v, want a NoSuchKey *Error for dst/k", err)
	}
	if log.n() != 1 {
		t.Errorf("got %d requests, want 1: NoSuchKey is not retried", log.n())
	}
}

func TestOpsCompleteMultipartRetriesErrorIn200(t *testing.T) {
	var log opsLog
	c := opsClient(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		w.WriteHeader(http.StatusOK)
		if log.n() == 1 {
			io.WriteString(w, awsErrorXML) // InternalError: try again
			return
		}
		io.WriteString(w, rgwCompleteXML)
	})
	etag, err := c.CompleteMultipartUpload(context.Background(), "b", "k", "up/1", []CompletedPart{{2, `"b"`}, {1, `"a"`}})
	if err != nil || etag != "" {
		t.Fatalf("got %q, %v, want the empty ETag of RGW and no error", etag, err)
	}
	if log.n() != 2 {
		t.Fatalf("got %d requests, want 2", log.n())
	}
	r, body := log.reqs[1], string(log.body[1])
	if r.Method != http.MethodPost || r.URL.RawQuery != "uploadId=up%2F1" || r.Header.Get("Content-MD5") == "" {
		t.Errorf("got %s ?%s Content-MD5 %q", r.Method, r.URL.RawQuery, r.Header.Get("Content-MD5"))
	}
	if !strings.Contains(body, `<PartNumber>1</PartNumber><ETag>"a"</ETag></Part><Part><PartNumber>2</PartNumber>`) {
		t.Errorf("body: got %s, want parts in order with their quoted ETags", body)
	}

	c = opsClient(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, awsErrorXML) })
	c.opts.MaxRetries = 1
	_, err = c.CompleteMultipartUpload(context.Background(), "b", "k", "u", []CompletedPart{{1, `"a"`}})
	var e *Error
	if !errors.As(err, &e) || e.Code != "InternalError" || e.Key != "k" {
		t.Errorf("retries exhausted: got %v, want an InternalError *Error", err)
	}
}

func TestOpsMultipartRequests(t *testing.T) {
	var log opsLog
	c := opsClient(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		switch {
		case r.Method == http.MethodPost:
			io.WriteString(w, `<InitiateMultipartUploadResult><UploadId>id+1</UploadId></InitiateMultipartUploadResult>`)
		case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
			io.WriteString(w, `<CopyPartResult><ETag>"pc"</ETag></CopyPartResult>`)
		case r.Method == http.MethodPut:
			w.Header().Set("ETag", `"p"`)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	ctx := context.Background()
	id, err := c.CreateMultipartUpload(ctx, "b", "k", PutOptions{Metadata: map[string]string{"mode": "420"}})
	if err != nil || id != "id+1" {
		t.Fatalf("create: got %q, %v", id, err)
	}
	etag, err := c.UploadPart(ctx, "b", "k", id, 3, strings.NewReader("hello"), 5)
	if err != nil || etag != `"p"` {
		t.Fatalf("upload part: got %q, %v", etag, err)
	}
	etag, err = c.UploadPartCopy(ctx, "b", "k", id, 4, "src", "s k", 10, 19)
	if err != nil || etag != `"pc"` {
		t.Fatalf("upload part copy: got %q, %v", etag, err)
	}
	if err := c.AbortMultipartUpload(ctx, "b", "k", id); err != nil {
		t.Fatalf("abort: %v", err)
	}
	want := []string{
		"POST /b/k?uploads= mode=420",
		"PUT /b/k?partNumber=3&uploadId=id%2B1 md5=XUFAKrxLKna5cZ2REBfFkg==",
		"PUT /b/k?partNumber=4&uploadId=id%2B1 src=/src/s%20k range=bytes=10-19",
		"DELETE /b/k?uploadId=id%2B1",
	}
	for i, r := range log.reqs {
		got := r.Method + " " + r.URL.RequestURI()
		if v := r.Header.Get("X-Amz-Meta-Mode"); v != "" {
			got += " mode=" + v
		}
		if v := r.Header.Get("Content-MD5"); v != "" {
			got += " md5=" + v
		}
		if v := r.Header.Get("X-Amz-Copy-Source"); v != "" {
			got += " src=" + v + " range=" + r.Header.Get("X-Amz-Copy-Source-Range")
		}
		if i >= len(want) || got != want[i] {
			t.Errorf("request %d: got %q, want %q", i, got, want[min(i, len(want)-1)])
		}
	}
	for _, n := range []int{0, MaxParts + 1} {
		if _, err := c.UploadPart(ctx, "b", "k", id, n, bytes.NewReader(nil), 0); err == nil {
			t.Errorf("part %d: got no error", n)
		}
	}
	if _, err := c.UploadPartCopy(ctx, "b", "k", id, 1, "s", "k", 5, 4); err == nil {
		t.Error("empty range: got no error")
	}
}

func TestOpsListPartsPaginates(t *testing.T) {
	var log opsLog
	c := opsClient(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		switch r.URL.Query().Get("part-number-marker") {
		case "":
			io.WriteString(w, `<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>2</NextPartNumberMarker>`+
				`<Part><PartNumber>1</PartNumber><ETag>"1"</ETag><Size>5</Size></Part>`+
				`<Part><PartNumber>2</PartNumber><ETag>"2"</ETag><Size>5</Size></Part></ListPartsResult>`)
		case "2":
			io.WriteString(w, `<ListPartsResult><IsTruncated>false</IsTruncated>`+
				`<Part><PartNumber>3</PartNumber><ETag>"3"</ETag><Size>1</Size></Part></ListPartsResult>`)
		default:
			t.Errorf("unexpected marker in %s", r.URL)
		}
	})
	parts, err := c.listParts(context.Background(), "b", "k", "u")
	if err != nil || len(parts) != 3 || parts[2].PartNumber != 3 || parts[2].Size != 1 || log.n() != 2 {
		t.Errorf("got %+v, %v after %d requests, want parts 1-3 in 2 requests", parts, err, log.n())
	}

	c = opsClient(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>0</NextPartNumberMarker></ListPartsResult>`)
	})
	if _, err := c.listParts(context.Background(), "b", "k", "u"); err == nil || !strings.Contains(err.Error(), `"b/k"`) {
		t.Errorf("marker that does not advance: got %v, want an error naming b/k", err)
	}
}

func TestOpsListBucketsRequest(t *testing.T) {
	var log opsLog
	c := opsClient(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		if r.URL.Query().Get("continuation-token") == "" {
			io.WriteString(w, `<ListAllMyBucketsResult><Buckets><Bucket><Name>a</Name></Bucket></Buckets>`+
				`<ContinuationToken>t/2</ContinuationToken></ListAllMyBucketsResult>`)
			return
		}
		io.WriteString(w, awsListBucketsXML)
	})
	buckets, err := c.ListBuckets(context.Background())
	if err != nil || len(buckets) != 3 || buckets[0].Name != "a" || buckets[2].Name != "samples" {
		t.Fatalf("got %+v, %v", buckets, err)
	}
	if got := log.reqs[0].URL.RequestURI() + " " + log.reqs[1].URL.RequestURI(); got != "/ /?continuation-token=t%2F2" {
		t.Errorf("got requests %s", got)
	}
}

// v1Server answers list-type=2 with answerV2 and V1 listings with a page
// of one key; it counts both kinds.
func v1Server(t *testing.T, answerV2 func(w http.ResponseWriter)) (*Client, *[2]int) {
	var mu sync.Mutex
	var counts [2]int // V2, V1
	c := opsClient(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Query().Get("list-type") == "2" {
			counts[0]++
			answerV2(w)
			return
		}
		counts[1]++
		io.WriteString(w, listXML("<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"+
			object("m%2F"+r.URL.Query().Get("marker"))))
	})
	return c, &counts
}

func TestOpsListObjectsFallsBackToV1(t *testing.T) {
	tests := []struct {
		name     string
		answerV2 func(w http.ResponseWriter)
	}{
		{"NotImplemented", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotImplemented)
			io.WriteString(w, `<Error><Code>NotImplemented</Code><Message>A header you provided implies functionality that is not implemented</Message></Error>`)
		}},
		{"400 list-type", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `<Error><Code>InvalidArgument</Code><Message>Unknown parameter list-type</Message></Error>`)
		}},
		{"200 without KeyCount", func(w http.ResponseWriter) {
			io.WriteString(w, listXML("<IsTruncated>false</IsTruncated>"+object("ignored")))
		}},
	}
	for _, tt := range tests {
		c, counts := v1Server(t, tt.answerV2)
		for i, token := range []string{"", "m/"} {
			page, err := c.ListObjects(context.Background(), "b", ListInput{ContinuationToken: token})
			want := "m/" + token
			if err != nil || len(page.Objects) != 1 || page.Objects[0].Key != want || page.NextContinuationToken != want {
				t.Errorf("%s: call %d: got %+v, %v, want key and token %q", tt.name, i, page, err, want)
			}
		}
		if *counts != [2]int{1, 2} {
			t.Errorf("%s: got %d V2 and %d V1 requests, want 1 and 2", tt.name, counts[0], counts[1])
		}
	}

	c, counts := v1Server(t, func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `<Error><Code>InvalidArgument</Code><Message>Invalid max-keys</Message></Error>`)
	})
	for i := 0; i < 2; i++ {
		if _, err := c.ListObjects(context.Background(), "b", ListInput{}); err == nil {
			t.Errorf("other 400: got %v, want the error", err)
		}
	}
	if *counts != [2]int{2, 0} {
		t.Errorf("other 400: got %d V2 and %d V1 requests, want 2 and 0", counts[0], counts[1])
	}

	c, counts = v1Server(t, func(w http.ResponseWriter) {
		io.WriteString(w, listXML("<KeyCount>1</KeyCount>"+object("v2")))
	})
	if page, err := c.ListObjects(context.Background(), "b", ListInput{}); err != nil || page.Objects[0].Key != "v2" || *counts != [2]int{1, 0} {
		t.Errorf("V2 server: got %+v, %v, counts %v", page, err, *counts)
	}
}

func TestOpsListObjectsV1Request(t *testing.T) {
	var log opsLog
	c := opsClient(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		io.WriteString(w, listXML(""))
	})
	ctx := context.Background()
	for _, in := range []ListInput{
		{Prefix: "a b/", Delimiter: "/", MaxKeys: 2},
		{ContinuationToken: "k+1", StartAfter: "ignored"},
		{StartAfter: "s"},
	} {
		if _, err := c.listObjectsV1(ctx, "b", in); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"/b/?delimiter=%2F&encoding-type=url&max-keys=2&prefix=a%20b%2F",
		"/b/?encoding-type=url&marker=k%2B1&prefix=",
		"/b/?encoding-type=url&marker=s&prefix=",
	}
	for i, r := range log.reqs {
		if got := r.URL.RequestURI(); got != want[i] {
			t.Errorf("request %d: got %s, want %s", i, got, want[i])
		}
	}
	if _, err := opsClient(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, listXML("<IsTruncated>true</IsTruncated>"))
	}).listObjectsV1(ctx, "bkt", ListInput{Prefix: "p/"}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q prefix %q", "bkt", "p/")) {
		t.Errorf("bad page: got %v, want an error naming bucket and prefix", err)
	}
}
