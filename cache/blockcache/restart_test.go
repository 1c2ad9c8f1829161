package blockcache

// A cache directory across mounts: reuse, LRU order, layout version,
// the lock, permissions.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRestartReusesBlocks(t *testing.T) {
	src := newFakeSource()
	data := randomBytes(10*testBlock + 7)
	src.set("k", data, "e1")
	dir := t.TempDir()
	log, _ := testLog(t)
	c, err := Open(Options{Dir: dir, MaxSize: 1 << 20, BlockSize: testBlock}, log)
	if err != nil {
		t.Fatal(err)
	}
	read(t, c.Wrap(src), "k", "e1", data, 0, int64(len(data)))
	c.Flush()
	used := c.Used()
	c.Close()
	// A torn temp file, as a crash in the middle of a write leaves.
	if err := os.WriteFile(filepath.Join(dir, blocksName, tmpPrefix+"123"), []byte("torn"), 0o600); err != nil {
		t.Fatal(err)
	}
	c2 := openTest(t, dir, 1<<20)
	if got := c2.Used(); got != used {
		t.Errorf("used after restart: got %v, want %v", got, used)
	}
	if _, err := os.Stat(filepath.Join(dir, blocksName, tmpPrefix+"123")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("torn temp file after Open: %v, want it removed", err)
	}
	before := src.count()
	read(t, c2.Wrap(src), "k", "e1", data, 0, int64(len(data)))
	if got := src.count() - before; got != 0 {
		t.Errorf("source calls after restart: got %v, want 0", got)
	}
}

func TestRestartKeepsLRUOrderAndLimit(t *testing.T) {
	src := newFakeSource()
	dir := t.TempDir()
	c := openTest(t, dir, 1<<20)
	cs := c.Wrap(src)
	var datas [][]byte
	for i := range 4 {
		d := randomBytes(testBlock + i)
		datas = append(datas, d[:testBlock])
		src.set(fmt.Sprint(i), d[:testBlock], "e")
		read(t, cs, fmt.Sprint(i), "e", d[:testBlock], 0, testBlock)
	}
	c.Flush()
	// Make block 0 the oldest by far, 3 the newest.
	for i := range 4 {
		name := blockName(newObjectID("", "b", fmt.Sprint(i), "e"), 0)
		tm := time.Now().Add(time.Duration(i-10) * time.Hour)
		if err := os.Chtimes(filepath.Join(dir, blocksName, name), tm, tm); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	// Room for two blocks only: the two newest stay.
	c2 := openTest(t, dir, fixedCost+2*cost(testBlock))
	if got := len(blockFiles(t, dir)); got != 2 {
		t.Errorf("blocks after reopening with a smaller limit: got %v, want 2", got)
	}
	before := src.count()
	cs2 := c2.Wrap(src)
	for i := 2; i < 4; i++ {
		read(t, cs2, fmt.Sprint(i), "e", datas[i], 0, testBlock)
	}
	if got := src.count() - before; got != 0 {
		t.Errorf("source calls for the newest blocks: got %v, want 0", got)
	}
}

func TestLayoutVersion(t *testing.T) {
	log, _ := testLog(t)
	t.Run("other layout is emptied", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, versionName), []byte(versionPrefix+", layout 0\n"), 0o600)
		os.MkdirAll(filepath.Join(dir, blocksName), 0o700)
		os.WriteFile(filepath.Join(dir, blocksName, "old-format-block"), []byte("x"), 0o600)
		c, err := Open(Options{Dir: dir, BlockSize: testBlock}, log)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := blockFiles(t, dir); len(got) != 0 {
			t.Errorf("blocks of the old layout: got %v, want none", got)
		}
		v, _ := os.ReadFile(filepath.Join(dir, versionName))
		if string(v) != layout(testBlock) {
			t.Errorf("VERSION: got %q, want %q", v, layout(testBlock))
		}
	})
	t.Run("another block size is another layout", func(t *testing.T) {
		dir := t.TempDir()
		src := newFakeSource()
		data := randomBytes(testBlock)
		src.set("k", data, "e")
		c := openTest(t, dir, 1<<20)
		read(t, c.Wrap(src), "k", "e", data, 0, testBlock)
		c.Close()
		if got := blockFiles(t, dir); len(got) != 1 {
			t.Fatalf("blocks written by Close: got %v, want 1", got)
		}
		c2, err := Open(Options{Dir: dir, BlockSize: 2 * testBlock}, log)
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		if got := blockFiles(t, dir); len(got) != 0 {
			t.Errorf("blocks of another block size: got %v, want none", got)
		}
	})
	t.Run("foreign directory is refused", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("mine"), 0o600)
		if c, err := Open(Options{Dir: dir}, log); err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Errorf("Open of a foreign directory: got %v, want a refusal", err)
			if c != nil {
				c.Close()
			}
		}
		if b, err := os.ReadFile(filepath.Join(dir, "precious.txt")); err != nil || string(b) != "mine" {
			t.Errorf("foreign file: got %q, %v", b, err)
		}
	})
	t.Run("foreign VERSION is refused", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, versionName), []byte("1.2.3\n"), 0o600)
		if c, err := Open(Options{Dir: dir}, log); err == nil {
			t.Errorf("Open of a directory with a foreign VERSION: got no error")
			c.Close()
		}
	})
}

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	c := openTest(t, dir, 1<<20)
	log, _ := testLog(t)
	_, err := Open(Options{Dir: dir}, log)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Fatalf("second Open: got %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
	c.Close()
	c2, err := Open(Options{Dir: dir}, log)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	c2.Close()
}

func TestPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	src := newFakeSource()
	data := randomBytes(testBlock)
	src.set("k", data, "e")
	c := openTest(t, dir, 1<<20)
	read(t, c.Wrap(src), "k", "e", data, 0, testBlock)
	c.Flush()
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		info, _ := d.Info()
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("mode of %s: got %v, want %v", path, got, want)
		}
		return nil
	})
}
