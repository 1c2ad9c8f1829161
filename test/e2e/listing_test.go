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

// Lazy attributes: once a directory is listed, rm, mv and cat of its
// files (big enough not to be links) cost no HEAD on any server, and a
// later stat still shows each file's exact mode and owner.
func TestLazyAttributes(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket)
	dir := filepath.Join(m.Dir, "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src := randomFile(t, 8<<10)
	modes := []os.FileMode{0o600, 0o640, 0o755, 0o644, 0o700, 0o604, 0o660, 0o611}
	for i, mode := range modes {
		p := filepath.Join(dir, "f"+string(rune('0'+i)))
		sh(t, "cp", src, p)
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
	before := requests(t, log)
	sh(t, "rm", filepath.Join(d2, "f0"), filepath.Join(d2, "f1"))
	if err := os.Rename(filepath.Join(d2, "f2"), filepath.Join(d2, "g2")); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sh", "-c", "cat "+d2+"/f3 "+d2+"/f4 >/dev/null").CombinedOutput(); err != nil {
		t.Fatalf("cat: %v\n%s", err, out)
	}
	after := requests(t, log)
	if heads := after["HeadObject"] - before["HeadObject"]; heads != 0 {
		t.Errorf("rm of 2, rename of 1 and cat of 2 listed files: %d HEAD, want 0", heads)
	}
	if n := after["DeleteObject"] - before["DeleteObject"]; n != 3 {
		t.Errorf("rm of 2 and rename of 1: %d DELETE, want 3", n)
	}
	// What is left shows the modes as written (g2 is f2 renamed).
	var kept []string
	for _, l := range strings.Split(strings.TrimSpace(want), "\n")[1:] {
		if f := strings.Fields(l); len(f) > 0 && f[len(f)-1] != "f0" && f[len(f)-1] != "f1" {
			kept = append(kept, strings.Replace(l, " f2", " g2", 1))
		}
	}
	got := strings.Split(strings.TrimSpace(sh(t, "ls", "-ln", d2)), "\n")[1:]
	sort.Strings(got)
	sort.Strings(kept)
	if strings.Join(got, "\n") != strings.Join(kept, "\n") {
		t.Errorf("ls -ln after rm, rename and cat:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(kept, "\n"))
	}
}
