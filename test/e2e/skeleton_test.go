package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
)

// TestCopyInAndOut copies 10 MiB in with cp, checks ls -l, reads it back
// through a second mount and through boto, and removes it with rm.
func TestCopyInAndOut(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket)
	src := randomFile(t, 10<<20)
	dst := filepath.Join(m.Dir, "big.bin")

	sh(t, "cp", src, dst)

	fields := strings.Fields(sh(t, "ls", "-l", dst))
	if len(fields) < 5 || fields[4] != "10485760" {
		t.Fatalf("ls -l %s: got %q, want size 10485760", dst, fields)
	}
	info, err := client.HeadObject(ctx(t), bucket, "big.bin")
	if err != nil {
		t.Fatalf("object after cp: %v", err)
	}
	if info.Size != 10<<20 {
		t.Fatalf("object size: got %d, want %d", info.Size, 10<<20)
	}

	// A fresh mount has nothing in the page cache: this reads from S3.
	fresh := mountBucket(t, bucket)
	sh(t, "cmp", src, filepath.Join(fresh.Dir, "big.bin"))

	fetched := filepath.Join(t.TempDir(), "fetched")
	boto(t, bucket, "get", "big.bin", fetched)
	sh(t, "cmp", src, fetched)

	sh(t, "rm", dst)
	if _, err := client.HeadObject(ctx(t), bucket, "big.bin"); !errors.Is(err, s3client.ErrNotFound) {
		t.Fatalf("HEAD after rm: got %v, want not found", err)
	}
	if _, err := os.Stat(dst); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat after rm: got %v, want ENOENT", err)
	}
}

// TestBotoInterop replays the seed's boto 2 calls against the mount.
func TestBotoInterop(t *testing.T) {
	bucket := newBucket(t)
	if got := boto(t, bucket, "lookup-bucket"); got != "yes" {
		t.Fatalf("boto lookup(%s): got %q, want yes", bucket, got)
	}
	m := mountBucket(t, bucket)

	// Written by boto, read through the mount.
	fromBoto := randomFile(t, 4627506) // the seed's object size
	boto(t, bucket, "put", "dfafadsf", fromBoto)
	st, err := os.Stat(filepath.Join(m.Dir, "dfafadsf"))
	if err != nil {
		t.Fatalf("stat key written by boto: %v", err)
	}
	if st.Size() != 4627506 {
		t.Fatalf("size of key written by boto: got %d, want 4627506", st.Size())
	}
	sh(t, "cmp", fromBoto, filepath.Join(m.Dir, "dfafadsf"))

	// Written through the mount, read by boto.
	fromMount := randomFile(t, 300_000)
	sh(t, "cp", fromMount, filepath.Join(m.Dir, "from-mount"))
	data, err := os.ReadFile(fromMount)
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	if got, want := boto(t, bucket, "md5", "from-mount"), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("boto md5 of file written through the mount: got %s, want %s", got, want)
	}

	// Deleted through the mount, gone for boto.
	sh(t, "rm", filepath.Join(m.Dir, "dfafadsf"))
	if got := boto(t, bucket, "exists", "dfafadsf"); got != "no" {
		t.Fatalf("boto get_key after rm: got %q, want no (None)", got)
	}
}

