package fs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRenameFile(t *testing.T) {
	mnt, store := mountKeys(t, "a", "b")
	if err := os.Rename(filepath.Join(mnt, "a"), filepath.Join(mnt, "b")); err != nil {
		t.Fatal(err)
	}
	if _, ok := store.get("a"); ok {
		t.Errorf("source object still exists")
	}
	checkObject(t, store, "b", []byte("content of a"))
	if got := store.count("CopyObject"); got != 1 {
		t.Errorf("CopyObject calls: got %v, want 1", got)
	}
}

func TestRenameDirectory(t *testing.T) {
	mnt, store := mountKeys(t, "d/", "d/x", "d/sub/y", "other")
	if err := os.Rename(filepath.Join(mnt, "d"), filepath.Join(mnt, "e")); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"d/", "d/x", "d/sub/y"} {
		if _, ok := store.get(k); ok {
			t.Errorf("%s still exists after rename", k)
		}
	}
	checkObject(t, store, "e/x", []byte("content of d/x"))
	checkObject(t, store, "e/sub/y", []byte("content of d/sub/y"))
	if _, ok := store.get("e/"); !ok {
		t.Errorf("marker e/ missing after rename")
	}
	checkNames(t, filepath.Join(mnt, "e"), "sub/", "x")
	if _, err := os.Stat(filepath.Join(mnt, "d")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("stat old name: got %v, want ENOENT", err)
	}
}

func TestRenameNoReplace(t *testing.T) {
	mnt, store := mountKeys(t, "a", "b")
	err := unix.Renameat2(unix.AT_FDCWD, filepath.Join(mnt, "a"), unix.AT_FDCWD, filepath.Join(mnt, "b"), unix.RENAME_NOREPLACE)
	if !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("renameat2 NOREPLACE onto an existing file: got %v, want EEXIST", err)
	}
	checkObject(t, store, "b", []byte("content of b"))
}

func TestRenameIntoNonEmptyDir(t *testing.T) {
	mnt, _ := mountKeys(t, "d/x", "e/y")
	err := os.Rename(filepath.Join(mnt, "d"), filepath.Join(mnt, "e"))
	if !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("rename onto a non-empty directory: got %v, want ENOTEMPTY", err)
	}
}
