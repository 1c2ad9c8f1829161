package s3client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// copyServer answers a multipart copy: HEAD with a 25-byte object and
// its metadata, the upload's POSTs and part copies; a part copy of the
// range in failRange fails.
func copyServer(log *opsLog, failRange string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		switch {
		case r.Method == http.MethodHead:
			w.Header().Set("Content-Length", "25")
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("X-Amz-Meta-Mode", "33188")
			w.Header().Set("X-Amz-Meta-Color", "blue")
		case r.Method == http.MethodPost && r.URL.Query().Has("uploads"):
			io.WriteString(w, `<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>`)
		case r.Method == http.MethodPost:
			io.WriteString(w, `<CompleteMultipartUploadResult><ETag>"m-3"</ETag></CompleteMultipartUploadResult>`)
		case r.Method == http.MethodPut && r.URL.Query().Has("partNumber"):
			if r.Header.Get("X-Amz-Copy-Source-Range") == failRange {
				writeS3Error(w, http.StatusForbidden, "AccessDenied", "no")
				return
			}
			io.WriteString(w, `<CopyPartResult><ETag>"p`+r.URL.Query().Get("partNumber")+`"</ETag></CopyPartResult>`)
		case r.Method == http.MethodPut:
			io.WriteString(w, awsCopyXML)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		}
	}
}

// describe is a request as method, path and query, with the headers of a copy.
func describe(r *http.Request) string {
	got := r.Method + " " + r.URL.RequestURI()
	for _, h := range []string{"X-Amz-Copy-Source", "X-Amz-Copy-Source-Range", "X-Amz-Copy-Source-If-Match",
		"X-Amz-Metadata-Directive", "X-Amz-Meta-Mode", "X-Amz-Meta-Color"} {
		if v := r.Header.Get(h); v != "" {
			got += " " + strings.TrimPrefix(strings.ToLower(h), "x-amz-") + "=" + v
		}
	}
	if r.Method == http.MethodPost && r.URL.Query().Has("uploads") {
		got += " type=" + r.Header.Get("Content-Type")
	}
	return got
}

func checkRequests(t *testing.T, log *opsLog, want []string) {
	t.Helper()
	for i, r := range log.reqs {
		if got := describe(r); i >= len(want) || got != want[i] {
			t.Errorf("request %d: got %q, want %q", i, got, want[min(i, len(want)-1)])
		}
	}
	if len(log.reqs) < len(want) {
		t.Errorf("got %d requests, want %d", len(log.reqs), len(want))
	}
}

// An object over the single-copy limit is copied in parts that cover
// it exactly, with the source's metadata, and completed in order.
func TestCopyAnySizeInParts(t *testing.T) {
	var log opsLog
	c := opsClient(t, copyServer(&log, ""))
	etag, err := c.copyAnySize(context.Background(), "dst", "new key", "src", "a b", 25, CopyOptions{IfMatch: `"e"`}, 10, 10)
	if err != nil || etag != `"m-3"` {
		t.Fatalf("got %q, %v, want \"m-3\"", etag, err)
	}
	checkRequests(t, &log, []string{
		"HEAD /src/a%20b",
		"POST /dst/new%20key?uploads= meta-mode=33188 meta-color=blue type=text/plain",
		"PUT /dst/new%20key?partNumber=1&uploadId=u1 copy-source=/src/a%20b copy-source-range=bytes=0-9 copy-source-if-match=\"e\"",
		"PUT /dst/new%20key?partNumber=2&uploadId=u1 copy-source=/src/a%20b copy-source-range=bytes=10-19 copy-source-if-match=\"e\"",
		"PUT /dst/new%20key?partNumber=3&uploadId=u1 copy-source=/src/a%20b copy-source-range=bytes=20-24 copy-source-if-match=\"e\"",
		"POST /dst/new%20key?uploadId=u1",
	})
	if body := string(log.body[len(log.body)-1]); !strings.Contains(body,
		`<Part><PartNumber>1</PartNumber><ETag>"p1"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>"p2"</ETag></Part><Part><PartNumber>3</PartNumber><ETag>"p3"</ETag></Part>`) {
		t.Errorf("complete body: got %s, want parts 1-3 in order", body)
	}
}

// With ReplaceMetadata the parts' upload gets the metadata of opts.
func TestCopyAnySizeInPartsReplace(t *testing.T) {
	var log opsLog
	c := opsClient(t, copyServer(&log, ""))
	_, err := c.copyAnySize(context.Background(), "dst", "k", "src", "k", 25,
		CopyOptions{ReplaceMetadata: true, Metadata: map[string]string{"mode": "420"}, ContentType: "image/png"}, 10, 20)
	if err != nil {
		t.Fatal(err)
	}
	checkRequests(t, &log, []string{
		"HEAD /src/k",
		"POST /dst/k?uploads= meta-mode=420 type=image/png",
		"PUT /dst/k?partNumber=1&uploadId=u1 copy-source=/src/k copy-source-range=bytes=0-19",
		"PUT /dst/k?partNumber=2&uploadId=u1 copy-source=/src/k copy-source-range=bytes=20-24",
		"POST /dst/k?uploadId=u1",
	})
}