// TestDirectoryFromKeys shows keys d/a and d/b/c as d/ holding a and b/.
func TestDirectoryFromKeys(t *testing.T) {
	bucket := newBucket(t)
	for _, key := range []string{"d/a", "d/b/c"} {
		if _, err := client.PutObject(ctx(t), bucket, key, strings.NewReader(key), int64(len(key)), s3client.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	m := mountBucket(t, bucket)
	if got := sh(t, "ls", "-p", m.Dir); got != "d/\n" {
		t.Fatalf("ls -p of root: got %q, want %q", got, "d/\n")
	}
	if got := sh(t, "ls", "-p", filepath.Join(m.Dir, "d")); got != "a\nb/\n" {
		t.Fatalf("ls -p d: got %q, want %q", got, "a\nb/\n")
	}
	got, err := os.ReadFile(filepath.Join(m.Dir, "d", "b", "c"))
	if err != nil || string(got) != "d/b/c" {
		t.Fatalf("read d/b/c: got %q, %v; want %q", got, err, "d/b/c")
	}
	found := sh(t, "find", m.Dir, "-type", "f")
	want := filepath.Join(m.Dir, "d", "a") + "\n" + filepath.Join(m.Dir, "d", "b", "c") + "\n"
	if lines := sortLines(found); lines != want {
		t.Fatalf("find -type f: got %q, want %q", lines, want)
	}
}

// TestListPagination lists 1500 objects in one directory (two LIST pages).
func TestListPagination(t *testing.T) {
	const n = 1500
	bucket := newBucket(t)
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("f%05d", i)
	}
	putAll(t, bucket, "many/", want)
	m := mountBucket(t, bucket)
	out := sh(t, "ls", "-1", filepath.Join(m.Dir, "many"))
	got := strings.Fields(out)
	if len(got) != n {
		t.Fatalf("ls many: got %d names, want %d", len(got), n)
	}
	sort.Strings(got)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ls many: name %d: got %q, want %q", i, got[i], want[i])
		}
	}
}

// putAll uploads a small object for each name under prefix, in parallel.
func putAll(t *testing.T, bucket, prefix string, names []string) {
	t.Helper()
	putEach(t, bucket, len(names), func(i int) (string, []byte, s3client.PutOptions) {
		return prefix + names[i], []byte(names[i]), s3client.PutOptions{}
	})
}

// putEach uploads the n objects that object(i) describes, 32 at a time.
func putEach(t *testing.T, bucket string, n int, object func(i int) (key string, body []byte, opts s3client.PutOptions)) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	work := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				key, body, opts := object(i)
				if _, err := client.PutObject(c, bucket, key, bytes.NewReader(body), int64(len(body)), opts); err != nil {
					errs <- fmt.Errorf("put %s: %w", key, err)
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestMissingFile: stat or read of a name that is no object gives
// ENOENT. (Ceph RGW answers the HEAD with 404, a Content-Length and no
// body: still ENOENT, not EIO.)
func TestMissingFile(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket)
	if _, err := os.Stat(filepath.Join(m.Dir, "no-such-file")); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("stat missing file: got %v, want ENOENT", err)
	}
	_, err := os.ReadFile(filepath.Join(m.Dir, "no-such-file"))
	if !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("read missing file: got %v, want ENOENT", err)
	}
	out, err := exec.Command("cat", filepath.Join(m.Dir, "no-such-file")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "No such file or directory") {
		t.Fatalf("cat missing file: got %v %q, want failure with 'No such file or directory'", err, out)
	}
}

// TestMissingBucket: mounting a bucket that does not exist fails at once
// with a message naming the bucket and the S3 error code.
func TestMissingBucket(t *testing.T) {
	cmd := exec.Command(binary, bucketfsArgs("no-such-bucket-e2e", t.TempDir())...)
	cmd.Env = server.Env()
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("mount of a missing bucket succeeded:\n%s", out)
	}
	for _, want := range []string{"no-such-bucket-e2e", "NoSuchBucket"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("error output %q does not mention %q", out, want)
		}
	}
}

// TestUploadToVanishedBucket: when the bucket is gone, cp fails (close(2)
// returns EIO) instead of reporting success, and the log names the cause.
func TestUploadToVanishedBucket(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket)
	if err := client.DeleteBucket(ctx(t), bucket); err != nil {
		t.Fatal(err)
	}
	src := randomFile(t, 1000)
	out, err := exec.Command("cp", src, filepath.Join(m.Dir, "lost")).CombinedOutput()
	if err == nil {
		t.Fatalf("cp into a deleted bucket succeeded: %s", out)
	}
	if !strings.Contains(string(out), "Input/output error") {
		t.Errorf("cp error: got %q, want Input/output error", out)
	}
	if log := m.Log(); !strings.Contains(log, "NoSuchBucket") || !strings.Contains(log, "lost") {
		t.Errorf("bucketfs log does not name the key and NoSuchBucket:\n%s", log)
	}
}

func sortLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}
