package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/bucketfs/bucketfs/s3client"
)

// TestEndpointMount mounts the whole endpoint ("/"): one directory per
// bucket; mkdir and rmdir at the root create and delete buckets.
func TestEndpointMount(t *testing.T) {
	bucket := newBucket(t)
	if _, err := client.PutObject(ctx(t), bucket, "kept", strings.NewReader("kept"), 4, s3client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	m := mountBucket(t, "/")

	// ls shows the buckets.
	buckets, err := client.ListBuckets(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range buckets {
		names = append(names, b.Name)
	}
	sort.Strings(names)
	if got, want := strings.Fields(sh(t, "ls", m.Dir)), names; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ls of the endpoint root: got %v, want %v", got, want)
	}
	if got, want := sh(t, "ls", filepath.Join(m.Dir, bucket)), "kept\n"; got != want {
		t.Errorf("ls %s: got %q, want %q", bucket, got, want)
	}

	// mkdir creates a bucket, which boto sees.
	suffix := make([]byte, 4)
	rand.Read(suffix)
	newName := "e2e-endpoint-new-" + hex.EncodeToString(suffix)
	sh(t, "mkdir", filepath.Join(m.Dir, newName))
	if got := boto(t, newName, "lookup-bucket"); got != "yes" {
		t.Errorf("boto lookup of a bucket made by mkdir: got %q, want yes", got)
	}
	if st, err := os.Stat(filepath.Join(m.Dir, newName)); err != nil || !st.IsDir() {
		t.Errorf("stat %s: got %v, %v; want a directory", newName, st, err)
	}
	mustFail(t, "File exists", "mkdir", filepath.Join(m.Dir, newName))

	// Files can be written inside a bucket directory.
	src := randomFile(t, 300_000)
	sh(t, "mkdir", "-p", filepath.Join(m.Dir, newName, "sub"))
	sh(t, "cp", src, filepath.Join(m.Dir, newName, "sub", "file"))
	if info, err := client.HeadObject(ctx(t), newName, "sub/file"); err != nil || info.Size != 300_000 {
		t.Errorf("object written through the endpoint mount: got %v, %v; want size 300000", info, err)
	}
	if _, err := client.HeadObject(ctx(t), newName, "sub/"); err != nil {
		t.Errorf("marker sub/: got %v, want it to exist", err)
	}
	sh(t, "cmp", src, filepath.Join(m.Dir, newName, "sub", "file"))
	sh(t, "cmp", src, filepath.Join(mountBucket(t, newName).Dir, "sub", "file"))

	// rmdir of a bucket with objects: ENOTEMPTY, and the bucket stays.
	mustFail(t, "Directory not empty", "rmdir", filepath.Join(m.Dir, bucket))
	if err := client.HeadBucket(ctx(t), bucket); err != nil {
		t.Errorf("bucket after a failed rmdir: got %v, want it kept", err)
	}
	mustFail(t, "Directory not empty", "rmdir", filepath.Join(m.Dir, newName))

	// Emptied, the new bucket goes with rmdir.
	sh(t, "rm", "-r", filepath.Join(m.Dir, newName, "sub"))
	sh(t, "rmdir", filepath.Join(m.Dir, newName))
	if got := boto(t, newName, "lookup-bucket"); got != "no" {
		t.Errorf("boto lookup of a bucket removed by rmdir: got %q, want no", got)
	}
	if _, err := os.Stat(filepath.Join(m.Dir, newName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat %s after rmdir: got %v, want ENOENT", newName, err)
	}
	if got := sh(t, "ls", m.Dir); strings.Contains(got, newName) {
		t.Errorf("ls after rmdir: got %q, want no %s", got, newName)
	}

	// Invalid bucket names and files at the root are refused.
	mustFail(t, "Invalid argument", "mkdir", filepath.Join(m.Dir, "Bad_Name"))
	mustFail(t, "Operation not permitted", "touch", filepath.Join(m.Dir, "file-at-root"))
	mustFail(t, "Operation not permitted", "cp", src, filepath.Join(m.Dir, "copy-at-root"))
	mustFail(t, "Operation not permitted", "ln", "-s", bucket, filepath.Join(m.Dir, "link-at-root"))
	if got := sh(t, "ls", m.Dir); strings.Contains(got, "Bad_Name") || strings.Contains(got, "-at-root") {
		t.Errorf("ls after refused creations: got %q, want none of them", got)
	}
}
