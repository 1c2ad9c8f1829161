package e2e

import (
	"crypto/md5"
	"crypto/rand"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bucketfs/bucketfs/s3client"
)

// TestMkdirP: mkdir -p makes every level, each with its own marker.
func TestMkdirP(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket)

	sh(t, "mkdir", "-p", filepath.Join(m.Dir, "a", "b", "c"))

	for _, dir := range []string{"a", "a/b", "a/b/c"} {
		st, err := os.Stat(filepath.Join(m.Dir, dir))
		if err != nil || !st.IsDir() {
			t.Fatalf("stat %s: got %v, %v; want a directory", dir, st, err)
		}
		if _, err := client.HeadObject(ctx(t), bucket, dir+"/"); err != nil {
			t.Errorf("marker %q: got %v, want it to exist", dir+"/", err)
		}
	}
	if got, want := sh(t, "ls", "-p", filepath.Join(m.Dir, "a")), "b/\n"; got != want {
		t.Errorf("ls -p a: got %q, want %q", got, want)
	}
}

// TestCopyTree copies 200 small files in nested directories in with
// cp -r, compares them with diff -r (also through a fresh mount), and
// counts them with find and du.
func TestCopyTree(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket)
	src := t.TempDir()
	files, dirs := writeTree(t, src, 200)
	dst := filepath.Join(m.Dir, "tree")

	sh(t, "cp", "-r", src, dst)
	sh(t, "diff", "-r", src, dst)

	fresh := mountBucket(t, bucket)
	freshDst := filepath.Join(fresh.Dir, "tree")
	sh(t, "diff", "-r", src, freshDst)

	if got := countLines(sh(t, "find", freshDst, "-type", "f")); got != files {
		t.Errorf("find -type f: got %v, want %v", got, files)
	}
	if got := countLines(sh(t, "find", freshDst, "-type", "d")); got != dirs+1 {
		t.Errorf("find -type d: got %v, want %v", got, dirs+1)
	}
	if got := len(keysUnder(t, bucket, "tree/")); got < files {
		t.Errorf("keys under tree/: got %v, want at least %v", got, files)
	}

	cmd := exec.Command("du", "-s", freshDst)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("du -s: got %v, stderr %q; want success and no errors", err, stderr.String())
	}
	if n, err := strconv.Atoi(strings.Fields(string(out))[0]); err != nil || n <= 0 {
		t.Errorf("du -s: got %q, want a positive size", out)
	}
}

