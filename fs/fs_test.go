package fs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/cache"
	"github.com/bucketfs/bucketfs/s3client"
)

func TestWriteReadBack(t *testing.T) {
	mnt, store := mountKeys(t)
	for _, size := range []int{0, 5, 128<<10 + 3, 2<<20 + 1} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			name := fmt.Sprintf("file%d", size)
			data := randomBytes(size)
			store.resetCounts()
			if err := os.WriteFile(filepath.Join(mnt, name), data, 0o644); err != nil {
				t.Fatalf("WriteFile: %v", err)
			}
			if got := store.count("PutObject"); got != 1 {
				t.Errorf("PutObject calls: got %v, want 1", got)
			}
			checkObject(t, store, name, data)
			got, err := os.ReadFile(filepath.Join(mnt, name))
			if err != nil {
				t.Fatalf("ReadFile: %v", err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("read back: got %q, want %q", abbrev(got), abbrev(data))
			}
		})
	}
}

func TestReadExisting(t *testing.T) {
	data := randomBytes(3<<20 + 7)
	mnt, store := mountKeys(t)
	store.set("big", data)
	f, err := os.Open(filepath.Join(mnt, "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range []int64{2 << 20, 17, 3<<20 + 1, 0, int64(len(data)) - 3} {
		buf := make([]byte, 10)
		n, err := f.ReadAt(buf, off)
		if err != nil && err != io.EOF {
			t.Fatalf("ReadAt(%d): %v", off, err)
		}
		if want := data[off:min(off+10, int64(len(data)))]; !bytes.Equal(buf[:n], want) {
			t.Errorf("ReadAt(%d): got %x, want %x", off, buf[:n], want)
		}
	}
	got, err := os.ReadFile(filepath.Join(mnt, "big"))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("ReadFile: got %q, %v; want %q", abbrev(got), err, abbrev(data))
	}
}

func TestOverwriteShorter(t *testing.T) {
	mnt, store := mountKeys(t)
	store.set("f", []byte("a long old content"))
	store.resetCounts()
	if err := os.WriteFile(filepath.Join(mnt, "f"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	checkObject(t, store, "f", []byte("new"))
	if got := store.count("GetObject"); got != 0 {
		t.Errorf("GetObject calls for a truncating overwrite: got %v, want 0", got)
	}
}

func TestFailedUploadFailsClose(t *testing.T) {
	mnt, store := mountKeys(t)
	store.failPuts(&s3client.Error{Op: "PutObject", Bucket: "b", Key: "f", StatusCode: http.StatusInternalServerError, Code: "InternalError"})
	err := os.WriteFile(filepath.Join(mnt, "f"), []byte("lost"), 0o644)
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("WriteFile with failing uploads: got %v, want %v", err, syscall.EIO)
	}
	if _, ok := store.get("f"); ok {
		t.Errorf("object f exists after a failed upload")
	}
	// The kernel sends RELEASE after close(2) returns; once it has run,
	// the name is gone.
	var err2 error
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err2 = os.Stat(filepath.Join(mnt, "f")); err2 != nil {
			break
		}
	}
	if !errors.Is(err2, syscall.ENOENT) {
		t.Errorf("Stat after a failed upload: got %v, want %v", err2, syscall.ENOENT)
	}
}

