package blockcache

// Reads: hits, misses, pinned versions, corrupt blocks, write-through.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/bucketfs/bucketfs/s3client"
)

func TestReadsHitAfterMiss(t *testing.T) {
	src := newFakeSource()
	data := randomBytes(5*testBlock + 1234)
	src.set("k", data, "e1")
	c := openTest(t, t.TempDir(), 1<<20)
	cs := c.Wrap(src)
	for _, r := range ranges(int64(len(data))) {
		read(t, cs, "k", `"e1"`, data, r[0], r[1])
	}
	before := src.count()
	for _, r := range ranges(int64(len(data))) {
		read(t, cs, "k", "e1", data, r[0], r[1])
	}
	if got := src.count() - before; got != 0 {
		t.Errorf("source calls of the second pass: got %v, want 0", got)
	}
}

func TestHitsInOrderStartingEverywhere(t *testing.T) {
	// Blocks cached by one pattern of reads serve any other.
	src := newFakeSource()
	data := randomBytes(7*testBlock + 99)
	src.set("k", data, "e1")
	c := openTest(t, t.TempDir(), 1<<20)
	cs := c.Wrap(src)
	for off := int64(0); off < int64(len(data)); off += 1000 {
		read(t, cs, "k", "e1", data, off, 1000)
	}
	before := src.count()
	for off := int64(0); off < int64(len(data)); off += 3 * testBlock {
		read(t, cs, "k", "e1", data, off, 3*testBlock)
	}
	if got := src.count() - before; got != 0 {
		t.Errorf("source calls: got %v, want 0", got)
	}
}

func TestUnpinnedReadsBypass(t *testing.T) {
	src := newFakeSource()
	data := randomBytes(2 * testBlock)
	src.set("k", data, "e1")
	c := openTest(t, t.TempDir(), 1<<20)
	cs := c.Wrap(src)
	read(t, cs, "k", "", data, 0, int64(len(data)))
	read(t, cs, "k", "", data, 0, int64(len(data)))
	if got := src.count(); got != 2 {
		t.Errorf("source calls: got %v, want 2", got)
	}
	if got := c.Used(); got != fixedCost {
		t.Errorf("used: got %v, want %v (nothing cached)", got, fixedCost)
	}
}

func TestChangedETagNeverServesOldBlocks(t *testing.T) {
	src := newFakeSource()
	old := randomBytes(3 * testBlock)
	src.set("k", old, "e1")
	c := openTest(t, t.TempDir(), 1<<20)
	cs := c.Wrap(src)
	read(t, cs, "k", "e1", old, 0, int64(len(old)))
	now := bytes.Repeat([]byte("new!"), 3*testBlock/4)
	src.set("k", now, "e2")
	before := src.count()
	read(t, cs, "k", "e2", now, 0, int64(len(now)))
	if got := src.count() - before; got != 1 {
		t.Errorf("source calls for the new ETag: got %v, want 1", got)
	}
	// A read pinned to the old ETag: the source says it changed, and
	// the cache, which has the old blocks, serves them only for "e1".
	_, _, err := cs.ReadObject(context.Background(), "b", "k", 0, make([]byte, 10), s3client.GetOptions{IfMatch: "e3"})
	if !errors.Is(err, s3client.ErrPreconditionFailed) {
		t.Errorf("read pinned to an unknown ETag: got %v, want ErrPreconditionFailed", err)
	}
}

func TestCorruptBlockIsRefetched(t *testing.T) {
	for _, how := range []string{"flip a byte", "truncate", "flip a header byte", "empty"} {
		t.Run(how, func(t *testing.T) {
			src := newFakeSource()
			data := randomBytes(testBlock)
			src.set("k", data, "e1")
			dir := t.TempDir()
			c := openTest(t, dir, 1<<20)
			cs := c.Wrap(src)
			read(t, cs, "k", "e1", data, 0, testBlock)
			c.Flush()
			files := blockFiles(t, dir)
			if len(files) != 1 {
				t.Fatalf("block files: got %v, want 1", files)
			}
			b, _ := os.ReadFile(files[0])
			switch how {
			case "flip a byte":
				b[headerSize+100] ^= 1
			case "truncate":
				b = b[:len(b)-1]
			case "flip a header byte":
				b[20] ^= 1
			case "empty":
				b = nil
			}
			if err := os.WriteFile(files[0], b, 0o600); err != nil {
				t.Fatal(err)
			}
			before := src.count()
			read(t, cs, "k", "e1", data, 0, testBlock)
			if got := src.count() - before; got != 1 {
				t.Errorf("source calls after corruption: got %v, want 1", got)
			}
			// Fetched again and cached again, intact.
			read(t, cs, "k", "e1", data, 0, testBlock)
			if got := src.count() - before; got != 1 {
				t.Errorf("source calls after the refetch: got %v, want 1", got)
			}
		})
	}
}

func TestUploadedIsReadBackWithoutFetching(t *testing.T) {
	src := newFakeSource()
	data := randomBytes(3*testBlock + 17)
	src.set("k", data, "e9")
	c := openTest(t, t.TempDir(), 1<<20)
	cs := c.Wrap(src)
	u, ok := cs.(interface {
		Uploaded(ctx context.Context, bucket, key, etag string, body io.ReaderAt, size int64)
	})
	if !ok {
		t.Fatal("the cache's Source has no Uploaded")
	}
	u.Uploaded(context.Background(), "b", "k", `"e9"`, bytes.NewReader(data), int64(len(data)))
	for _, r := range ranges(int64(len(data))) {
		read(t, cs, "k", "e9", data, r[0], r[1])
	}
	if got := src.count(); got != 0 {
		t.Errorf("source calls after write-through: got %v, want 0", got)
	}
}

// TestNamespacesDoNotShareBlocks: the same bucket, key and ETag on two
// servers are two objects.
func TestNamespacesDoNotShareBlocks(t *testing.T) {
	src := newFakeSource()
	data := randomBytes(testBlock)
	src.set("k", data, "e")
	dir := t.TempDir()
	log, _ := testLog(t)
	for i, ns := range []string{"http://a:9000", "http://b:9000", "http://a:9000"} {
		c, err := Open(Options{Dir: dir, BlockSize: testBlock, Namespace: ns}, log)
		if err != nil {
			t.Fatal(err)
		}
		read(t, c.Wrap(src), "k", "e", data, 0, testBlock)
		c.Close()
		if want := []int{1, 2, 2}[i]; src.count() != want {
			t.Errorf("source calls after namespace %s: got %v, want %v", ns, src.count(), want)
		}
	}
}
