package e2e

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bucketfs/bucketfs/s3client"
)

// TestOldStyleS3fsDirectories: directories as s3fs before 1.86 stored
// them, an object "name" without a trailing slash of type
// application/x-directory or with S_IFDIR in its mode, are directories;
// writing inside, chmod and rmdir make no second "name/" marker.
func TestOldStyleS3fsDirectories(t *testing.T) {
	bucket := newBucket(t)
	for key, put := range map[string]s3client.PutOptions{
		"bytype": {ContentType: "application/x-directory"},
		"bymode": {ContentType: "application/octet-stream", Metadata: map[string]string{"mode": "16872", "uid": "1234", "gid": "5678"}}, // 040750
		"gone":   {ContentType: "application/x-directory"},
	} {
		if _, err := client.PutObject(ctx(t), bucket, key, bytes.NewReader(nil), 0, put); err != nil {
			t.Fatal(err)
		}
	}
	m := mountBucket(t, bucket)
	for name, want := range map[string]string{"bytype": "directory", "bymode": "directory 750 1234 5678"} {
		got := strings.TrimSpace(sh(t, "stat", "-c", "%F %a %u %g", filepath.Join(m.Dir, name)))
		if name == "bytype" {
			got = strings.Fields(got)[0]
		}
		if got != want {
			t.Errorf("stat %s: got %q, want %q", name, got, want)
		}
	}
	writeFile(t, filepath.Join(m.Dir, "bytype", "inside"), "x")
	writeFile(t, filepath.Join(m.Dir, "bymode", "inside"), "y")
	sh(t, "chmod", "0700", filepath.Join(m.Dir, "bymode"))
	sh(t, "rmdir", filepath.Join(m.Dir, "gone"))
	if got, want := strings.TrimSpace(sh(t, "ls", m.Dir)), "bymode\nbytype"; got != want {
		t.Errorf("ls: got %q, want %q", got, want)
	}
	if got, want := readFile(t, filepath.Join(m.Dir, "bymode", "inside")), "y"; got != want {
		t.Errorf("cat bymode/inside: got %q, want %q", got, want)
	}
	// No "name/" marker was made beside the old-style objects. (MinIO
	// does store "bytype/inside" but does not list a key below another
	// key, so only Ceph RGW lists them all.)
	for _, key := range keysUnder(t, bucket, "") {
		if strings.HasSuffix(key, "/") {
			t.Errorf("key %q: a second marker beside the old-style directory object", key)
		}
	}
	for _, key := range []string{"bytype/inside", "bymode/inside"} {
		if _, err := client.HeadObject(ctx(t), bucket, key); err != nil {
			t.Errorf("HEAD %s: %v", key, err)
		}
	}
	info, err := client.HeadObject(ctx(t), bucket, "bymode")
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Metadata["mode"]; got != "16832" { // 040700
		t.Errorf("x-amz-meta-mode of bymode after chmod: got %q, want 16832", got)
	}
	if err := m.Unmount(); err != nil {
		t.Fatal(err)
	}
	again := mountBucket(t, bucket)
	if got, want := strings.TrimSpace(sh(t, "stat", "-c", "%F %a", filepath.Join(again.Dir, "bymode"))), "directory 700"; got != want {
		t.Errorf("stat bymode after remount: got %q, want %q", got, want)
	}
}
