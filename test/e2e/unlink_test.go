package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bucketfs/bucketfs/s3client"
)

// unlinkScript keeps two files open across their unlink in one process
// (a close or a fork would flush): "read" (opened read-only, never read
// before the unlink) and "written" (opened read-write by the mount's
// writer). After unlink it reads both back, writes to and reads back
// "written", and prints what it saw; it closes both only when told to
// on stdin, so the test can look at the bucket first.
const unlinkScript = `
import os, sys
d = sys.argv[1]
r = os.open(os.path.join(d, "read"), os.O_RDONLY)
w = os.open(os.path.join(d, "written"), os.O_RDWR | os.O_CREAT, 0o644)
os.write(w, b"first line\n")
os.unlink(os.path.join(d, "read"))
os.unlink(os.path.join(d, "written"))
print("unlinked", flush=True)
data = os.pread(r, 4 << 20, 0)
print("read", len(data), data[:16].hex(), data[-16:].hex(), flush=True)
os.pwrite(w, b"second line\n", 11)
print("written", repr(os.pread(w, 100, 0)), os.fstat(w).st_size, os.fstat(w).st_nlink, flush=True)
sys.stdin.readline()
os.close(w)
os.close(r)
print("closed", flush=True)
`

// TestOpenAfterUnlink: a file unlinked while open keeps its content for
// the descriptors open on it, reads and writes work on them, the object
// is gone at unlink, and nothing comes back at the last close.
func TestOpenAfterUnlink(t *testing.T) {
	bucket := newBucket(t)
	content := randomBytes(3 << 20)
	if _, err := client.PutObject(ctx(t), bucket, "read", bytes.NewReader(content), int64(len(content)), s3client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	m := mountBucket(t, bucket)

	cmd := exec.Command("/usr/bin/python3", "-c", unlinkScript, m.Dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Read up to the "written" line: the files are still open then.
	var lines []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), "written ") {
			break
		}
	}
	for _, key := range []string{"read", "written"} {
		if _, err := client.HeadObject(ctx(t), bucket, key); !errors.Is(err, s3client.ErrNotFound) {
			t.Errorf("HEAD %s after unlink, files still open: got %v, want not found", key, err)
		}
	}
	stdin.Write([]byte("\n"))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("script: %v\n%s\n%s", err, strings.Join(lines, "\n"), stderr.String())
	}
	want := []string{
		"unlinked",
		"read 3145728 " + hexOf(content[:16]) + " " + hexOf(content[len(content)-16:]),
		`written b'first line\nsecond line\n' 23 0`,
		"closed",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("script output:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// Nothing was uploaded at the last close; the names stay gone.
	if keys := keysUnder(t, bucket, ""); len(keys) != 0 {
		t.Errorf("keys after the last close: got %v, want none", keys)
	}
	for _, name := range []string{"read", "written"} {
		if _, err := os.Lstat(filepath.Join(m.Dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("lstat %s after the last close: got %v, want ENOENT", name, err)
		}
	}
}

// hexOf is b in lower-case hex, as Python's bytes.hex.
func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

// TestMknod: mknod(S_IFREG) makes an empty regular file, stored at once
// with its mode; a FIFO, a socket or a device fails with EPERM.
func TestMknod(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket)
	p := filepath.Join(m.Dir, "plain")
	if err := unix.Mknod(p, unix.S_IFREG|0o640, 0); err != nil {
		t.Fatalf("mknod S_IFREG: %v", err)
	}
	if got, want := sh(t, "stat", "-c", "%F %a %s", p), "regular empty file 640 0\n"; got != want {
		t.Errorf("stat -c '%%F %%a %%s' plain: got %q, want %q", got, want)
	}
	info, err := client.HeadObject(ctx(t), bucket, "plain")
	if err != nil {
		t.Fatalf("HEAD plain after mknod: %v", err)
	}
	if got, want := info.Metadata["mode"], strconv.Itoa(unix.S_IFREG|0o640); got != want || info.Size != 0 {
		t.Errorf("object plain: got mode %s size %d, want mode %s size 0", got, info.Size, want)
	}
	writeFile(t, p, "now with content")
	if got, want := readFile(t, p), "now with content"; got != want {
		t.Errorf("cat plain: got %q, want %q", got, want)
	}
	for kind, mode := range map[string]uint32{"fifo": unix.S_IFIFO, "socket": unix.S_IFSOCK, "chardev": unix.S_IFCHR, "blockdev": unix.S_IFBLK} {
		err := unix.Mknod(filepath.Join(m.Dir, kind), mode|0o644, 0)
		if !errors.Is(err, unix.EPERM) {
			t.Errorf("mknod %s: got %v, want EPERM", kind, err)
		}
	}
}
