package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
	"github.com/bucketfs/bucketfs/test/harness"
)

// Metadata at scale (issue 12): the requests of ls -l, find and rm -r of
// a directory of two listing pages, counted from the mount's --debug-s3
// log on fresh mounts, and modes that stay exact after a chmod and a
// remount.

// scanFiles is the size of the scanned directory: two pages of a
// listing. Each object is 4 KiB, too big to be a link, as most files
// are.
const scanFiles = 1500

// s3fsMode is the metadata of a file of mode 0640 as s3fs writes it.
var s3fsMode = map[string]string{"mode": "33184", "uid": "0", "gid": "0", "mtime": "1700000000"}

// putScanDir puts scanFiles objects under prefix, with s3fs metadata.
func putScanDir(t *testing.T, bucket, prefix string) {
	t.Helper()
	body := make([]byte, 4096)
	putEach(t, bucket, scanFiles, func(i int) (string, []byte, s3client.PutOptions) {
		return fmt.Sprintf("%sf%04d", prefix, i), body, s3client.PutOptions{Metadata: s3fsMode}
	})
}

// fileHeads counts the HEADs of keys under prefix a log shows past mark.
func fileHeads(t *testing.T, log string, mark int, prefix string) int {
	n := 0
	for _, k := range headsSince(t, log, mark) {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

// freshMount mounts bucket with a --debug-s3 log and returns it and the
// log's path.
func freshMount(t *testing.T, bucket string, args ...string) (*harness.Mount, string) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "s3.log")
	m := harness.StartMount(t, harness.MountOptions{Binary: binary, Server: server, Source: bucket,
		Signature: sw.Signature, Args: append([]string{"--debug-s3", "--log-file", log}, args...)})
	return m, log
}

