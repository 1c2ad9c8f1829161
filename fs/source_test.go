package fs

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/bucketfs/bucketfs/cache"
	"github.com/bucketfs/bucketfs/s3client"
)

// countingCache is a DataCache that passes every read on and records
// it, and keeps what it is given as uploaded.
type countingCache struct {
	mu       sync.Mutex // protects the fields below
	reads    map[string]int
	uploaded map[string]string // key → ETag and content, as "etag:content"
}

func (c *countingCache) Wrap(src Source) Source { return countingSource{c, src} }

type countingSource struct {
	c   *countingCache
	src Source
}

func (s countingSource) ReadObject(ctx context.Context, b, k string, off int64, p []byte, o s3client.GetOptions) (int, *s3client.ObjectInfo, error) {
	s.c.mu.Lock()
	s.c.reads[k]++
	s.c.mu.Unlock()
	return s.src.ReadObject(ctx, b, k, off, p, o)
}

func (s countingSource) Uploaded(ctx context.Context, b, k, etag string, body io.ReaderAt, size int64) {
	data := make([]byte, size)
	n, _ := body.ReadAt(data, 0)
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if s.c.uploaded == nil {
		s.c.uploaded = map[string]string{}
	}
	s.c.uploaded[k] = etag + ":" + string(data[:n])
}

func (c *countingCache) upload(key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.uploaded[key]
}

func (c *countingCache) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads[key]
}

// TestDataCacheSeesEveryRead: sequential reads, random reads, the
// staging of a partial rewrite and readlink all read through the cache.
func TestDataCacheSeesEveryRead(t *testing.T) {
	store := newFakeStore(t, "b")
	data := randomBytes(3<<20 + 5)
	store.set("big", data)
	store.set("small", []byte("hello world"))
	cc := &countingCache{reads: map[string]int{}}
	mnt, _ := testMount(t, store, Options{Cache: cc}, cache.Options{})

	got, err := os.ReadFile(filepath.Join(mnt, "big"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadFile: %v (equal %v)", err, bytes.Equal(got, data))
	}
	if n := cc.count("big"); n == 0 {
		t.Errorf("sequential read: got %v reads through the cache, want > 0", n)
	}

	store.set("rnd", data)
	f, err := os.Open(filepath.Join(mnt, "rnd"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := f.ReadAt(buf, 2<<20+3); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !bytes.Equal(buf, data[2<<20+3:2<<20+13]) {
		t.Errorf("random read: got %x", buf)
	}
	if n := cc.count("rnd"); n == 0 {
		t.Errorf("random read: got %v reads through the cache, want > 0", n)
	}

	w, err := os.OpenFile(filepath.Join(mnt, "small"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt([]byte("J"), 6); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := cc.count("small"); n == 0 {
		t.Errorf("staging of a partial rewrite: got %v reads through the cache, want > 0", n)
	}
	if got, _ := store.get("small"); string(got) != "hello Jorld" {
		t.Errorf("rewritten object: got %q, want %q", got, "hello Jorld")
	}

	if err := os.Symlink("target/of/link", filepath.Join(mnt, "link")); err != nil {
		t.Fatal(err)
	}
	// A fresh mount of the same store reads the link's body.
	cc2 := &countingCache{reads: map[string]int{}}
	mnt2, _ := testMount(t, store, Options{Cache: cc2}, cache.Options{})
	target, err := os.Readlink(filepath.Join(mnt2, "link"))
	if err != nil || target != "target/of/link" {
		t.Fatalf("Readlink: got %q, %v", target, err)
	}
	if n := cc2.count("link"); n != 1 {
		t.Errorf("readlink: got %v reads through the cache, want 1", n)
	}
}

// TestDataCacheGetsUploads: what a single PUT and a staged rewrite
// upload goes to the cache with the new ETag (write-through).
func TestDataCacheGetsUploads(t *testing.T) {
	store := newFakeStore(t, "b")
	store.set("old", []byte("0123456789"))
	cc := &countingCache{reads: map[string]int{}}
	mnt, _ := testMount(t, store, Options{Cache: cc}, cache.Options{})
	if err := os.WriteFile(filepath.Join(mnt, "new"), []byte("fresh content"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(mnt, "old"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("ab"), 4); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for key, content := range map[string]string{"new": "fresh content", "old": "0123ab6789"} {
		info, err := store.HeadObject(context.Background(), "b", key)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cc.upload(key), info.ETag+":"+content; got != want {
			t.Errorf("uploaded %s: got %q, want %q", key, got, want)
		}
	}
}
