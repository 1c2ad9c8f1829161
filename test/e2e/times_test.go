package e2e

import (
	"bytes"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
)

// statTimes is `stat -c '%X %Y %Z'` (atime, mtime, ctime in seconds).
func statTimes(t *testing.T, path string) (atime, mtime, ctime int64) {
	t.Helper()
	f := strings.Fields(sh(t, "stat", "-c", "%X %Y %Z", path))
	n := func(s string) int64 {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return n(f[0]), n(f[1]), n(f[2])
}

// TestCtimeAtime: ctime is kept in x-amz-meta-ctime and moved by chmod,
// chown, touch, writes and rename; atime is stored only by an explicit
// touch -a (reads do not move it) and is the mtime when absent, never 0;
// touch on the mount root is kept for the mount's lifetime.
func TestCtimeAtime(t *testing.T) {
	bucket := newBucket(t)
	body := []byte("from another client")
	if _, err := client.PutObject(ctx(t), bucket, "plain", bytes.NewReader(body), int64(len(body)), s3client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	m := mountBucket(t, bucket)
	if a, mt, c := statTimes(t, filepath.Join(m.Dir, "plain")); a != mt || c != mt || a == 0 {
		t.Errorf("times of an object without them: got atime %d mtime %d ctime %d, want all the mtime", a, mt, c)
	}

	file := filepath.Join(m.Dir, "file")
	writeFile(t, file, "one")
	_, _, c0 := statTimes(t, file)
	headCtime := func(key string) int64 {
		t.Helper()
		info, err := client.HeadObject(ctx(t), bucket, key)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := strconv.ParseInt(info.Metadata["ctime"], 10, 64)
		return v
	}
	if got := headCtime("file"); got != c0 {
		t.Errorf("x-amz-meta-ctime after create: got %d, want %d", got, c0)
	}
	last := c0
	step := func(what string, key string, do func()) {
		t.Helper()
		time.Sleep(1100 * time.Millisecond)
		do()
		_, _, c := statTimes(t, filepath.Join(m.Dir, key))
		if c <= last {
			t.Errorf("ctime after %s: got %d, want > %d", what, c, last)
		}
		if got := headCtime(key); got != c {
			t.Errorf("x-amz-meta-ctime after %s: got %d, want %d", what, got, c)
		}
		last = c
	}
	step("chmod", "file", func() { sh(t, "chmod", "0600", file) })
	step("chown", "file", func() { sh(t, "chown", "1234", file) })
	step("touch -m", "file", func() { sh(t, "touch", "-m", "-d", "2001-02-03 04:05:06", file) })
	step("append", "file", func() { sh(t, "sh", "-c", "echo more >> "+file) })
	step("mv", "moved", func() { sh(t, "mv", file, filepath.Join(m.Dir, "moved")) })

	moved := filepath.Join(m.Dir, "moved")
	sh(t, "touch", "-a", "-d", "2002-03-04 05:06:07", moved)
	readFile(t, moved) // noatime: reads do not move it
	wantAtime, _ := strconv.ParseInt(epoch(t, "2002-03-04 05:06:07"), 10, 64)
	if a, _, _ := statTimes(t, moved); a != wantAtime {
		t.Errorf("atime after touch -a and a read: got %d, want %d", a, wantAtime)
	}
	info, err := client.HeadObject(ctx(t), bucket, "moved")
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Metadata["atime"]; got != strconv.FormatInt(wantAtime, 10) {
		t.Errorf("x-amz-meta-atime: got %q, want %d", got, wantAtime)
	}

	sh(t, "touch", "-d", "2003-04-05 06:07:08", m.Dir)
	wantRoot, _ := strconv.ParseInt(epoch(t, "2003-04-05 06:07:08"), 10, 64)
	if a, mt, _ := statTimes(t, m.Dir); a != wantRoot || mt != wantRoot {
		t.Errorf("times of the mount root after touch: got atime %d mtime %d, want %d", a, mt, wantRoot)
	}

	if err := m.Unmount(); err != nil {
		t.Fatal(err)
	}
	again := mountBucket(t, bucket)
	if a, _, c := statTimes(t, filepath.Join(again.Dir, "moved")); a != wantAtime || c != last {
		t.Errorf("after remount: got atime %d ctime %d, want %d %d", a, c, wantAtime, last)
	}
}