func TestScanRequests(t *testing.T) {
	bucket := newBucket(t)
	putScanDir(t, bucket, "scan/")
	// Two modes set through the mount, one on each page of the listing.
	m := mountBucket(t, bucket)
	if err := os.Chmod(filepath.Join(m.Dir, "scan", "f0007"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(m.Dir, "scan", "f1207"), 0o755); err != nil {
		t.Fatal(err)
	}
	m.Unmount()

	// ls -l: exact modes; on MinIO its listings carry the metadata, so
	// no HEAD at all. LISTs: the lookup of scan (one key) and the
	// listing's two pages (on MinIO both carry the metadata). Elsewhere
	// a HEAD per name.
	m, log := freshMount(t, bucket)
	mark := logLen(t, log)
	before := requests(t, log)
	out := sh(t, "ls", "-ln", filepath.Join(m.Dir, "scan"))
	after := requests(t, log)
	lines := strings.Split(strings.TrimSpace(out), "\n")[1:] // "total ..." first
	if len(lines) != scanFiles {
		t.Fatalf("ls -ln scan: %d lines, want %d", len(lines), scanFiles)
	}
	for _, line := range lines {
		f := strings.Fields(line)
		want := "-rw-r-----"
		switch f[len(f)-1] {
		case "f0007":
			want = "-rw-------"
		case "f1207":
			want = "-rwxr-xr-x"
		}
		if f[0] != want || f[2] != "0" || f[3] != "0" {
			t.Errorf("ls -ln: %q: want mode %s, owner 0:0", line, want)
		}
	}
	lists, heads := after["ListObjectsV2"]-before["ListObjectsV2"], fileHeads(t, log, mark, "scan/")
	t.Logf("%s: ls -l of %d files on a fresh mount: %d LIST, %d HEAD of files (%v)", sw.Server, scanFiles, lists, heads, diff(before, after))
	switch server.Kind {
	case harness.ServerMinIO:
		if lists > 3 || heads != 0 {
			t.Errorf("ls -l on MinIO: %d LIST, %d HEAD of files; want at most 3 LIST and no HEAD", lists, heads)
		}
	default:
		if lists > 3 || heads != scanFiles {
			t.Errorf("ls -l: %d LIST, %d HEAD of files; want at most 3 LIST and one HEAD per file (%d)", lists, heads, scanFiles)
		}
	}
	m.Unmount()

	// find: the lookup of scan and the listing only.
	m, log = freshMount(t, bucket)
	mark = logLen(t, log)
	before = requests(t, log)
	if n := countLines(sh(t, "find", filepath.Join(m.Dir, "scan"))); n != scanFiles+1 {
		t.Errorf("find scan: %d lines, want %d", n, scanFiles+1)
	}
	after = requests(t, log)
	lists, heads = after["ListObjectsV2"]-before["ListObjectsV2"], fileHeads(t, log, mark, "scan/")
	t.Logf("%s: find of %d files: %d LIST, %d HEAD of files", sw.Server, scanFiles, lists, heads)
	if lists > 3 || heads != 0 {
		t.Errorf("find: %d LIST, %d HEAD of files; want at most 3 LIST and no HEAD", lists, heads)
	}
	m.Unmount()

	// rm -r: a DELETE per file (and one of the directory's marker), the
	// lookup of scan and the listing's pages (rm reads the directory
	// twice: it is listed once; the rmdir answers from the listing the
	// unlinks emptied); no HEAD of a file.
	m, log = freshMount(t, bucket)
	mark = logLen(t, log)
	before = requests(t, log)
	sh(t, "rm", "-r", filepath.Join(m.Dir, "scan"))
	after = requests(t, log)
	lists, heads = after["ListObjectsV2"]-before["ListObjectsV2"], fileHeads(t, log, mark, "scan/f")
	deletes := after["DeleteObject"] - before["DeleteObject"]
	t.Logf("%s: rm -r of %d files: %d DELETE, %d LIST, %d HEAD of files (%v)", sw.Server, scanFiles, deletes, lists, heads, diff(before, after))
	if deletes < scanFiles || deletes > scanFiles+1 || lists > 3 || heads != 0 {
		t.Errorf("rm -r: %d DELETE, %d LIST, %d HEAD of files; want %d DELETE (+1 for the marker), at most 3 LIST, no HEAD", deletes, lists, heads, scanFiles)
	}
	page, err := client.ListObjects(ctx(t), bucket, s3client.ListInput{Prefix: "scan/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Objects) != 0 {
		t.Errorf("after rm -r, %d objects are left under scan/, e.g. %s", len(page.Objects), page.Objects[0].Key)
	}
}

// diff is after less before, by operation, for the log.
func diff(before, after map[string]int) map[string]int {
	d := map[string]int{}
	for op, n := range after {
		if n != before[op] {
			d[op] = n - before[op]
		}
	}
	return d
}

// A file another client puts inside a subtree the mount has listed (and
// cached, whole tree included) shows after the cache TTL.
func TestOtherClientInCachedTree(t *testing.T) {
	bucket := newBucket(t)
	putAll(t, bucket, "tree/", []string{"a/1", "a/2", "b/1", "b/2", "c/1"})
	m := mountBucket(t, bucket, "--cache-ttl", "2s")
	root := filepath.Join(m.Dir, "tree")
	sh(t, "find", root) // lists tree/, then tree/a/ and tree/b/: a tree listing
	if _, err := client.PutObject(ctx(t), bucket, "tree/b/new", strings.NewReader("x"), 1, s3client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2*time.Second + 3*time.Second) // the TTL and the kernel's 1 s, with room
	for {
		out, err := exec.Command("ls", filepath.Join(root, "b")).CombinedOutput()
		if err == nil && strings.Contains(string(out), "new") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ls tree/b: %q (err %v): the file put by another client does not show after the 2 s TTL", out, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := sh(t, "cat", filepath.Join(root, "b", "new")); got != "x" {
		t.Errorf("cat tree/b/new: %q, want x", got)
	}
}

// A directory of 100 000 objects lists completely, with no HEAD of a
// file, and ls -l of it shows every mode. MinIO only, on the plain-HTTP
// pass: putting 100 000 objects takes about two minutes on 2 cores.
func TestHundredThousand(t *testing.T) {
	if server.Kind != harness.ServerMinIO || server.CAFile != "" {
		t.Skipf("%s (TLS %v): the 100 000-object directory runs on the MinIO plain-HTTP pass only", sw.Server, server.CAFile != "")
	}
	const n = 100000
	bucket := newBucket(t)
	start := time.Now()
	putEach(t, bucket, n, func(i int) (string, []byte, s3client.PutOptions) {
		return fmt.Sprintf("big/f%06d", i), []byte("x"), s3client.PutOptions{Metadata: s3fsMode}
	})
	t.Logf("put %d objects in %v", n, time.Since(start).Round(time.Second))

	// A TTL longer than the scans: on a loaded machine ls -l can outlast
	// half the default 30 s, and the listing made again meanwhile
	// (keepFresh, unit-tested in fs) would make the count depend on time.
	m, log := freshMount(t, bucket, "--cache-ttl", "10m")
	mark := logLen(t, log)
	before := requests(t, log)
	start = time.Now()
	out := sh(t, "ls", filepath.Join(m.Dir, "big"))
	lsTime := time.Since(start)
	if got := countLines(out); got != n {
		t.Fatalf("ls big: %d names, want %d", got, n)
	}
	mid := requests(t, log)
	start = time.Now()
	out = sh(t, "ls", "-ln", filepath.Join(m.Dir, "big"))
	lslTime := time.Since(start)
	after := requests(t, log)
	if got := strings.Count(out, "-rw-r----- 1 0 0 "); got != n {
		t.Errorf("ls -ln big: %d lines show mode 0640 and owner 0:0, want %d", got, n)
	}
	heads := fileHeads(t, log, mark, "big/")
	t.Logf("ls of %d: %v, %d LIST; ls -l right after: %v, %d LIST (%v); %d HEAD of files",
		n, lsTime.Round(time.Millisecond), mid["ListObjectsV2"]-before["ListObjectsV2"],
		lslTime.Round(time.Millisecond), after["ListObjectsV2"]-mid["ListObjectsV2"], diff(mid, after), heads)
	if lists := mid["ListObjectsV2"] - before["ListObjectsV2"]; lists > 101 {
		t.Errorf("ls of %d: %d LIST, want at most 101", n, lists)
	}
	// ls -l lists again (a new readdir: 100 pages, the first two with
	// metadata) and the other 98 pages once more with metadata.
	if lists := after["ListObjectsV2"] - mid["ListObjectsV2"]; lists > 202 {
		t.Errorf("ls -l of %d: %d LIST, want at most 202", n, lists)
	}
	if heads != 0 {
		t.Errorf("ls and ls -l of %d: %d HEAD of files, want none", n, heads)
	}
}
