package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
	"github.com/bucketfs/bucketfs/test/harness"
)

// skewOffset is how far the skewed gateway's clock runs ahead: more than
// the 15 minutes S3 servers allow, as in the seed.
const (
	skewOffset = "+20m"
	skewWant   = 20 * time.Minute
)

// skewWarning is bucketfs's one warning about a corrected clock.
var skewWarning = regexp.MustCompile(`clock skew: server time is (\S+) ahead of ours`)

// TestClockSkew is the seed's clock problem on a real Ceph RADOS Gateway
// whose clock runs 20 minutes ahead (radosgw under libfaketime): boto 2
// is refused with 403 RequestTimeTooSkewed, while bucketfs, signing with
// SigV2 and with SigV4, mounts, writes and reads through it, and logs the
// skew it corrected once. The test starts its own gateway whatever
// BUCKETFS_TEST_SERVER says, so it runs in every pass of test/run.sh.
func TestClockSkew(t *testing.T) {
	skewed, err := harness.StartCephWith(harness.CephOptions{FakeTimeOffset: skewOffset})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(skewed.Stop)

	// boto 2, as in the seed: every request is refused.
	out, err := botoOn(t, skewed, "skew-boto", "create-bucket")
	if err == nil || !strings.Contains(out, "403") || !strings.Contains(out, "RequestTimeTooSkewed") {
		t.Fatalf("boto create_bucket on a gateway 20 minutes ahead: got %v\n%s\nwant 403 RequestTimeTooSkewed", err, out)
	}
	t.Logf("boto 2 on the skewed gateway: %s", grepLines(out, "RequestTimeTooSkewed"))

	suffix := make([]byte, 4)
	rand.Read(suffix)
	bucket := "e2e-skew-" + hex.EncodeToString(suffix)
	setup, err := s3client.New(s3client.Options{
		Endpoint:    skewed.Endpoint,
		Credentials: s3client.Credentials{AccessKey: skewed.AccessKey, SecretKey: skewed.SecretKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := setup.CreateBucket(ctx(t), bucket); err != nil {
		t.Fatalf("create bucket %s on the skewed gateway: %v", bucket, err)
	}

	for _, sig := range []string{harness.SignatureV2, harness.SignatureV4} {
		t.Run(sig, func(t *testing.T) {
			mount := func() *harness.Mount {
				return harness.StartMount(t, harness.MountOptions{Binary: binary, Server: skewed, Source: bucket, Signature: sig})
			}
			m := mount()
			// A small file (one PUT) and one above the 8 MiB part size
			// (a multipart upload: every part is signed too).
			small, big := randomFile(t, 100_000), randomFile(t, 12<<20)
			sh(t, "mkdir", filepath.Join(m.Dir, sig))
			sh(t, "cp", small, filepath.Join(m.Dir, sig, "small"))
			sh(t, "cp", big, filepath.Join(m.Dir, sig, "big"))
			if got, want := sh(t, "ls", filepath.Join(m.Dir, sig)), "big\nsmall\n"; got != want {
				t.Errorf("ls %s: got %q, want %q", sig, got, want)
			}
			sh(t, "cmp", big, filepath.Join(m.Dir, sig, "big"))

			// A fresh mount has nothing cached: it reads from the gateway.
			fresh := mount()
			sh(t, "cmp", small, filepath.Join(fresh.Dir, sig, "small"))
			sh(t, "cmp", big, filepath.Join(fresh.Dir, sig, "big"))
			sh(t, "rm", filepath.Join(fresh.Dir, sig, "big"))
			if _, err := os.Stat(filepath.Join(fresh.Dir, sig, "big")); !os.IsNotExist(err) {
				t.Errorf("stat after rm: got %v, want ENOENT", err)
			}

			for name, mnt := range map[string]*harness.Mount{"writer": m, "reader": fresh} {
				checkSkewLog(t, name, mnt.Log())
			}
		})
	}
}

// checkSkewLog checks that a mount's log has exactly one clock-skew
// warning, with a skew of about 20 minutes, and that only the first
// request was refused as skewed.
func checkSkewLog(t *testing.T, name, log string) {
	t.Helper()
	warnings := skewWarning.FindAllStringSubmatch(log, -1)
	if len(warnings) != 1 {
		t.Errorf("%s mount: got %d clock-skew warnings, want 1:\n%s", name, len(warnings), grepLines(log, "skew"))
		return
	}
	skew, err := time.ParseDuration(warnings[0][1])
	if err != nil || skew < skewWant-time.Minute || skew > skewWant+time.Minute {
		t.Errorf("%s mount: logged skew %q (%v), want about %v", name, warnings[0][1], err, skewWant)
	}
	// With the skew learnt from the first answer, every later request is
	// signed with the corrected time.
	if n := strings.Count(log, "status=403"); n != 1 {
		t.Errorf("%s mount: %d requests refused with 403, want only the first:\n%s", name, n, grepLines(log, "status=403"))
	}
	t.Logf("%s mount: %s", name, strings.TrimSpace(grepLines(log, "clock skew")))
}
