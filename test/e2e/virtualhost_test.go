package e2e

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/bucketfs/bucketfs/s3client"
	"github.com/bucketfs/bucketfs/test/harness"
)

// TestVirtualHost: the suite's core (copy in and out, listing, rename,
// delete, an endpoint mount with mkdir and rmdir of a bucket) through
// mounts with --addressing virtual against the server's virtual-host
// domain (harness.VirtualHostDomain), each bucket.domain mapped to
// 127.0.0.1 in /etc/hosts for the test only.
func TestVirtualHost(t *testing.T) {
	bucket := newBucket(t)
	made := bucket[:len(bucket)-2] + "vh" // made by mkdir on the endpoint mount
	remove, err := harness.AddHosts(harness.VirtualHostDomain,
		bucket+"."+harness.VirtualHostDomain, made+"."+harness.VirtualHostDomain)
	if err != nil {
		t.Fatalf("/etc/hosts: %v", err)
	}
	t.Cleanup(func() {
		if err := remove(); err != nil {
			t.Errorf("/etc/hosts: remove the test's lines: %v", err)
		}
	})
	vh := *server
	scheme, _, _ := strings.Cut(server.Endpoint, "://")
	vh.Endpoint = scheme + "://" + harness.VirtualHostDomain + ":" + strconv.Itoa(server.Port)
	mount := func(source string) *harness.Mount {
		return harness.StartMount(t, harness.MountOptions{Binary: binary, Server: &vh, Source: source,
			Signature: sw.Signature, Args: []string{"--addressing", "virtual"}})
	}

	m := mount(bucket)
	small, big := randomFile(t, 5000), randomFile(t, 12<<20)
	sh(t, "mkdir", filepath.Join(m.Dir, "d"))
	sh(t, "cp", small, filepath.Join(m.Dir, "d", "small"))
	sh(t, "cp", big, filepath.Join(m.Dir, "big"))
	if got := lsNames(t, m.Dir); strings.Join(got, " ") != "big d" {
		t.Errorf("ls: got %v, want [big d]", got)
	}
	sh(t, "mv", filepath.Join(m.Dir, "big"), filepath.Join(m.Dir, "d", "moved"))
	out := filepath.Join(t.TempDir(), "out")
	sh(t, "cp", filepath.Join(m.Dir, "d", "moved"), out)
	sameFile(t, big, out)
	sh(t, "rm", "-r", filepath.Join(m.Dir, "d"))
	if got := lsNames(t, m.Dir); len(got) != 0 {
		t.Errorf("ls after rm -r: got %v, want nothing", got)
	}
	if want := `host="` + bucket + "." + harness.VirtualHostDomain; !strings.Contains(m.Log(), want) {
		t.Errorf("the mount's requests were not virtual-host addressed: no %q in its log:\n%s", want, m.Log())
	}

	root := mount("/")
	if got := lsNames(t, root.Dir); !contains(got, bucket) {
		t.Errorf("endpoint mount: ls got %v, want %s in it", got, bucket)
	}
	sh(t, "mkdir", filepath.Join(root.Dir, made))
	sh(t, "cp", small, filepath.Join(root.Dir, made, "f"))
	sameFile(t, small, filepath.Join(root.Dir, made, "f"))
	sh(t, "rm", filepath.Join(root.Dir, made, "f"))
	sh(t, "rmdir", filepath.Join(root.Dir, made))
	if err := client.HeadBucket(ctx(t), made); !errors.Is(err, s3client.ErrNotFound) {
		t.Errorf("bucket %s after rmdir: HeadBucket got %v, want not found", made, err)
	}
	if want := `host="` + made + "." + harness.VirtualHostDomain; !strings.Contains(root.Log(), want) {
		t.Errorf("the endpoint mount's bucket requests were not virtual-host addressed: no %q in its log", want)
	}
}

func lsNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err1 := os.ReadFile(a)
	y, err2 := os.ReadFile(b)
	if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
		t.Errorf("%s and %s differ (%v, %v; %d and %d bytes)", a, b, err1, err2, len(x), len(y))
	}
}
