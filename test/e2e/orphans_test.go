package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitUploads waits up to d for the server to list want multipart
// uploads in progress in bucket (boto 2, as another client sees them),
// and returns the last count seen.
func waitUploads(t *testing.T, bucket, want string, d time.Duration) string {
	t.Helper()
	var got string
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got = boto(t, bucket, "uploads"); got == want {
			break
		}
	}
	return got
}

// TestOrphanUploadAbortedAfterKill: bucketfs killed (kill -9) in the
// middle of a cp leaves its multipart upload on the server; the next
// mount with the same --state-dir aborts it within seconds, and leaves
// alone an upload another client started.
func TestOrphanUploadAbortedAfterKill(t *testing.T) {
	bucket := newBucket(t)
	state := t.TempDir()
	otherID := boto(t, bucket, "start-upload", "another-client")
	t.Cleanup(func() { client.AbortMultipartUpload(ctx(t), bucket, "another-client", otherID) })
	time.Sleep(1100 * time.Millisecond) // older than --abort-stale-uploads: only the journal spares it
	args := []string{"--state-dir", state, "--abort-stale-uploads", "1s", "--part-size", "5242880"}

	m := mountBucket(t, bucket, args...)
	// A writer in the middle of a large file: two parts gone (the
	// multipart upload started), the rest never comes. It is a process
	// of its own that neither forks nor closes: every close of a file
	// descriptor (and the exec of a child, which closes the parent's
	// close-on-exec ones) sends FUSE a flush, which uploads the file.
	writer := exec.Command("/usr/bin/python3", "-c",
		"import os, sys, time\n"+
			"f = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT)\n"+
			"os.write(f, bytes(12 << 20))\n"+
			"time.sleep(600)\n", filepath.Join(m.Dir, "big"))
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	defer writer.Process.Kill()
	if got := waitUploads(t, bucket, "2", 30*time.Second); got != "2" {
		t.Fatalf("uploads in progress during the write: got %s, want 2 (another client's and ours)\n%s", got, m.Log())
	}
	m.Signal(syscall.SIGKILL)
	<-m.Exited()
	if err := syscall.Unmount(m.Dir, syscall.MNT_DETACH); err != nil {
		t.Fatalf("detach the dead mount: %v", err)
	}
	writer.Process.Kill()
	writer.Wait()
	if got := boto(t, bucket, "uploads"); got != "2" {
		t.Fatalf("uploads after kill -9: got %s, want 2 (the cp's left behind)", got)
	}
	if j, _ := filepath.Glob(filepath.Join(state, "uploads-*.jsonl")); len(j) != 1 {
		t.Fatalf("journals in --state-dir after kill -9: got %v, want the dead run's", j)
	}

	time.Sleep(1100 * time.Millisecond) // the cp's upload is older than 1s
	m2 := mountBucket(t, bucket, args...)
	if got := waitUploads(t, bucket, "1", 15*time.Second); got != "1" {
		t.Fatalf("uploads 15s after the second mount: got %s, want 1 (another client's)\n%s", got, m2.Log())
	}
	want := "aborted a multipart upload left by an earlier run: " + bucket + "/big (upload id "
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(m2.Log(), want); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("log does not name the aborted upload (%q):\n%s", want, m2.Log())
		}
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		j, _ := filepath.Glob(filepath.Join(state, "uploads-*.jsonl"))
		if len(j) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("journals after the sweep: got %v, want none", j)
		}
	}
	if got := boto(t, bucket, "uploads"); got != "1" {
		t.Errorf("another client's upload after both sweeps: got %s uploads, want 1", got)
	}
	if _, err := os.Stat(filepath.Join(m2.Dir, "big")); err == nil {
		t.Errorf("big exists after the cp was cut short: want nothing partial stored")
	}
}

// TestUploadJournalOff: with --abort-stale-uploads 0 a mount writes no
// journal and its uploads complete as ever.
func TestUploadJournalOff(t *testing.T) {
	bucket := newBucket(t)
	state := filepath.Join(t.TempDir(), "state")
	m := mountBucket(t, bucket, "--state-dir", state, "--abort-stale-uploads", "0", "--part-size", "5242880")
	src := randomFile(t, 12<<20)
	sh(t, "cp", src, filepath.Join(m.Dir, "big"))
	if got := boto(t, bucket, "size", "big"); got != "12582912" {
		t.Errorf("size of big: got %s, want 12582912", got)
	}
	if _, err := os.Stat(state); err == nil {
		t.Errorf("--state-dir %s exists with --abort-stale-uploads 0: want no journal", state)
	}
}