func TestFailedTruncateKeepsObject(t *testing.T) {
	mnt, store := mountKeys(t)
	store.set("t", []byte("hello world"))
	store.failPuts(&s3client.Error{Op: "PutObject", Bucket: "b", Key: "t", StatusCode: http.StatusServiceUnavailable, Code: "SlowDown"})
	p := filepath.Join(mnt, "t")
	if err := os.Truncate(p, 5); !errors.Is(err, syscall.EIO) {
		t.Errorf("Truncate with failing uploads: got %v, want %v", err, syscall.EIO)
	}
	store.failPuts(nil)
	if got, err := os.ReadFile(p); err != nil || string(got) != "hello world" {
		t.Errorf("ReadFile after a failed truncate: got %q, %v; want %q", got, err, "hello world")
	}
	// Nothing of the failed truncate is uploaded later.
	if err := os.WriteFile(filepath.Join(mnt, "other"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	checkObject(t, store, "t", []byte("hello world"))
}

func TestUnlinkWhileWriting(t *testing.T) {
	mnt, store := mountKeys(t)
	f, err := os.Create(filepath.Join(mnt, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("data"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(mnt, "f")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close after unlink: %v", err)
	}
	if _, ok := store.get("f"); ok {
		t.Errorf("object f exists after unlink and close; want it gone")
	}
}

func TestUnlink(t *testing.T) {
	mnt, store := mountKeys(t, "f", "g")
	if err := syscall.Unlink(filepath.Join(mnt, "f")); err != nil {
		t.Fatal(err)
	}
	if _, ok := store.get("f"); ok {
		t.Errorf("object f exists after unlink")
	}
	if _, err := os.Stat(filepath.Join(mnt, "f")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("Stat after unlink: got %v, want %v", err, syscall.ENOENT)
	}
	checkNames(t, mnt, "g")
}

func TestReadMissing(t *testing.T) {
	mnt, store := mountKeys(t, "other")
	for range 2 {
		if _, err := os.ReadFile(filepath.Join(mnt, "nope")); !errors.Is(err, syscall.ENOENT) {
			t.Errorf("ReadFile of a missing file: got %v, want %v", err, syscall.ENOENT)
		}
	}
	if got := store.count("HeadObject"); got != 1 {
		t.Errorf("HeadObject calls for two lookups of a missing name: got %v, want 1 (negative cache)", got)
	}
}

func TestAppend(t *testing.T) {
	mnt, store := mountKeys(t)
	store.set("log", []byte("old\n"))
	f, err := os.OpenFile(filepath.Join(mnt, "log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("new\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	checkObject(t, store, "log", []byte("old\nnew\n"))
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		size int64
		want string
	}{
		{5, "hello"},
		{0, ""},
		{13, "hello world\x00\x00"},
		{11, "hello world"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.size), func(t *testing.T) {
			mnt, store := mountKeys(t)
			store.set("t", []byte("hello world"))
			if err := os.Truncate(filepath.Join(mnt, "t"), tt.size); err != nil {
				t.Fatal(err)
			}
			checkObject(t, store, "t", []byte(tt.want))
			st, err := os.Stat(filepath.Join(mnt, "t"))
			if err != nil || st.Size() != tt.size {
				t.Errorf("Stat after truncate: got %v, %v; want size %v", st.Size(), err, tt.size)
			}
		})
	}
}

// TestTruncateThenRemoteChange checks that a truncate does not pin the
// file's content in memory: once the cache expires, a change made by
// another client is seen.
func TestTruncateThenRemoteChange(t *testing.T) {
	store := newFakeStore(t, "b")
	store.set("t", []byte("hello world"))
	mnt, _ := testMount(t, store, Options{}, cache.Options{TTL: time.Millisecond})
	p := filepath.Join(mnt, "t")
	if err := os.Truncate(p, 5); err != nil {
		t.Fatal(err)
	}
	store.set("t", []byte("changed elsewhere"))
	time.Sleep(5 * time.Millisecond)
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "changed elsewhere" {
		t.Errorf("ReadFile after a remote change: got %q, %v; want %q", got, err, "changed elsewhere")
	}
}

func TestMkdirRmdir(t *testing.T) {
	mnt, store := mountKeys(t, "y/z", "w/", "w/f")
	x := filepath.Join(mnt, "x")
	if err := os.Mkdir(x, 0o755); err != nil {
		t.Fatal(err)
	}
	checkObject(t, store, "x/", []byte{})
	if st, err := os.Stat(x); err != nil || !st.IsDir() {
		t.Fatalf("Stat after mkdir: got %v, %v; want a directory", st, err)
	}
	checkNames(t, x)
	checkNames(t, mnt, "w/", "x/", "y/")
	if err := syscall.Rmdir(x); err != nil {
		t.Fatalf("rmdir of an empty directory: %v", err)
	}
	if _, ok := store.get("x/"); ok {
		t.Errorf("marker x/ exists after rmdir")
	}
	if _, err := os.Stat(x); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("Stat after rmdir: got %v, want %v", err, syscall.ENOENT)
	}
	for _, dir := range []string{"y", "w"} {
		if err := syscall.Rmdir(filepath.Join(mnt, dir)); !errors.Is(err, syscall.ENOTEMPTY) {
			t.Errorf("rmdir %s: got %v, want %v", dir, err, syscall.ENOTEMPTY)
		}
	}
	checkObject(t, store, "w/", []byte("content of w/"))
	checkObject(t, store, "y/z", []byte("content of y/z"))
}

func TestPrefixMount(t *testing.T) {
	store := newFakeStore(t, "b", "sub/f", "sub/d/g", "sub/", "other/h", "top", "subway")
	mnt, _ := testMount(t, store, Options{Prefix: "sub/"}, cache.Options{})
	checkNames(t, mnt, "d/", "f")
	checkNames(t, filepath.Join(mnt, "d"), "g")
	if got, err := os.ReadFile(filepath.Join(mnt, "f")); err != nil || string(got) != "content of sub/f" {
		t.Errorf("ReadFile(f): got %q, %v; want %q", got, err, "content of sub/f")
	}
	for _, name := range []string{"other", "top", "subway"} {
		if _, err := os.Stat(filepath.Join(mnt, name)); !errors.Is(err, syscall.ENOENT) {
			t.Errorf("Stat(%s) outside the prefix: got %v, want %v", name, err, syscall.ENOENT)
		}
	}
	if err := os.WriteFile(filepath.Join(mnt, "new"), []byte("n"), 0o644); err != nil {
		t.Fatal(err)
	}
	checkObject(t, store, "sub/new", []byte("n"))
	if err := os.Mkdir(filepath.Join(mnt, "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	checkObject(t, store, "sub/m/", []byte{})
	if err := os.Remove(filepath.Join(mnt, "f")); err != nil {
		t.Fatal(err)
	}
	if _, ok := store.get("sub/f"); ok {
		t.Errorf("object sub/f exists after remove")
	}
}

// rmdir of a directory whose marker object holds data (stored by another
// tool) refuses rather than delete the data.
func TestRmdirKeepsMarkerData(t *testing.T) {
	mnt, store := mountKeys(t)
	store.set("d/", []byte("data in the marker"))
	if err := syscall.Rmdir(filepath.Join(mnt, "d")); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Errorf("rmdir: got %v, want ENOTEMPTY", err)
	}
	checkObject(t, store, "d/", []byte("data in the marker"))
}

// Names S3 or the kernel would refuse later fail at once with
// ENAMETOOLONG, and nothing is stored.
func TestNameTooLong(t *testing.T) {
	mnt, store := mountKeys(t)
	long := strings.Repeat("n", 256)
	if _, err := os.Create(filepath.Join(mnt, long)); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("create of a 256-byte name: got %v, want ENAMETOOLONG", err)
	}
	if err := os.Mkdir(filepath.Join(mnt, long), 0o755); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("mkdir of a 256-byte name: got %v, want ENAMETOOLONG", err)
	}
	// Five directories of 200 bytes: a key of 1000 bytes, then a file of
	// 30 more passes 1024.
	dir := mnt
	for i := 0; i < 5; i++ {
		dir = filepath.Join(dir, strings.Repeat(string(rune('a'+i)), 199))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, strings.Repeat("f", 30)), []byte("x"), 0o644); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("create of a 1030-byte key: got %v, want ENAMETOOLONG", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ok"), []byte("x"), 0o644); err != nil {
		t.Errorf("create of a 1003-byte key: %v", err)
	}
	if n := store.count("PutObject"); n != 6 {
		t.Errorf("PutObject: got %d, want 6 (5 markers and ok)", n)
	}
}