// TestRsyncKeepsModesAndTimes copies a tree with rsync -a and checks,
// through a new mount, that modes, mtimes and sizes were kept.
func TestRsyncKeepsModesAndTimes(t *testing.T) {
	bucket := newBucket(t)
	src := t.TempDir()
	sh(t, "mkdir", "-p", filepath.Join(src, "bin"), filepath.Join(src, "private"))
	for i, f := range []struct {
		name string
		mode os.FileMode
		when string
	}{
		{"secret", 0o600, "2010-01-02 03:04:05"},
		{"bin/tool", 0o755, "2015-06-07 08:09:10"},
		{"private/notes", 0o640, "2001-02-03 04:05:06"},
		{"private/key", 0o600, "1999-12-31 23:59:59"},
		{"readme", 0o644, "2020-05-05 05:05:05"},
	} {
		p := filepath.Join(src, f.name)
		if err := os.WriteFile(p, []byte(strings.Repeat(f.name, i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		sh(t, "chmod", fmt.Sprintf("%o", f.mode), p)
		sh(t, "touch", "-d", f.when, p)
	}
	sh(t, "chmod", "0750", filepath.Join(src, "private"))
	sh(t, "touch", "-d", "2012-12-12 12:12:12", filepath.Join(src, "private"), filepath.Join(src, "bin"))

	m := mountBucket(t, bucket)
	sh(t, "rsync", "-a", src+"/", filepath.Join(m.Dir, "dst")+"/")
	if err := m.Unmount(); err != nil {
		t.Fatal(err)
	}

	again := mountBucket(t, bucket)
	dst := filepath.Join(again.Dir, "dst")
	if got, want := statTree(t, dst), statTree(t, src); got != want {
		t.Errorf("stat -c '%%n %%a %%Y %%s' after remount:\ngot\n%v\nwant\n%v", got, want)
	}
	out := sh(t, "rsync", "-a", "--dry-run", "--itemize-changes", src+"/", dst+"/")
	if out != "" {
		t.Errorf("rsync --dry-run --itemize-changes after remount: got %q, want no changes", out)
	}
	sh(t, "diff", "-r", src, dst)
}

// TestTarRoundTrip extracts an archive (files, directories, a symlink)
// into the mount and archives it again: same listing, same content.
func TestTarRoundTrip(t *testing.T) {
	bucket := newBucket(t)
	src := t.TempDir()
	writeTree(t, filepath.Join(src, "data"), 20)
	sh(t, "mkdir", "-p", filepath.Join(src, "empty"))
	sh(t, "ln", "-s", "data/f000", filepath.Join(src, "link"))
	sh(t, "chmod", "0600", filepath.Join(src, "data", "f005"))
	sh(t, "chmod", "0755", filepath.Join(src, "data", "f010"))
	sh(t, "find", src, "-exec", "touch", "-h", "-d", "2011-11-11 11:11:11", "{}", "+")
	archive := filepath.Join(t.TempDir(), "in.tar")
	sh(t, "tar", "-C", src, "-cf", archive, ".")

	m := mountBucket(t, bucket)
	into := filepath.Join(m.Dir, "x")
	sh(t, "mkdir", into)
	sh(t, "tar", "-C", into, "-xf", archive)
	if got, err := os.Readlink(filepath.Join(into, "link")); err != nil || got != "data/f000" {
		t.Errorf("readlink link: got %q, %v; want %q", got, err, "data/f000")
	}

	fresh := mountBucket(t, bucket)
	back := filepath.Join(t.TempDir(), "out.tar")
	sh(t, "tar", "-C", filepath.Join(fresh.Dir, "x"), "-cf", back, ".")
	if got, want := tarListing(t, back), tarListing(t, archive); got != want {
		t.Errorf("tar tvf of the archive made from the mount:\ngot\n%v\nwant\n%v", got, want)
	}
	out := t.TempDir()
	sh(t, "tar", "-C", out, "-xf", back)
	sh(t, "diff", "-r", "--no-dereference", src, out)
}

// TestMv renames a file and a directory with contents, and replaces an
// existing file; the keys move in S3.
func TestMv(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket)
	p := func(name string) string { return filepath.Join(m.Dir, name) }
	writeFile(t, p("old"), "file content")
	sh(t, "mkdir", "-p", p("dir/sub"))
	writeFile(t, p("dir/one"), "one")
	writeFile(t, p("dir/sub/two"), "two")

	sh(t, "mv", p("old"), p("new"))
	sh(t, "mv", p("dir"), p("moved"))

	for _, gone := range []string{"old", "dir", "dir/one"} {
		if _, err := os.Lstat(p(gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stat %s after mv: got %v, want ENOENT", gone, err)
		}
	}
	for name, want := range map[string]string{"new": "file content", "moved/one": "one", "moved/sub/two": "two"} {
		if got := readFile(t, p(name)); got != want {
			t.Errorf("content of %s: got %q, want %q", name, got, want)
		}
	}
	if got := keysUnder(t, bucket, "dir/"); len(got) != 0 {
		t.Errorf("keys under dir/ after mv: got %v, want none", got)
	}
	if got, want := strings.Join(keysUnder(t, bucket, "moved/"), " "), "moved/ moved/one moved/sub/ moved/sub/two"; got != want {
		t.Errorf("keys under moved/: got %v, want %v", got, want)
	}
	if _, err := client.HeadObject(ctx(t), bucket, "old"); !errors.Is(err, s3client.ErrNotFound) {
		t.Errorf("HEAD old: got %v, want not found", err)
	}

	// mv over an existing file replaces it.
	writeFile(t, p("a"), "from a")
	writeFile(t, p("b"), "b, a longer old content")
	sh(t, "mv", p("a"), p("b"))
	if got, want := readFile(t, p("b")), "from a"; got != want {
		t.Errorf("content of b after mv a b: got %q, want %q", got, want)
	}
	fresh := mountBucket(t, bucket)
	if got, want := sh(t, "ls", fresh.Dir), "b\nmoved\nnew\n"; got != want {
		t.Errorf("ls after the moves: got %q, want %q", got, want)
	}
	if got, want := readFile(t, filepath.Join(fresh.Dir, "b")), "from a"; got != want {
		t.Errorf("content of b in a fresh mount: got %q, want %q", got, want)
	}
}

// TestRmRecursive: rm -r leaves no key under the tree's prefix.
func TestRmRecursive(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket)
	writeTree(t, filepath.Join(m.Dir, "doomed"), 30)
	sh(t, "mkdir", "-p", filepath.Join(m.Dir, "doomed", "empty", "deeper"))
	writeFile(t, filepath.Join(m.Dir, "keep"), "keep")
	if got := len(keysUnder(t, bucket, "doomed/")); got < 30 {
		t.Fatalf("keys under doomed/ before rm: got %v, want at least 30", got)
	}

	sh(t, "rm", "-r", filepath.Join(m.Dir, "doomed"))

	if got := keysUnder(t, bucket, "doomed/"); len(got) != 0 {
		t.Errorf("keys under doomed/ after rm -r: got %v, want none", got)
	}
	if got, want := sh(t, "ls", m.Dir), "keep\n"; got != want {
		t.Errorf("ls after rm -r: got %q, want %q", got, want)
	}
}

// TestRmdirNotEmpty: rmdir refuses a directory with content.
func TestRmdirNotEmpty(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket)
	sh(t, "mkdir", filepath.Join(m.Dir, "full"))
	writeFile(t, filepath.Join(m.Dir, "full", "f"), "x")

	mustFail(t, "Directory not empty", "rmdir", filepath.Join(m.Dir, "full"))
	if _, err := client.HeadObject(ctx(t), bucket, "full/"); err != nil {
		t.Errorf("marker full/ after failed rmdir: got %v, want it kept", err)
	}
	sh(t, "rm", filepath.Join(m.Dir, "full", "f"))
	sh(t, "rmdir", filepath.Join(m.Dir, "full"))
	if got := keysUnder(t, bucket, "full"); len(got) != 0 {
		t.Errorf("keys after rmdir: got %v, want none", got)
	}
}

// TestLargeCopyMultipart copies 40 MiB in with cp (a multipart upload of
// five 8 MiB parts) and reads it back through the same and a fresh mount.
// Ceph RGW answers the completion with an empty <ETag></ETag>: the copy
// must not depend on it, and HEAD gives the real multipart ETag.
func TestLargeCopyMultipart(t *testing.T) {
	const size, partSize = 40 << 20, 8 << 20
	bucket := newBucket(t)
	m := mountBucket(t, bucket, "--part-size", strconv.Itoa(partSize))
	src := randomFile(t, size)
	sh(t, "cp", src, filepath.Join(m.Dir, "large"))
	if got := sh(t, "stat", "-c", "%s", filepath.Join(m.Dir, "large")); got != strconv.Itoa(size)+"\n" {
		t.Errorf("stat -c %%s after cp: got %q, want %d", got, size)
	}
	sh(t, "cmp", src, filepath.Join(m.Dir, "large"))

	info, err := client.HeadObject(ctx(t), bucket, "large")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != size {
		t.Errorf("object size: got %v, want %v", info.Size, size)
	}
	if got, want := strings.Trim(info.ETag, `"`), multipartETag(t, src, partSize); got != want {
		t.Errorf("ETag: got %v, want %v (MD5 of the parts' MD5s, part count)", info.ETag, want)
	}
	fresh := mountBucket(t, bucket)
	sh(t, "cmp", src, filepath.Join(fresh.Dir, "large"))
}

// multipartETag is the ETag S3 gives a multipart upload of the file at
// path in parts of partSize: the hex MD5 of the parts' MD5s, "-", the
// number of parts.
func multipartETag(t *testing.T, path string, partSize int) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sums []byte
	n := 0
	for off := 0; off < len(data); off += partSize {
		sum := md5.Sum(data[off:min(off+partSize, len(data))])
		sums = append(sums, sum[:]...)
		n++
	}
	all := md5.Sum(sums)
	return fmt.Sprintf("%x-%d", all, n)
}

