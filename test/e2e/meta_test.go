package e2e

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
)

// TestSymlink: ln -s makes a link readlink reads back, also after a
// remount, stored as s3fs stores links; touch -h sets its mtime.
func TestSymlink(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket)
	sh(t, "mkdir", filepath.Join(m.Dir, "real"))
	writeFile(t, filepath.Join(m.Dir, "real", "file"), "pointed at")
	sh(t, "ln", "-s", "real/file", filepath.Join(m.Dir, "link"))
	sh(t, "ln", "-s", "/nowhere/at all", filepath.Join(m.Dir, "dangling"))
	sh(t, "touch", "-h", "-d", "2001-02-03 04:05:06", filepath.Join(m.Dir, "link"))

	check := func(dir, when string) {
		t.Helper()
		for link, want := range map[string]string{"link": "real/file", "dangling": "/nowhere/at all"} {
			if got := strings.TrimSpace(sh(t, "readlink", filepath.Join(dir, link))); got != want {
				t.Errorf("readlink %s %s: got %q, want %q", link, when, got, want)
			}
		}
		if got, want := readFile(t, filepath.Join(dir, "link")), "pointed at"; got != want {
			t.Errorf("cat link %s: got %q, want %q", when, got, want)
		}
		if got, want := sh(t, "stat", "-c", "%F %Y", filepath.Join(dir, "link")), "symbolic link "+epoch(t, "2001-02-03 04:05:06")+"\n"; got != want {
			t.Errorf("stat -c '%%F %%Y' link %s: got %q, want %q", when, got, want)
		}
	}
	check(m.Dir, "")
	if err := m.Unmount(); err != nil {
		t.Fatal(err)
	}
	check(mountBucket(t, bucket).Dir, "after remount")

	info, err := client.HeadObject(ctx(t), bucket, "link")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.Metadata["mode"], strconv.Itoa(0o120777); got != want {
		t.Errorf("x-amz-meta-mode of link: got %v, want %v", got, want)
	}
	if info.Size != int64(len("real/file")) {
		t.Errorf("size of link object: got %v, want %v", info.Size, len("real/file"))
	}
}

// TestChmodAcrossRemount: chmod is kept in x-amz-meta-mode.
func TestChmodAcrossRemount(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket)
	writeFile(t, filepath.Join(m.Dir, "file"), "content")
	sh(t, "mkdir", filepath.Join(m.Dir, "dir"))
	sh(t, "chmod", "0600", filepath.Join(m.Dir, "file"))
	sh(t, "chmod", "0710", filepath.Join(m.Dir, "dir"))
	if got := sh(t, "stat", "-c", "%a", filepath.Join(m.Dir, "file")); got != "600\n" {
		t.Errorf("stat -c %%a file: got %q, want %q", got, "600\n")
	}
	if err := m.Unmount(); err != nil {
		t.Fatal(err)
	}

	again := mountBucket(t, bucket)
	for name, want := range map[string]string{"file": "600 regular file\n", "dir": "710 directory\n"} {
		if got := sh(t, "stat", "-c", "%a %F", filepath.Join(again.Dir, name)); got != want {
			t.Errorf("stat -c '%%a %%F' %s after remount: got %q, want %q", name, got, want)
		}
	}
	if got, want := readFile(t, filepath.Join(again.Dir, "file")), "content"; got != want {
		t.Errorf("content after chmod: got %q, want %q", got, want)
	}
	info, err := client.HeadObject(ctx(t), bucket, "file")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.Metadata["mode"], strconv.Itoa(0o100600); got != want {
		t.Errorf("x-amz-meta-mode: got %v, want %v", got, want)
	}
}

// TestTouchMtimeAcrossRemount: touch -d is kept in x-amz-meta-mtime.
func TestTouchMtimeAcrossRemount(t *testing.T) {
	const when = "2001-02-03 04:05:06"
	bucket := newBucket(t)
	m := mountBucket(t, bucket)
	writeFile(t, filepath.Join(m.Dir, "file"), "content")
	sh(t, "mkdir", filepath.Join(m.Dir, "dir"))
	sh(t, "touch", "-d", when, filepath.Join(m.Dir, "file"), filepath.Join(m.Dir, "dir"))
	sh(t, "touch", "-d", when, filepath.Join(m.Dir, "new"))
	if err := m.Unmount(); err != nil {
		t.Fatal(err)
	}

	again := mountBucket(t, bucket)
	want := epoch(t, when) + "\n"
	for _, name := range []string{"file", "dir", "new"} {
		if got := sh(t, "stat", "-c", "%Y", filepath.Join(again.Dir, name)); got != want {
			t.Errorf("stat -c %%Y %s after remount: got %q, want %q", name, got, want)
		}
	}
	info, err := client.HeadObject(ctx(t), bucket, "file")
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Metadata["mtime"] + "\n"; got != want {
		t.Errorf("x-amz-meta-mtime: got %q, want %q", got, want)
	}
}

