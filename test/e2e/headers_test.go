package e2e

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/bucketfs/bucketfs/s3client"
)

// TestMetadataRewriteKeepsHeaders: chmod, chown and touch (a CopyObject
// with REPLACE) and mv keep every header another client stored on a
// file and on a directory marker, changing only what they change.
func TestMetadataRewriteKeepsHeaders(t *testing.T) {
	bucket := newBucket(t)
	put := s3client.PutOptions{
		ContentType: "text/x-other-client",
		Metadata:    map[string]string{"other-client": "kept"},
		ContentHeaders: s3client.ContentHeaders{
			ContentEncoding:    "gzip",
			ContentDisposition: `attachment; filename="report.txt"`,
			CacheControl:       "max-age=3600",
			Expires:            "Wed, 21 Oct 2037 07:28:00 GMT",
		},
	}
	body := []byte("body")
	for _, key := range []string{"file", "dir/"} {
		if _, err := client.PutObject(ctx(t), bucket, key, bytes.NewReader(body), int64(len(body)), put); err != nil {
			t.Fatal(err)
		}
	}
	// A marker with a body is not empty (rmdir refuses it): fine here.
	m := mountBucket(t, bucket)
	for _, name := range []string{"file", "dir"} {
		p := filepath.Join(m.Dir, name)
		sh(t, "chmod", "0750", p)
		sh(t, "chown", "1234:5678", p)
		sh(t, "touch", "-d", "2001-02-03 04:05:06", p)
	}
	sh(t, "mv", filepath.Join(m.Dir, "file"), filepath.Join(m.Dir, "moved"))
	for _, c := range []struct{ key, mode string }{{"moved", "33256"}, {"dir/", "16872"}} {
		info, err := client.HeadObject(ctx(t), bucket, c.key)
		if err != nil {
			t.Fatalf("HEAD %s: %v", c.key, err)
		}
		if info.ContentType != put.ContentType {
			t.Errorf("%s Content-Type: got %q, want %q", c.key, info.ContentType, put.ContentType)
		}
		if info.ContentHeaders != put.ContentHeaders {
			t.Errorf("%s headers: got %+v, want %+v", c.key, info.ContentHeaders, put.ContentHeaders)
		}
		md := info.Metadata
		if md["other-client"] != "kept" || md["mode"] != c.mode || md["uid"] != "1234" || md["gid"] != "5678" ||
			md["mtime"] != epoch(t, "2001-02-03 04:05:06") {
			t.Errorf("%s metadata: got %v, want other-client=kept mode=%s uid=1234 gid=5678 mtime=%s", c.key, md, c.mode, epoch(t, "2001-02-03 04:05:06"))
		}
	}
}

// TestContentTypes: new objects get their Content-Type from
// /etc/mime.types (text/plain, no charset, as s3fs); after mv to a new
// extension the type follows the new name, unless it was explicit.
func TestContentTypes(t *testing.T) {
	bucket := newBucket(t)
	body := []byte("{}")
	if _, err := client.PutObject(ctx(t), bucket, "explicit.txt", bytes.NewReader(body), int64(len(body)),
		s3client.PutOptions{ContentType: "application/x-chosen"}); err != nil {
		t.Fatal(err)
	}
	m := mountBucket(t, bucket)
	writeFile(t, filepath.Join(m.Dir, "notes.txt"), "hello")
	writeFile(t, filepath.Join(m.Dir, "data.txt"), "{}")
	sh(t, "mv", filepath.Join(m.Dir, "data.txt"), filepath.Join(m.Dir, "data.json"))
	sh(t, "mv", filepath.Join(m.Dir, "explicit.txt"), filepath.Join(m.Dir, "explicit.png"))
	for key, want := range map[string]string{
		"notes.txt":    "text/plain", // /etc/mime.types; Go's table says "text/plain; charset=utf-8"
		"data.json":    "application/json",
		"explicit.png": "application/x-chosen",
	} {
		info, err := client.HeadObject(ctx(t), bucket, key)
		if err != nil {
			t.Fatalf("HEAD %s: %v", key, err)
		}
		if info.ContentType != want {
			t.Errorf("Content-Type of %s: got %q, want %q", key, info.ContentType, want)
		}
	}
}