// TestOverwriteTruncates: cp over an existing file (O_TRUNC) leaves only
// the new content, whether it is shorter or longer.
func TestOverwriteTruncates(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket)
	dst := filepath.Join(m.Dir, "target")
	long, short := randomFile(t, 100_000), randomFile(t, 1000)

	sh(t, "cp", long, dst)
	sh(t, "cp", short, dst)
	sh(t, "cmp", short, dst)
	sh(t, "cp", long, dst)
	sh(t, "cp", short, dst)

	fresh := mountBucket(t, bucket)
	sh(t, "cmp", short, filepath.Join(fresh.Dir, "target"))
	if info, err := client.HeadObject(ctx(t), bucket, "target"); err != nil || info.Size != 1000 {
		t.Errorf("object after overwrite: got %v, %v; want size 1000", info, err)
	}
}

// writeTree fills dir with n small random files spread over nested
// directories and returns the number of files and directories below dir.
func writeTree(t *testing.T, dir string, n int) (files, dirs int) {
	t.Helper()
	made := map[string]bool{}
	for i := 0; i < n; i++ {
		sub := filepath.Join(fmt.Sprintf("d%d", i%4), fmt.Sprintf("e%d", i%3))
		if i%5 == 0 {
			sub = ""
		} else if i%7 == 0 {
			sub = filepath.Join(sub, "deep", "deeper")
		}
		for d := sub; d != "" && d != "."; d = filepath.Dir(d) {
			made[d] = true
		}
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, (i*37)%3000)
		rand.Read(data)
		if err := os.WriteFile(filepath.Join(dir, sub, fmt.Sprintf("f%03d", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return n, len(made)
}

// keysUnder lists every key with prefix, in order.
func keysUnder(t *testing.T, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	in := s3client.ListInput{Prefix: prefix}
	for {
		page, err := client.ListObjects(ctx(t), bucket, in)
		if err != nil {
			t.Fatalf("list %s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Objects {
			keys = append(keys, o.Key)
		}
		if !page.IsTruncated {
			return keys
		}
		in.ContinuationToken = page.NextContinuationToken
	}
}

// mustFail runs a command that must fail with want in its output.
func mustFail(t *testing.T, want, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("%s %s: got %v, %q; want failure with %q", name, strings.Join(args, " "), err, out, want)
	}
}

// statTree is what `stat -c '%n %a %Y %s'` says of everything below
// dir (sizes of files and links only), names relative to dir, sorted.
func statTree(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(path string, d iofs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		st, err := os.Lstat(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		line := fmt.Sprintf("%s %o %d %s", rel, st.Mode().Perm(), st.ModTime().Unix(), st.Mode().Type())
		if !st.IsDir() {
			line += fmt.Sprintf(" %d", st.Size())
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatalf("stat of %s: %v", dir, err)
	}
	return strings.Join(lines, "\n")
}

// tarListing is `tar tvf --full-time` of archive, sorted by name.
func tarListing(t *testing.T, archive string) string {
	t.Helper()
	return sortLines(sh(t, "tar", "--full-time", "-tvf", archive))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func countLines(s string) int {
	return len(strings.Split(strings.TrimSpace(s), "\n"))
}
