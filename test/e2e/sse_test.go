package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
	"github.com/bucketfs/bucketfs/test/harness"
)

// sseKey is the SSE-C key of the tests, as text (32 bytes).
const sseKey = "bucketfs-e2e-sse-c-key-32-bytes!"

// sseKeyFile writes sseKey to a new 0600 file.
func sseKeyFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sse-c.key")
	if err := os.WriteFile(p, []byte(sseKey), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// sseClient is the suite's client with the mount's encryption (the SSE-C
// key, for HEAD and GET of SSE-C objects).
func sseClient(t *testing.T, enc s3client.Encryption) *s3client.Client {
	t.Helper()
	var caFiles []string
	if server.CAFile != "" {
		caFiles = []string{server.CAFile}
	}
	c, err := s3client.New(s3client.Options{Endpoint: server.Endpoint, CAFiles: caFiles, Signature: sw.Signature,
		Credentials: s3client.Credentials{AccessKey: server.AccessKey, SecretKey: server.SecretKey}, Encryption: enc})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSSE: files written through a mount with each kind of server-side
// encryption are stored encrypted (HEAD says so), read back exactly
// through a fresh mount checking MD5s (--verify-md5 must know that an
// encrypted object's ETag is not its MD5), and stay encrypted through
// chmod (a copy onto itself) and mv (a copy). A small file goes in one
// PUT, a 20 MiB one as a multipart upload.
func TestSSE(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode string
		args func(t *testing.T) []string
		enc  s3client.Encryption
	}{
		{"SSE-S3", s3client.SSES3, func(*testing.T) []string { return []string{"--sse", "AES256"} }, s3client.Encryption{}},
		{"SSE-KMS", s3client.SSEKMS, func(*testing.T) []string {
			return []string{"-o", "sse=aws:kms,sse_kms_key_id=" + harness.KMSKeyName}
		}, s3client.Encryption{}},
		{"SSE-C", s3client.SSEC, func(t *testing.T) []string { return []string{"--sse-c-key-file", sseKeyFile(t)} },
			s3client.Encryption{Mode: s3client.SSEC, CustomerKey: []byte(sseKey)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			switch {
			case tc.mode == s3client.SSEC && server.CAFile == "":
				t.Skip("SSE-C needs HTTPS: it runs in the HTTPS passes (BUCKETFS_TEST_TLS=1)")
			case tc.mode == s3client.SSES3 && server.Kind == harness.ServerCeph:
				testSSEUnconfirmed(t, tc.args(t))
				return
			}
			testSSE(t, tc.mode, tc.args(t), sseClient(t, tc.enc))
		})
	}
}

func testSSE(t *testing.T, mode string, args []string, raw *s3client.Client) {
	bucket := newBucket(t)
	small, big := randomFile(t, 10_000), randomFile(t, 20<<20)
	m := mountBucket(t, bucket, args...)
	sh(t, "cp", small, filepath.Join(m.Dir, "small"))
	sh(t, "cp", big, filepath.Join(m.Dir, "big"))
	checkEncrypted := func(key string) {
		t.Helper()
		info, err := raw.HeadObject(ctx(t), bucket, key)
		if err != nil {
			t.Fatalf("HEAD %s: %v", key, err)
		}
		if info.Encryption != mode {
			t.Errorf("%s: server-side encryption %q, want %q", key, info.Encryption, mode)
		}
		if mode == s3client.SSEKMS && !strings.Contains(info.KMSKeyID, harness.KMSKeyName) {
			t.Errorf("%s: KMS key %q, want %s", key, info.KMSKeyID, harness.KMSKeyName)
		}
	}
	checkEncrypted("small")
	checkEncrypted("big")

	sh(t, "chmod", "600", filepath.Join(m.Dir, "small"))
	sh(t, "mv", filepath.Join(m.Dir, "big"), filepath.Join(m.Dir, "moved"))
	m.Unmount()
	if strings.Contains(m.Log(), "not confirmed") {
		t.Errorf("the server confirmed the encryption, yet the mount says it did not:\n%s", m.Log())
	}
	checkEncrypted("small")
	checkEncrypted("moved")

	m2 := mountBucket(t, bucket, append(args, "--verify-md5")...)
	sh(t, "cmp", small, filepath.Join(m2.Dir, "small"))
	sh(t, "cmp", big, filepath.Join(m2.Dir, "moved"))
	fi, err := os.Stat(filepath.Join(m2.Dir, "small"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != 10_000 {
		t.Errorf("small after chmod: mode %v size %d, want 0600 and 10000", fi.Mode(), fi.Size())
	}
	if mode != s3client.SSEC {
		return
	}
	// Without the key the data cannot be read: not by boto 2, not by a
	// mount (EIO, with the S3 error in its log), and the mount says why.
	if out, err := botoOn(t, server, bucket, "get", "small"); err == nil {
		t.Errorf("boto 2 read an SSE-C object without its key:\n%.200s", out)
	}
	m3 := mountBucket(t, bucket)
	out, err := exec.Command("cat", filepath.Join(m3.Dir, "small")).CombinedOutput()
	if err == nil {
		t.Errorf("a mount without the SSE-C key read the object")
	} else if !strings.Contains(string(out), "error") {
		t.Errorf("cat without the key: %v: %s", err, out)
	}
}

// testSSEUnconfirmed: Ceph RGW 16 (Pacific) has no SSE-S3 (it came in
// 17) yet takes "x-amz-server-side-encryption: AES256" and stores the
// object plain; the mount must say so in its log.
func testSSEUnconfirmed(t *testing.T, args []string) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket, args...)
	sh(t, "cp", randomFile(t, 1000), filepath.Join(m.Dir, "small"))
	m.Unmount()
	info, err := client.HeadObject(ctx(t), bucket, "small")
	if err != nil {
		t.Fatal(err)
	}
	if info.Encryption != s3client.SSENone {
		t.Skipf("this Ceph RGW encrypts with SSE-S3 (%q): test it like the others", info.Encryption)
	}
	if !strings.Contains(m.Log(), "SSE-S3 was asked for but not confirmed") {
		t.Errorf("the server stored the object unencrypted and the mount did not say so:\n%s", m.Log())
	}
}

// TestSSECNeedsHTTPS: SSE-C over plain HTTP is refused before mounting,
// with an error that says why and never shows the key.
func TestSSECNeedsHTTPS(t *testing.T) {
	mnt := t.TempDir()
	cmd := exec.Command(binary, "--endpoint", "http://127.0.0.1:9", "--sse-c-key-file", sseKeyFile(t), "--foreground", "any-bucket", mnt)
	cmd.Env = server.Env()
	out := refusedMount(t, cmd, mnt, 30*time.Second)
	if !strings.Contains(out, "needs an https://") {
		t.Errorf("the error does not say SSE-C needs https:\n%s", out)
	}
	if strings.Contains(out, sseKey) {
		t.Errorf("the error shows the key:\n%s", out)
	}
}

// TestStorageClass: --storage-class reaches every object written: one
// PUT, a multipart upload and the copy of a chmod.
func TestStorageClass(t *testing.T) {
	if server.Kind == harness.ServerCeph {
		t.Skip("the test Ceph RGW has only the STANDARD storage class; MinIO has REDUCED_REDUNDANCY")
	}
	bucket := newBucket(t)
	m := mountBucket(t, bucket, "--storage-class", "REDUCED_REDUNDANCY")
	sh(t, "cp", randomFile(t, 1000), filepath.Join(m.Dir, "small"))
	sh(t, "cp", randomFile(t, 20<<20), filepath.Join(m.Dir, "big"))
	sh(t, "cp", randomFile(t, 1000), filepath.Join(m.Dir, "chmodded"))
	sh(t, "chmod", "600", filepath.Join(m.Dir, "chmodded"))
	m.Unmount()
	for _, key := range []string{"small", "big", "chmodded"} {
		info, err := client.HeadObject(ctx(t), bucket, key)
		if err != nil {
			t.Fatal(err)
		}
		if info.StorageClass != "REDUCED_REDUNDANCY" {
			t.Errorf("%s: storage class %q, want REDUCED_REDUNDANCY", key, info.StorageClass)
		}
	}
}
