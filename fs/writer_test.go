package fs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/cache"
	"github.com/bucketfs/bucketfs/s3client"
)

const testPart = 5 << 20

// mountParts mounts store with 5 MiB parts, two in flight.
func mountParts(t *testing.T, store *fakeStore) string {
	t.Helper()
	mnt, _ := testMount(t, store, Options{Write: WriteOptions{PartSize: testPart, Parallel: 2}}, cache.Options{})
	return mnt
}

func TestStreamingMultipart(t *testing.T) {
	store := newFakeStore(t, "b")
	mnt := mountParts(t, store)
	data := randomBytes(3*testPart + 12345)
	f, err := os.Create(filepath.Join(mnt, "big"))
	if err != nil {
		t.Fatal(err)
	}
	// Write three parts' worth: parts must leave before close.
	if _, err := f.Write(data[:3*testPart]); err != nil {
		t.Fatal(err)
	}
	// Part 3 waited for a free slot, so part 1 or 2 is done; the
	// other is on its way.
	deadline := time.Now().Add(5 * time.Second)
	for store.count("UploadPart") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := store.count("UploadPart"); got < 2 {
		t.Errorf("parts uploaded before close: got %v, want at least 2", got)
	}
	if _, err := f.Write(data[3*testPart:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	checkObject(t, store, "big", data)
	if got := store.count("PutObject"); got != 0 {
		t.Errorf("PutObject calls: got %v, want 0 (multipart only)", got)
	}
	if got := store.count("UploadPart"); got != 4 {
		t.Errorf("UploadPart calls: got %v, want 4", got)
	}
	if got := store.openUploads(); got != 0 {
		t.Errorf("open multipart uploads: got %v, want 0", got)
	}
}

func TestFailedPartAbortsUpload(t *testing.T) {
	store := newFakeStore(t, "b")
	mnt := mountParts(t, store)
	f, err := os.Create(filepath.Join(mnt, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(randomBytes(testPart)); err != nil {
		t.Fatal(err)
	}
	store.failPuts(&s3client.Error{Op: "UploadPart", StatusCode: 500, Code: "InternalError"})
	f.Write(randomBytes(2 * testPart)) // may or may not see the failure yet
	if err := f.Close(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("close after a failed part: got %v, want EIO", err)
	}
	if _, ok := store.get("big"); ok {
		t.Errorf("object exists after a failed upload")
	}
	if got := store.openUploads(); got != 0 {
		t.Errorf("open multipart uploads: got %v, want 0 (aborted)", got)
	}
}

// TestPartialRewrites edits existing objects the way dd conv=notrunc,
// cat >> and seeks do, and compares with the same edits in memory.
func TestPartialRewrites(t *testing.T) {
	for _, size := range []int{1000, 2*testPart + 77} {
		store := newFakeStore(t, "b")
		orig := randomBytes(size)
		store.set("f", orig)
		mnt := mountParts(t, store)
		want := bytes.Clone(orig)

		f, err := os.OpenFile(filepath.Join(mnt, "f"), os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		patch := []byte("PATCHED")
		for _, off := range []int{0, size / 2, size - 3} {
			if _, err := f.WriteAt(patch, int64(off)); err != nil {
				t.Fatal(err)
			}
			want = append(want[:off], append(patch, want[min(off+len(patch), len(want)):]...)...)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		checkObject(t, store, "f", want)

		a, err := os.OpenFile(filepath.Join(mnt, "f"), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Write([]byte("tail")); err != nil {
			t.Fatal(err)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		checkObject(t, store, "f", append(want, "tail"...))
		if got := store.openUploads(); got != 0 {
			t.Errorf("size %d: open multipart uploads: got %v, want 0", size, got)
		}
	}
}

// TestSeekBackAfterParts writes past a part boundary, then rewrites the
// start (as zip and some databases do): the upload is completed and the
// file staged again, and the result is still exact.
func TestSeekBackAfterParts(t *testing.T) {
	store := newFakeStore(t, "b")
	mnt := mountParts(t, store)
	data := randomBytes(2*testPart + 10)
	f, err := os.OpenFile(filepath.Join(mnt, "z"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("HEADER"), 0); err != nil {
		t.Fatal(err)
	}
	copy(data, "HEADER")
	got := make([]byte, len(data))
	if _, err := f.ReadAt(got, 0); err != nil {
		t.Fatalf("read back while open: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("read back while open differs")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	checkObject(t, store, "z", data)
}

func TestTruncateGrowAndShrinkLarge(t *testing.T) {
	store := newFakeStore(t, "b")
	orig := randomBytes(testPart + 100)
	store.set("t", orig)
	mnt := mountParts(t, store)
	p := filepath.Join(mnt, "t")
	if err := os.Truncate(p, 100); err != nil {
		t.Fatal(err)
	}
	checkObject(t, store, "t", orig[:100])
	if err := os.Truncate(p, 2*testPart); err != nil {
		t.Fatal(err)
	}
	checkObject(t, store, "t", append(bytes.Clone(orig[:100]), make([]byte, 2*testPart-100)...))
}

// A multipart upload that cannot even start (CreateMultipartUpload
// fails) while an existing file is overwritten: the write fails, every
// later write and the close fail too, and the old object is intact —
// never replaced by what was left in the buffer, nor by zeros.
func TestFailedMultipartStartKeepsOldObject(t *testing.T) {
	store := newFakeStore(t, "b")
	old := randomBytes(1000)
	store.set("f", old)
	mnt := mountParts(t, store)
	f, err := os.OpenFile(filepath.Join(mnt, "f"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	store.failPuts(&s3client.Error{Op: "CreateMultipartUpload", StatusCode: 503, Code: "SlowDown"})
	data := randomBytes(2*testPart + 100)
	_, werr := f.Write(data)
	if werr == nil {
		t.Errorf("write of %d bytes with uploads failing: got success", len(data))
	}
	store.failPuts(nil)
	// A program that retries its writes must not get a zero-filled or
	// partial object either.
	for off := 0; off < len(data); off += 1 << 20 {
		f.WriteAt(data[off:min(off+1<<20, len(data))], int64(off))
	}
	if err := f.Close(); !errors.Is(err, syscall.EIO) {
		t.Errorf("close: got %v, want EIO", err)
	}
	checkObject(t, store, "f", old)
	if got := store.count("PutObject") + store.count("CompleteMultipartUpload"); got != 0 {
		t.Errorf("uploads that replaced the object: got %v, want 0", got)
	}
}

// While a file's upload at close takes its time, stat of the file and a
// listing of its directory answer at once: no lock is held across it.
func TestStatDuringUpload(t *testing.T) {
	store := newFakeStore(t, "b")
	mnt := mountParts(t, store)
	gate := make(chan struct{})
	store.mu.Lock()
	store.putGate = gate
	store.mu.Unlock()
	f, err := os.Create(filepath.Join(mnt, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(randomBytes(100 << 10)); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- f.Close() }()
	time.Sleep(100 * time.Millisecond) // the close is waiting in PutObject
	start := time.Now()
	st, err := os.Stat(filepath.Join(mnt, "f"))
	if err != nil || st.Size() != 100<<10 {
		t.Errorf("stat during the upload: %v, %v; want 100 KiB", st, err)
	}
	checkNames(t, mnt, "f")
	if d := time.Since(start); d > time.Second {
		t.Errorf("stat and ls during an upload took %v", d)
	}
	select {
	case err := <-closed:
		t.Fatalf("close returned (%v) before the upload could finish", err)
	default:
	}
	close(gate)
	if err := <-closed; err != nil {
		t.Fatalf("close: %v", err)
	}
	checkObject(t, store, "f", randomBytes(100<<10))
}