// A failed part aborts the upload and is the copy's error.
func TestCopyAnySizeAbortsOnFailure(t *testing.T) {
	var log opsLog
	c := opsClient(t, copyServer(&log, "bytes=10-19"))
	_, err := c.copyAnySize(context.Background(), "dst", "k", "src", "k", 25, CopyOptions{}, 10, 10)
	if !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("got %v, want ErrAccessDenied", err)
	}
	checkRequests(t, &log, []string{
		"HEAD /src/k",
		"POST /dst/k?uploads= meta-mode=33188 meta-color=blue type=text/plain",
		"PUT /dst/k?partNumber=1&uploadId=u1 copy-source=/src/k copy-source-range=bytes=0-9",
		"PUT /dst/k?partNumber=2&uploadId=u1 copy-source=/src/k copy-source-range=bytes=10-19",
		"DELETE /dst/k?uploadId=u1",
	})
}

// Up to the limit, it is one CopyObject; CopyObjectAnySize's limit is
// S3's 5 GiB.
func TestCopyAnySizeSingle(t *testing.T) {
	var log opsLog
	c := opsClient(t, copyServer(&log, ""))
	for _, size := range []int64{0, 10} {
		if _, err := c.copyAnySize(context.Background(), "dst", "k", "src", "k", size, CopyOptions{}, 10, 10); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CopyObjectAnySize(context.Background(), "dst", "k", "src", "k", 5<<30, CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "PUT /dst/k copy-source=/src/k metadata-directive=COPY"
	checkRequests(t, &log, []string{want, want, want})
}

// copyRefusingServer holds one object, src (25 bytes, ETag "e1"), refuses
// every server-side copy with NotImplemented as Ceph RGW 16 does for an
// encrypted source, and records what is PUT: whole objects in puts,
// parts in parts (by number).
type copyRefusingServer struct {
	log   opsLog
	puts  map[string]string
	parts map[string]string
}

const copySrcData = "abcdefghijklmnopqrstuvwxy"

func (s *copyRefusingServer) serve(w http.ResponseWriter, r *http.Request) {
	s.log.add(r)
	body := string(s.log.body[s.log.n()-1])
	q := r.URL.Query()
	switch {
	case r.Header.Get("X-Amz-Copy-Source") != "":
		writeS3Error(w, http.StatusNotImplemented, "NotImplemented", "")
	case r.Method == http.MethodHead:
		w.Header().Set("Content-Length", "25")
		w.Header().Set("ETag", `"e1"`)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Amz-Meta-Mode", "33188")
	case r.Method == http.MethodGet:
		if r.Header.Get("If-Match") != `"e1"` {
			writeS3Error(w, http.StatusPreconditionFailed, "PreconditionFailed", "")
			return
		}
		var first, last int
		fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &first, &last)
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/25", first, last))
		w.WriteHeader(http.StatusPartialContent)
		io.WriteString(w, copySrcData[first:last+1])
	case r.Method == http.MethodPost && q.Has("uploads"):
		s.puts[r.URL.Path+" meta"] = r.Header.Get("X-Amz-Meta-Mode")
		io.WriteString(w, `<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>`)
	case r.Method == http.MethodPost:
		io.WriteString(w, `<CompleteMultipartUploadResult><ETag>"m-3"</ETag></CompleteMultipartUploadResult>`)
	case r.Method == http.MethodPut && q.Has("partNumber"):
		s.parts[q.Get("partNumber")] = body
		w.Header().Set("ETag", `"p`+q.Get("partNumber")+`"`)
	case r.Method == http.MethodPut:
		s.puts[r.URL.Path] = body
		s.puts[r.URL.Path+" meta"] = r.Header.Get("X-Amz-Meta-Mode")
		w.Header().Set("ETag", `"new"`)
	}
}

// TestCopyThroughWhenServerRefuses: a copy the server answers with
// NotImplemented is made by reading and writing the object, keeping
// its metadata (or replacing it), pinned to the version HEAD saw.
func TestCopyThroughWhenServerRefuses(t *testing.T) {
	s := &copyRefusingServer{puts: map[string]string{}, parts: map[string]string{}}
	c := opsClient(t, s.serve)
	ctx := context.Background()
	etag, err := c.CopyObject(ctx, "b", "dst", "b", "src", CopyOptions{IfMatch: `"e1"`})
	if err != nil || etag != `"new"` {
		t.Fatalf("CopyObject: %q, %v", etag, err)
	}
	if s.puts["/b/dst"] != copySrcData || s.puts["/b/dst meta"] != "33188" {
		t.Errorf("PUT of the copy: %q", s.puts)
	}
	if _, err := c.CopyObject(ctx, "b", "src", "b", "src", CopyOptions{ReplaceMetadata: true, Metadata: map[string]string{"mode": "33152"}}); err != nil {
		t.Fatal(err)
	}
	if s.puts["/b/src"] != copySrcData || s.puts["/b/src meta"] != "33152" {
		t.Errorf("PUT of the metadata rewrite: %q", s.puts)
	}
	// In parts of 10 bytes: 10 + 10 + 5, through a multipart upload.
	if _, err := c.copyThrough(ctx, "b", "big", "b", "src", CopyOptions{}, 10, errors.New("test")); err != nil {
		t.Fatal(err)
	}
	if s.parts["1"] != copySrcData[:10] || s.parts["2"] != copySrcData[10:20] || s.parts["3"] != copySrcData[20:] ||
		s.puts["/b/big meta"] != "33188" {
		t.Errorf("parts %q, puts %q", s.parts, s.puts)
	}
	// The source is not the version asked for.
	if _, err := c.CopyObject(ctx, "b", "dst2", "b", "src", CopyOptions{IfMatch: `"e0"`}); !errors.Is(err, ErrPreconditionFailed) {
		t.Errorf("copy of a changed source: %v, want ErrPreconditionFailed", err)
	}
	if _, ok := s.puts["/b/dst2"]; ok {
		t.Error("a changed source was copied")
	}
}
