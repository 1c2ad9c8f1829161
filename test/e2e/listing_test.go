package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/bucketfs/bucketfs/test/harness"
)

// ls -l and cat of files right after a listing: on MinIO, whose listings
// carry each object's metadata (metadata=true), no HEAD at all, and one
// GET per file read; elsewhere (Ceph RGW ignores the parameter) a HEAD per
// name. Modes and owners are exact either way.
func TestListingMetadata(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket)
	dir := filepath.Join(m.Dir, "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, mode := range []os.FileMode{0o600, 0o640, 0o755, 0o644, 0o700} {
		p := filepath.Join(dir, "f"+string(rune('0'+i)))
		if err := os.WriteFile(p, []byte("content "+p), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	want := sh(t, "ls", "-ln", dir)
	m.Unmount()

	log := filepath.Join(t.TempDir(), "s3.log")
	m2 := harness.StartMount(t, harness.MountOptions{Binary: binary, Server: server, Source: bucket,
		Signature: sw.Signature, Args: []string{"--debug-s3", "--log-file", log}})
	sh(t, "ls", filepath.Join(m2.Dir, "d")) // the directory and its listing
	before := requests(t, log)
	got := sh(t, "ls", "-ln", filepath.Join(m2.Dir, "d"))
	if out, err := exec.Command("sh", "-c", "cat "+filepath.Join(m2.Dir, "d")+"/f*").CombinedOutput(); err != nil {
		t.Fatalf("cat: %v\n%s", err, out)
	}
	after := requests(t, log)
	if got != want {
		t.Errorf("ls -ln through a fresh mount:\n%s\nwant (as written):\n%s", got, want)
	}
	heads, gets := after["HeadObject"]-before["HeadObject"], after["GetObject"]-before["GetObject"]
	t.Logf("%s: ls -l and cat of 5 files after ls: %d HEAD, %d GET", sw.Server, heads, gets)
	if gets != 5 {
		t.Errorf("GETs for cat of 5 small files: got %d, want 5", gets)
	}
	switch server.Kind {
	case harness.ServerMinIO:
		if heads != 0 {
			t.Errorf("MinIO lists metadata: got %d HEADs for ls -l and cat of 5 listed files, want 0", heads)
		}
	default:
		if heads != 5 {
			t.Errorf("%s: got %d HEADs for ls -l and cat of 5 listed files, want 5 (one each)", sw.Server, heads)
		}
	}
}

var reOp = regexp.MustCompile(`msg="s3 request".* op=(\w+)`)

// requests counts the requests of a --debug-s3 log by operation.
func requests(t *testing.T, log string) map[string]int {
	t.Helper()
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, line := range strings.Split(string(data), "\n") {
		if m := reOp.FindStringSubmatch(line); m != nil {
			n[m[1]]++
		}
	}
	return n
}

// Lazy attributes: once a directory is listed, rm -r of a directory
// below it costs no HEAD of its files (big enough not to be links) on any
// server, a rename only the copy's own, and a later stat still shows each
// file's exact mode and owner.
func TestLazyAttributes(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket)
	dir := filepath.Join(m.Dir, "d")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := randomFile(t, 8<<10)
	modes := []os.FileMode{0o600, 0o640, 0o755, 0o644, 0o700, 0o604}
	for i, mode := range modes {
		p := filepath.Join(dir, "f"+string(rune('0'+i)))
		sh(t, "cp", src, p)
		sh(t, "cp", src, filepath.Join(dir, "sub", "s"+string(rune('0'+i))))
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	want := sh(t, "ls", "-ln", dir)
	m.Unmount()

	log := filepath.Join(t.TempDir(), "s3.log")
	m2 := harness.StartMount(t, harness.MountOptions{Binary: binary, Server: server, Source: bucket,
		Signature: sw.Signature, Args: []string{"--debug-s3", "--log-file", log}})
	d2 := filepath.Join(m2.Dir, "d")
	sh(t, "ls", d2)
	sh(t, "ls", filepath.Join(d2, "sub"))
	mark := logLen(t, log)
	sh(t, "rm", "-r", filepath.Join(d2, "sub"))
	if err := os.Rename(filepath.Join(d2, "f2"), filepath.Join(d2, "g2")); err != nil {
		t.Fatal(err)
	}
	heads := headsSince(t, log, mark)
	f2 := 0
	for _, k := range heads {
		if strings.HasPrefix(k, "d/sub/s") || k == "d/g2" {
			t.Errorf("rm -r d/sub and rename of d/f2 made a HEAD of %s; want none", k)
		}
		if k == "d/f2" {
			f2++
		}
	}
	// The copy of a rename sends every header again (REPLACE, to move
	// ctime): it reads them with one HEAD of its own, the lookup none.
	if f2 != 1 {
		t.Errorf("rename of d/f2: %d HEAD of it, want 1 (the copy's)", f2)
	}
	t.Logf("%s: rm -r of 6 listed files and a rename: HEADs %v", sw.Server, heads)
	// What is left shows the modes as written (g2 is f2 renamed).
	var kept []string
	for _, l := range strings.Split(strings.TrimSpace(want), "\n")[1:] {
		if f := strings.Fields(l); len(f) > 0 && f[len(f)-1] != "sub" {
			kept = append(kept, strings.Replace(l, " f2", " g2", 1))
		}
	}
	got := strings.Split(strings.TrimSpace(sh(t, "ls", "-ln", d2)), "\n")[1:]
	sort.Strings(got)
	sort.Strings(kept)
	if strings.Join(got, "\n") != strings.Join(kept, "\n") {
		t.Errorf("ls -ln after rm -r and rename:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(kept, "\n"))
	}
}

var reHead = regexp.MustCompile(`msg="s3 request".* key=(\S+) method=HEAD .*op=HeadObject`)

// logLen is the size of the log now, to read what follows.
func logLen(t *testing.T, log string) int {
	t.Helper()
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	return len(data)
}

// headsSince lists the keys of the HEADs a --debug-s3 log shows past
// offset from.
func headsSince(t *testing.T, log string, from int) []string {
	t.Helper()
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, line := range strings.Split(string(data[from:]), "\n") {
		if m := reHead.FindStringSubmatch(line); m != nil {
			keys = append(keys, m[1])
		}
	}
	return keys
}
