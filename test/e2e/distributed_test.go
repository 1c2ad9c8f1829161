package e2e

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
	"github.com/bucketfs/bucketfs/test/harness"
)

// TestDistributedMinIO mounts a bucket of a 4-node erasure-coded MinIO
// through a round-robin balancer and copies a tree of files in (cp -r)
// while one node is SIGKILLed and later restarted; every file read back
// through the mount must equal the source (cmp). It starts its own
// cluster, so it runs only with BUCKETFS_TEST_DISTRIBUTED=1 (test/run.sh
// has no pass for it yet); otherwise it says so and skips.
//
// Known failure (found 2026-12-03, not fixed yet): right after the
// SIGKILL one PutObject retried through the balancer to a live node gets
// no response headers for 60 s (the live node waits on its dead peer),
// the retry budget (--request-timeout) ends and cp fails with EIO on
// close. Loud, nothing partial, but not the "everything completes" the
// issue asks for.
func TestDistributedMinIO(t *testing.T) {
	if os.Getenv("BUCKETFS_TEST_DISTRIBUTED") != "1" {
		t.Skip("a 4-node MinIO: set BUCKETFS_TEST_DISTRIBUTED=1 to run it")
	}
	start := time.Now()
	c, err := harness.StartMinIOCluster(4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	t.Logf("4-node MinIO up behind %s in %.1fs", c.Balancer.Addr(), time.Since(start).Seconds())
	srv := c.Server()
	cl, err := s3client.New(s3client.Options{Endpoint: srv.Endpoint,
		Credentials: s3client.Credentials{AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}})
	if err != nil {
		t.Fatal(err)
	}
	bucket := "e2e-distributed"
	if err := cl.CreateBucket(ctx(t), bucket); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "s3.log")
	m := harness.StartMount(t, harness.MountOptions{Binary: binary, Server: srv, Source: bucket,
		Args: []string{"--debug-s3", "--log-file", log}})
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("grep", "-v", "status=200", log).Output()
			t.Logf("mount's log, but for the 200s:\n%s", out)
		}
	})

	src := filepath.Join(t.TempDir(), "tree")
	for i := 0; i < 300; i++ {
		d := filepath.Join(src, fmt.Sprintf("d%02d", i%10))
		os.MkdirAll(d, 0o755)
		data := make([]byte, 1000+i*97)
		rand.Read(data)
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%03d", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	big := randomFile(t, 32<<20)

	victim := c.Nodes[1]
	go func() {
		time.Sleep(300 * time.Millisecond)
		victim.Kill()
	}()
	copyStart := time.Now()
	sh(t, "cp", "-r", src, filepath.Join(m.Dir, "tree"))
	sh(t, "cp", big, filepath.Join(m.Dir, "big"))
	t.Logf("cp -r of 300 files and cp of 32 MiB with node %d killed: %.1fs", victim.Port, time.Since(copyStart).Seconds())
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("diff", "-r", src, filepath.Join(m.Dir, "tree")).CombinedOutput(); err != nil {
		t.Fatalf("diff -r after restart: %v\n%s", err, out)
	}
	sh(t, "cmp", big, filepath.Join(m.Dir, "big"))
}
