package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Files at least --direct-read-min long are read with direct I/O: their
// bytes never enter the page cache (fincore counts none after cat), yet
// cat, a shared mmap and exec of a binary stored on the mount all read
// them exactly. Smaller files stay in the page cache as before, and
// st_blksize is 1 MiB (one FUSE request per read of cat and cp).
func TestDirectRead(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket)
	big, small := randomFile(t, 3<<20+5), randomFile(t, 100<<10)
	sh(t, "cp", big, filepath.Join(m.Dir, "big"))
	sh(t, "cp", small, filepath.Join(m.Dir, "small"))
	sh(t, "cp", binary, filepath.Join(m.Dir, "prog"))
	sh(t, "chmod", "755", filepath.Join(m.Dir, "prog"))
	m.Unmount()

	m = mountBucket(t, bucket, "--direct-read-min", "1048576")
	if got := strings.TrimSpace(sh(t, "stat", "-c", "%o", filepath.Join(m.Dir, "big"))); got != "1048576" {
		t.Errorf("st_blksize of a file: got %s, want 1048576", got)
	}
	sh(t, "cmp", big, filepath.Join(m.Dir, "big"))
	sh(t, "cmp", small, filepath.Join(m.Dir, "small"))
	if n := cachedPages(t, filepath.Join(m.Dir, "big")); n != 0 {
		t.Errorf("big file (3 MiB, --direct-read-min 1 MiB): %d pages in the page cache after cmp, want 0 (direct I/O)", n)
	}
	if n := cachedPages(t, filepath.Join(m.Dir, "small")); n == 0 {
		t.Errorf("small file (100 KiB): no page in the page cache after cmp, want it cached")
	}
	// A shared read-only mapping of the direct-I/O file.
	py := `import mmap,sys
f=open(sys.argv[1],'rb'); m=mmap.mmap(f.fileno(),0,mmap.MAP_SHARED,mmap.PROT_READ)
sys.stdout.buffer.write(m[:])`
	out, err := exec.Command("/usr/bin/python3", "-c", py, filepath.Join(m.Dir, "big")).Output()
	want, _ := os.ReadFile(big)
	if err != nil || string(out) != string(want) {
		t.Errorf("mmap (MAP_SHARED) of the direct-I/O file: %d bytes, err %v; want the %d bytes written", len(out), err, len(want))
	}
	// exec maps the binary privately.
	if out, err := exec.Command(filepath.Join(m.Dir, "prog"), "--version").CombinedOutput(); err != nil {
		t.Errorf("run a binary stored on the mount (read with direct I/O): %v\n%s", err, out)
	}
	m.Unmount()

	// With --direct-read-min 0 the same file goes through the page cache.
	m = mountBucket(t, bucket, "--direct-read-min", "0")
	sh(t, "cmp", big, filepath.Join(m.Dir, "big"))
	if n := cachedPages(t, filepath.Join(m.Dir, "big")); n == 0 {
		t.Errorf("--direct-read-min 0: no page of the big file cached after cmp, want it in the page cache")
	}
}

// cachedPages is the number of path's pages in the page cache (fincore).
func cachedPages(t *testing.T, path string) int {
	t.Helper()
	out := strings.TrimSpace(sh(t, "fincore", "--raw", "--noheadings", "--output", "PAGES", path))
	n, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("fincore %s: %q", path, out)
	}
	return n
}
