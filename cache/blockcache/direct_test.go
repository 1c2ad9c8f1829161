package blockcache

import (
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/ncw/directio"
)

func TestNewFrameAligned(t *testing.T) {
	for _, n := range []int{0, 1, directio.AlignSize - headerSize, directio.AlignSize - headerSize + 1, 1 << 20} {
		f := newFrame(n)
		if addr := uintptr(unsafe.Pointer(&f[0])); addr%directio.AlignSize != 0 {
			t.Errorf("newFrame(%d) at %#x: not aligned", n, addr)
		}
		if len(f)%directio.AlignSize != 0 || len(f) < headerSize+n || len(f) >= headerSize+n+directio.AlignSize {
			t.Errorf("newFrame(%d): %d bytes", n, len(f))
		}
	}
}

// directWorks reports whether dir's filesystem takes O_DIRECT writes.
func directWorks(t *testing.T, dir string) bool {
	p := filepath.Join(dir, "probe")
	defer os.Remove(p)
	return writeDirect(p, newFrame(0), 1) == nil
}

// TestBlockFilesDirectAndBuffered: block files written and read with
// O_DIRECT and with buffered I/O are the same files: each exactly
// header + length bytes, read back after a restart without a fetch by
// either kind of I/O, a flipped byte detected by both.
func TestBlockFilesDirectAndBuffered(t *testing.T) {
	size := 3*testBlock + 100 // three whole blocks and a short one
	data := randomBytes(size)
	for _, mode := range []struct {
		name              string
		writeDirect, read bool // noDirect for writing, for reading
	}{{"direct", false, false}, {"buffered", true, true}, {"direct then buffered", false, true}, {"buffered then direct", true, false}} {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			canDirect := directWorks(t, dir)
			src := newFakeSource()
			src.set("k", data, "e1")
			c := openTest(t, dir, 1<<20)
			c.noDirect.Store(mode.writeDirect)
			read(t, c.Wrap(src), "k", "e1", data, 0, int64(size))
			c.Flush()
			if !mode.writeDirect && canDirect && c.noDirect.Load() {
				t.Error("the filesystem takes O_DIRECT, but the cache fell back to buffered writes")
			}
			files := blockFiles(t, dir)
			if len(files) != 4 {
				t.Fatalf("block files: %v, want 4", files)
			}
			for _, f := range files {
				fi, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Size() != headerSize+testBlock && fi.Size() != headerSize+100 {
					t.Errorf("%s: %d bytes, want header + block", f, fi.Size())
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %v", f, fi.Mode())
				}
			}
			c.Close()

			c2 := openTest(t, dir, 1<<20)
			c2.noDirect.Store(mode.read)
			before := src.count()
			read(t, c2.Wrap(src), "k", "e1", data, 0, int64(size))
			if got := src.count() - before; got != 0 {
				t.Errorf("fetches after the restart: %d, want 0", got)
			}
			b, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)-1] ^= 1
			if err := os.WriteFile(files[0], b, 0o600); err != nil {
				t.Fatal(err)
			}
			read(t, c2.Wrap(src), "k", "e1", data, 0, int64(size))
			if got := src.count() - before; got != 1 {
				t.Errorf("fetches after a byte flipped: %d, want 1", got)
			}
		})
	}
}
