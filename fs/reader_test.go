package fs

import (
	"bytes"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/bucketfs/bucketfs/cache"
)

func TestSequentialReadAhead(t *testing.T) {
	const size = 20<<20 + 12345
	data := randomBytes(size)
	store := newFakeStore(t, "b")
	store.set("big", data)
	mnt, _ := testMount(t, store, Options{}, cache.Options{})
	store.resetCounts()
	got, err := os.ReadFile(filepath.Join(mnt, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("content differs")
	}
	chunks := (size + (2 << 20) - 1) / (2 << 20)
	if n := store.count("GetObject"); n > chunks+2 {
		t.Errorf("GETs for a sequential read: got %v, want about %v (one per 2 MiB chunk)", n, chunks)
	}
	if n := store.bytesRead(); n > size+4<<20 {
		t.Errorf("bytes fetched: got %v, want about %v", n, size)
	}
}

func TestRandomReadsFetchOnlyBlocks(t *testing.T) {
	const size = 64 << 20
	data := randomBytes(size)
	store := newFakeStore(t, "b")
	store.set("big", data)
	mnt, _ := testMount(t, store, Options{}, cache.Options{})
	f, err := os.Open(filepath.Join(mnt, "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	store.resetCounts()
	rnd := rand.New(rand.NewSource(1))
	buf := make([]byte, 4096)
	const reads = 50
	for i := 0; i < reads; i++ {
		off := rnd.Int63n(size - 4096)
		if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, data[off:off+4096]) {
			t.Fatalf("read at %d differs", off)
		}
	}
	// The kernel may round each read up to its own read size (128 KiB);
	// we round to 128 KiB blocks: a few blocks per read at most.
	if n := store.bytesRead(); n > reads*512<<10 {
		t.Errorf("bytes fetched for %d random 4 KiB reads: got %v, want at most %v", reads, n, reads*512<<10)
	}
}
