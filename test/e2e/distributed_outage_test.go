package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDistributedAllDown stops every node of a 4-node MinIO (the
// balancer in front of them then closes each connection it takes) under
// a mount with the default time limits and times what programs see: cp
// of a small file and of a 32 MiB file over existing ones, cat of a file
// not read yet (names and attributes come from the mount's cache, kept
// for 10 minutes here, so that each op meets the outage at the call it
// is about), ls of a directory not listed yet. Each must fail with EIO
// ("Input/output error", a non-zero exit) within minutes, the mount must
// stay mounted, and once the nodes are back the old objects are intact
// and read. It takes over 2 minutes, so test/run.sh leaves it out: run
// it with BUCKETFS_TEST_DISTRIBUTED=1 -run TestDistributedAllDown.
func TestDistributedAllDown(t *testing.T) {
	bucket := "e2e-alldown"
	c, _ := distributed(t, bucket)
	m := mountCluster(t, c, bucket)
	old := []byte("the object as it was\n")
	for _, name := range []string{"small", "big", "unread"} {
		if err := os.WriteFile(filepath.Join(m.Dir, name), old, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sh(t, "mkdir", "-p", filepath.Join(m.Dir, "unlisted", "sub"))
	if err := os.WriteFile(filepath.Join(m.Dir, "unlisted", "sub", "f"), old, 0o644); err != nil {
		t.Fatal(err)
	}
	reader := mountCluster(t, c, bucket, "--cache-ttl", "10m") // knows nothing yet
	sh(t, "ls", reader.Dir)                                    // the root listed: lookups need no request
	small, big := randomFile(t, 4096), randomFile(t, 32<<20)

	for _, nd := range c.Nodes {
		nd.Stop()
	}
	t.Logf("all 4 nodes stopped")
	for _, op := range []struct {
		what string
		argv []string
	}{
		{"cp of 4 KiB over an existing file", []string{"cp", small, filepath.Join(reader.Dir, "small")}},
		{"cp of 32 MiB over an existing file", []string{"cp", big, filepath.Join(reader.Dir, "big")}},
		{"cat of a file not read yet", []string{"cat", filepath.Join(reader.Dir, "unread")}},
		{"ls of a directory not listed yet", []string{"ls", filepath.Join(reader.Dir, "unlisted", "sub")}},
	} {
		start := time.Now()
		out, err := exec.Command(op.argv[0], op.argv[1:]...).CombinedOutput()
		took := time.Since(start)
		t.Logf("%s with every node down: %.1fs, %v: %s", op.what, took.Seconds(), err, strings.TrimSpace(string(out)))
		if err == nil || !strings.Contains(string(out), "Input/output error") {
			t.Errorf("%s with every node down: %v %q, want a failure with EIO", op.what, err, out)
		}
		if took > 5*time.Minute {
			t.Errorf("%s with every node down: took %v, want the retries to end within minutes", op.what, took)
		}
	}
	if _, err := os.Stat(reader.Dir); err != nil {
		t.Errorf("the mount after the outage: %v", err)
	}

	for _, nd := range c.Nodes {
		if err := nd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitHealthy(90 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"small", "big", "unread"} {
		got, err := exec.Command("cat", filepath.Join(reader.Dir, name)).Output()
		if err != nil || !bytes.Equal(got, old) {
			t.Errorf("cat %s once the nodes are back: %q, %v; want the object as it was", name, got, err)
		}
	}
}
