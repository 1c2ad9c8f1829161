package fs

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/bucketfs/bucketfs/cache"
	"github.com/bucketfs/bucketfs/s3client"
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

// An object overwritten by another client while a handle reads it: the
// handle's reads fail with EIO (never the new bytes after the old ones),
// and the next open reads the new object.
func TestReadPinsVersion(t *testing.T) {
	const size = 8 << 20
	old, updated := randomBytes(size), randomBytes(size + 1)[1:]
	store := newFakeStore(t, "b")
	store.set("f", old)
	// A small window: the read-ahead cannot have fetched it all.
	mnt, hook := testMount(t, store, Options{Read: ReadOptions{ChunkSize: 256 << 10, MaxAhead: 2}}, cache.Options{})
	f, err := os.Open(filepath.Join(mnt, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	if _, err := io.ReadFull(f, buf); err != nil || !bytes.Equal(buf, old[:1<<20]) {
		t.Fatalf("first MiB: %v (equal %v)", err, bytes.Equal(buf, old[:1<<20]))
	}
	store.set("f", updated)
	var readErr error
	for off := int64(1 << 20); off < size && readErr == nil; off += int64(len(buf)) {
		var n int
		n, readErr = f.ReadAt(buf, off)
		if readErr == nil && !bytes.Equal(buf[:n], old[off:off+int64(n)]) {
			t.Fatalf("read at %d: bytes of the new object after the old ones", off)
		}
	}
	if !errors.Is(readErr, syscall.EIO) {
		t.Fatalf("read after the object changed: got %v, want EIO", readErr)
	}
	if !logged(hook, "object changed while open") {
		for _, e := range hook.AllEntries() {
			t.Logf("log: %s %v", e.Message, e.Data)
		}
		t.Errorf("no log line names the change")
	}
	got, err := os.ReadFile(filepath.Join(mnt, "f"))
	if err != nil || !bytes.Equal(got, updated) {
		t.Errorf("a new open: %v (equal to the new object %v), want the new object", err, bytes.Equal(got, updated))
	}
}

// A whole sequential read of an object whose bytes do not match its ETag
// (MD5) fails with EIO at the end; partial reads are not checked.
func TestReadVerifiesMD5(t *testing.T) {
	const size = 5<<20 + 777
	data := randomBytes(size)
	for _, tt := range []struct {
		name    string
		corrupt bool
		opts    ReadOptions
		wantErr bool
	}{
		{"intact", false, ReadOptions{Verify: true}, false},
		{"corrupt", true, ReadOptions{Verify: true}, true},
		{"corrupt, check off (the default)", true, ReadOptions{}, false},
	} {
		store := newFakeStore(t, "b")
		store.set("f", data)
		if tt.corrupt {
			store.corrupt("f", size/2)
		}
		mnt, hook := testMount(t, store, Options{Read: tt.opts}, cache.Options{})
		_, err := os.ReadFile(filepath.Join(mnt, "f"))
		if tt.wantErr != errors.Is(err, syscall.EIO) {
			t.Errorf("%s: whole read: got %v, want EIO %v", tt.name, err, tt.wantErr)
		}
		if tt.wantErr != logged(hook, "corrupt object") {
			t.Errorf("%s: corrupt object logged: got %v, want %v", tt.name, !tt.wantErr, tt.wantErr)
		}
		// A read of part of it fetches the whole (small) object: it is
		// checked when the check is on.
		f, err := os.Open(filepath.Join(mnt, "f"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.ReadAt(make([]byte, 4096), 1<<20); tt.wantErr != errors.Is(err, syscall.EIO) {
			t.Errorf("%s: partial read: got %v, want EIO %v", tt.name, err, tt.wantErr)
		}
		f.Close()
	}
}

// The kernel sends its first read-ahead window as several reads at once,
// in any order: a whole read whose first read is not at 0 is still
// checked.
func TestReadVerifiesFirstWindowOutOfOrder(t *testing.T) {
	const size = 20<<20 + 99
	store := newFakeStore(t, "b")
	store.set("f", randomBytes(size))
	store.corrupt("f", 3<<20)
	mnt, hook := testMount(t, store, Options{Read: ReadOptions{Verify: true}}, cache.Options{})
	f, err := os.Open(filepath.Join(mnt, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var readErr error
	for _, off := range []int64{1 << 20, 0, 2 << 20} {
		if _, readErr = f.ReadAt(buf, off); readErr != nil {
			break
		}
	}
	for off := int64(3 << 20); readErr == nil && off < size; off += 1 << 20 {
		_, readErr = f.ReadAt(buf, off)
	}
	if !errors.Is(readErr, syscall.EIO) || !logged(hook, "corrupt object") {
		t.Errorf("whole read of a corrupt object starting at 1 MiB: got %v (logged: %v), want EIO", readErr, logged(hook, "corrupt object"))
	}
}

// logged reports whether hook holds an entry containing s.
func logged(hook *logtest.Hook, s string) bool {
	for _, e := range hook.AllEntries() {
		if strings.Contains(e.Message, s) {
			return true
		}
	}
	return false
}

// A multipart upload bucketfs made records its part size, so a whole
// in-order read checks it against the ETag (the MD5 of the parts' MD5s);
// one whose bytes were damaged fails.
func TestReadVerifiesMultipart(t *testing.T) {
	store := newFakeStore(t, "b")
	mnt, hook := testMount(t, store, Options{Write: WriteOptions{PartSize: testPart}, Read: ReadOptions{Verify: true}}, cache.Options{})
	for _, size := range []int{3 * testPart, 3*testPart + 12345} {
		data := randomBytes(size)
		p := filepath.Join(mnt, "big")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if store.count("CompleteMultipartUpload") == 0 {
			t.Fatal("no multipart upload: the test proves nothing")
		}
		if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: whole read of an intact multipart object: %v", size, err)
		}
		if logged(hook, "corrupt object") {
			t.Fatalf("%d bytes: an intact multipart object was found corrupt", size)
		}
		store.corrupt("big", testPart+7)
		// A fresh mount: nothing of it in the kernel's page cache.
		mnt2, hook2 := testMount(t, store, Options{Read: ReadOptions{Verify: true}}, cache.Options{})
		if _, err := os.ReadFile(filepath.Join(mnt2, "big")); !errors.Is(err, syscall.EIO) {
			t.Errorf("%d bytes: whole read of a damaged multipart object: got %v, want EIO", size, err)
		}
		if !logged(hook2, "corrupt object") {
			t.Errorf("%d bytes: the damage was not logged", size)
		}
		os.Remove(p)
	}
}

// A read whose GET failed (the server away, after the client's retries)
// makes the reads of that handle that need a GET fail at once for
// failMemory, without a request: the kernel asks again for a failed
// read at once, and each ask used to wait out the retries again. After
// failMemory the next read asks the server, and gets the bytes.
func TestReadFailureRemembered(t *testing.T) {
	old := failMemory
	failMemory = 300 * time.Millisecond
	t.Cleanup(func() { failMemory = old })
	data := randomBytes(1 << 20)
	store := newFakeStore(t, "b")
	store.set("f", data)
	mnt, _ := testMount(t, store, Options{}, cache.Options{})
	f, err := os.Open(filepath.Join(mnt, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	store.failGets(&s3client.Error{Op: "GetObject", Bucket: "b", Key: "f", StatusCode: 503, Code: "ServiceUnavailable"})
	buf := make([]byte, 4096)
	if _, err := f.ReadAt(buf, 0); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read with GETs failing: got %v, want EIO", err)
	}
	gets := store.count("GetObject")
	if _, err := f.ReadAt(buf, 0); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read again at once: got %v, want EIO", err)
	}
	if n := store.count("GetObject") - gets; n != 0 {
		t.Errorf("read again at once: %d GETs, want none", n)
	}
	store.failGets(nil)
	time.Sleep(failMemory + 100*time.Millisecond)
	if _, err := f.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, data[:4096]) {
		t.Fatalf("read after failMemory with the server back: %v (bytes equal: %v)", err, bytes.Equal(buf, data[:4096]))
	}
}