// TestAppend: cat >> adds to the end of a file, also of one written by
// another client.
func TestAppend(t *testing.T) {
	bucket := newBucket(t)
	old := randomBytes(100_000)
	if _, err := client.PutObject(ctx(t), bucket, "from-s3", bytes.NewReader(old), int64(len(old)), s3client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	m := mountBucket(t, bucket)
	writeFile(t, filepath.Join(m.Dir, "log"), "first line\n")
	more := randomFile(t, 50_000)

	sh(t, "sh", "-c", `echo "second line" >> "$1"`, "sh", filepath.Join(m.Dir, "log"))
	sh(t, "sh", "-c", `cat "$1" >> "$2"`, "sh", more, filepath.Join(m.Dir, "from-s3"))

	added, err := os.ReadFile(more)
	if err != nil {
		t.Fatal(err)
	}
	fresh := mountBucket(t, bucket)
	for _, dir := range []string{m.Dir, fresh.Dir} {
		if got, want := readFile(t, filepath.Join(dir, "log")), "first line\nsecond line\n"; got != want {
			t.Errorf("log after append: got %q, want %q", got, want)
		}
		got := readFile(t, filepath.Join(dir, "from-s3"))
		if want := string(old) + string(added); got != want {
			t.Errorf("from-s3 after append: got %v bytes, want %v (old + new)", len(got), len(want))
		}
	}
}

// TestDdRandomWrite edits existing files in place with dd conv=notrunc
// and compares them with a local copy given the same edits.
func TestDdRandomWrite(t *testing.T) {
	for _, tc := range []struct {
		name  string
		size  int
		edits [][2]int // seek, count
	}{
		{"small", 100_000, [][2]int{{0, 10}, {50_000, 1000}, {99_990, 100}, {150_000, 10}}},
		// Larger than a part (8 MiB): one edit in the middle, one across
		// the first part boundary.
		{"20MiB", 20 << 20, [][2]int{{10 << 20, 4096}, {8<<20 - 100, 200}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bucket := newBucket(t)
			m := mountBucket(t, bucket)
			local := randomFile(t, tc.size)
			remote := filepath.Join(m.Dir, "file")
			sh(t, "cp", local, remote)
			patch := randomFile(t, 4096)
			for _, e := range tc.edits {
				for _, f := range []string{local, remote} {
					sh(t, "dd", "if="+patch, "of="+f, "bs=1", "conv=notrunc", "status=none",
						"seek="+strconv.Itoa(e[0]), "count="+strconv.Itoa(e[1]))
				}
			}
			sh(t, "cmp", local, remote)
			fresh := mountBucket(t, bucket)
			sh(t, "cmp", local, filepath.Join(fresh.Dir, "file"))
		})
	}
}

// TestTruncate shrinks and grows a file with truncate -s.
func TestTruncate(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket)
	local := randomFile(t, 1_000_000)
	remote := filepath.Join(m.Dir, "file")
	sh(t, "cp", local, remote)
	for _, size := range []string{"300000", "2000000", "12345", "0", "777"} {
		sh(t, "truncate", "-s", size, local)
		sh(t, "truncate", "-s", size, remote)
		sh(t, "cmp", local, remote)
		if got := sh(t, "stat", "-c", "%s", remote); got != size+"\n" {
			t.Errorf("stat -c %%s after truncate -s %s: got %q, want %q", size, got, size+"\n")
		}
		fresh := mountBucket(t, bucket)
		sh(t, "cmp", local, filepath.Join(fresh.Dir, "file"))
		if err := fresh.Unmount(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadOnlyMount: every change fails with EROFS and S3 stays as it was.
func TestReadOnlyMount(t *testing.T) {
	bucket := newBucket(t)
	for _, key := range []string{"file", "dir/inner", "empty/"} {
		if _, err := client.PutObject(ctx(t), bucket, key, strings.NewReader(key), int64(len(key)), s3client.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	before := objectStates(t, bucket)
	m := mountBucket(t, bucket, "--read-only")
	p := func(name string) string { return filepath.Join(m.Dir, name) }
	src := randomFile(t, 100)

	for _, cmd := range [][]string{
		{"touch", p("new")},
		{"cp", src, p("copy")},
		{"sh", "-c", `echo x > "$1"`, "sh", p("file")},
		{"sh", "-c", `echo x >> "$1"`, "sh", p("file")},
		{"truncate", "-s", "0", p("file")},
		{"rm", "-f", p("file")},
		{"rm", "-rf", p("dir")},
		{"rmdir", p("empty")},
		{"mkdir", p("newdir")},
		{"mv", p("file"), p("moved")},
		{"chmod", "600", p("file")},
		{"touch", "-d", "2001-02-03 04:05:06", p("file")},
		{"ln", "-s", "file", p("link")},
	} {
		mustFail(t, "Read-only file system", cmd[0], cmd[1:]...)
	}
	if got, want := readFile(t, p("file")), "file"; got != want {
		t.Errorf("read on a read-only mount: got %q, want %q", got, want)
	}
	if got, want := sh(t, "ls", m.Dir), "dir\nempty\nfile\n"; got != want {
		t.Errorf("ls: got %q, want %q", got, want)
	}
	if after := objectStates(t, bucket); after != before {
		t.Errorf("objects after writes on a read-only mount:\ngot\n%v\nwant\n%v", after, before)
	}
}

// TestOtherClientVisible: a change made by another client shows through
// the mount once the caches expire.
func TestOtherClientVisible(t *testing.T) {
	bucket := newBucket(t)
	put := func(key, content string) {
		t.Helper()
		if _, err := client.PutObject(ctx(t), bucket, key, strings.NewReader(content), int64(len(content)), s3client.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("d/old", "old content")
	put("d/gone", "about to go")
	m := mountBucket(t, bucket, "--cache-ttl", "1s", "--negative-cache-ttl", "1s", "--kernel-cache-ttl", "1s")
	dir := filepath.Join(m.Dir, "d")
	// Fill every cache: listing, attributes, a negative entry, page cache.
	if got, want := sh(t, "ls", dir), "gone\nold\n"; got != want {
		t.Fatalf("ls d: got %q, want %q", got, want)
	}
	readFile(t, filepath.Join(dir, "old"))
	if _, err := os.Stat(filepath.Join(dir, "new")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stat d/new before put: got %v, want ENOENT", err)
	}

	put("d/new", "from another client")
	put("d/old", "changed by another client")
	if err := client.DeleteObject(ctx(t), bucket, "d/gone"); err != nil {
		t.Fatal(err)
	}

	waitFor(t, 5*time.Second, "ls d shows the new listing", func() (string, bool) {
		out := sh(t, "ls", dir)
		return out, out == "new\nold\n"
	})
	waitFor(t, 5*time.Second, "d/new has its content", func() (string, bool) {
		data, err := os.ReadFile(filepath.Join(dir, "new"))
		return string(data) + " " + errString(err), err == nil && string(data) == "from another client"
	})
	waitFor(t, 5*time.Second, "d/old has the new content", func() (string, bool) {
		data, err := os.ReadFile(filepath.Join(dir, "old"))
		return string(data) + " " + errString(err), err == nil && string(data) == "changed by another client"
	})
	waitFor(t, 5*time.Second, "d/gone is gone", func() (string, bool) {
		_, err := os.Stat(filepath.Join(dir, "gone"))
		return errString(err), errors.Is(err, os.ErrNotExist)
	})
}

// TestMissingFromListing: after a listing, a name it does not hold is
// ENOENT, answered without asking S3.
func TestMissingFromListing(t *testing.T) {
	bucket := newBucket(t)
	for _, key := range []string{"d/present", "d/other"} {
		if _, err := client.PutObject(ctx(t), bucket, key, strings.NewReader("x"), 1, s3client.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	m := mountBucket(t, bucket)
	if got, want := sh(t, "ls", filepath.Join(m.Dir, "d")), "other\npresent\n"; got != want {
		t.Fatalf("ls d: got %q, want %q", got, want)
	}
	_, err := os.Stat(filepath.Join(m.Dir, "d", "absent"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stat d/absent: got %v, want ENOENT", err)
	}
	mustFail(t, "No such file or directory", "cat", filepath.Join(m.Dir, "d", "absent"))
	if log := m.Log(); strings.Contains(log, "key=d/absent") {
		t.Errorf("bucketfs asked S3 about d/absent after a fresh listing:\n%s", grepLines(log, "key=d/absent"))
	}
}

// waitFor polls check until it reports true, failing after d with what
// it last saw.
func waitFor(t *testing.T, d time.Duration, what string, check func() (string, bool)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		seen, ok := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: not within %v; last saw %q", what, d, seen)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// objectStates lists every object of bucket with its size, ETag, time
// and metadata.
func objectStates(t *testing.T, bucket string) string {
	t.Helper()
	var b strings.Builder
	for _, key := range keysUnder(t, bucket, "") {
		info, err := client.HeadObject(ctx(t), bucket, key)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d %s %s %v\n", key, info.Size, info.ETag, info.LastModified, info.Metadata)
	}
	return b.String()
}

// epoch is the Unix time of a local date as touch -d reads it.
func epoch(t *testing.T, date string) string {
	t.Helper()
	return strings.TrimSpace(sh(t, "date", "-d", date, "+%s"))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
