// Package e2e drives the built bucketfs binary, mounted for real through
// /dev/fuse, against a real S3 server on loopback, with the tools users
// use. The server and the signature version come from the environment
// (see harness.SwitchFromEnv):
//
//	go test ./test/e2e/                                      # MinIO, --signature auto
//	BUCKETFS_TEST_SERVER=ceph BUCKETFS_TEST_SIGNATURE=v2 go test ./test/e2e/
//
// Nothing here is skipped: a missing server or FUSE fails the suite, and
// a test that depends on how one server behaves says so where it checks.
//
// "The seed", in names and comments here and in s3client, is the field
// note that started this project: boto 2 (2.34.0) talking to a Ceph RADOS
// Gateway over plain HTTP, with path-style URLs, SigV2, Content-MD5,
// Expect: 100-continue and X-RGW-* headers. Tests that replay it (the
// boto 2 calls of testdata/boto_s3.py, its object size, its clock skew)
// say "as in the seed".
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
	"github.com/bucketfs/bucketfs/test/harness"
)

var (
	// sw is the server and signature version the suite runs with.
	sw     harness.Switch
	server *harness.Server
	binary string
	// client is the suite's own S3 client (setup and checks); it signs
	// as the mounts do.
	client *s3client.Client
)

func TestMain(m *testing.M) {
	if os.Getenv(credProcessEnv) != "" {
		os.Exit(credentialProcess()) // run by a mount as its credential_process
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FUSE is not available (%v); run test/setup.sh\n", err)
		return 1
	}
	var err error
	if sw, err = harness.SwitchFromEnv(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	start := time.Now()
	if server, err = harness.StartServer(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: start %s: %v\n", sw.Server, err)
		return 1
	}
	defer server.Stop()
	fmt.Fprintf(os.Stderr, "e2e: %s at %s (started in %.1fs), mounts and client sign with --signature %s\n",
		sw, server.Endpoint, time.Since(start).Seconds(), sw.Signature)
	tmp, err := os.MkdirTemp("", "bucketfs-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if binary, err = harness.BuildBinary(tmp); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	var caFiles []string
	if server.CAFile != "" {
		caFiles = []string{server.CAFile}
	}
	client, err = s3client.New(s3client.Options{
		Endpoint:    server.Endpoint,
		CAFiles:     caFiles,
		Signature:   sw.Signature,
		Credentials: s3client.Credentials{AccessKey: server.AccessKey, SecretKey: server.SecretKey},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	code := m.Run()
	if server.Kind == harness.ServerCeph {
		// memstore holds the cluster's data in memory and hangs writes
		// when full (see test/ceph/README.md); shown with -v or on failure.
		if u, err := server.CephUsage(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: ceph usage: %v\n", err)
		} else {
			fmt.Fprintf(os.Stderr, "e2e: ceph memstore holds %d MiB of %d MiB; OSD peak RSS %d MiB\n",
				u.Used>>20, u.Size>>20, u.PeakRSS>>20)
		}
	}
	return code
}

// newBucket creates an empty bucket named after the test.
func newBucket(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"))
	if len(name) > 40 {
		name = name[:40]
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	name = strings.Trim("e2e-"+name, "-") + "-" + hex.EncodeToString(suffix)
	if err := client.CreateBucket(ctx(t), name); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// mountBucket mounts source (BUCKET or BUCKET:/prefix) with extra options,
// signing with the suite's signature version.
func mountBucket(t *testing.T, source string, args ...string) *harness.Mount {
	t.Helper()
	return harness.StartMount(t, harness.MountOptions{Binary: binary, Server: server, Source: source,
		Signature: sw.Signature, Args: args})
}

// bucketfsArgs are the arguments of a bucketfs run by hand (not through
// mountBucket): the endpoint, its CA file over HTTPS and the suite's
// signature version, then args.
func bucketfsArgs(args ...string) []string {
	base := []string{"--endpoint", server.Endpoint, "--signature", sw.Signature}
	if server.CAFile != "" {
		base = append(base, "--ca-file", server.CAFile)
	}
	return append(base, args...)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// sh runs a command and fails the test if it fails.
func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// boto runs one of the seed's boto 2 calls (testdata/boto_s3.py) with
// Debian's python3-boto against the suite's server. boto 2 signs with
// SigV2 whatever the switch says, as it did in the seed.
func boto(t *testing.T, bucket, op string, args ...string) string {
	t.Helper()
	out, err := botoOn(t, server, bucket, op, args...)
	if err != nil {
		t.Fatalf("boto %s %v: %v\n%s", op, args, err, out)
	}
	return out
}

// botoOn runs a boto 2 call against srv and returns its output and error.
func botoOn(t *testing.T, srv *harness.Server, bucket, op string, args ...string) (string, error) {
	t.Helper()
	script, err := filepath.Abs("testdata/boto_s3.py")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", append([]string{script, strconv.Itoa(srv.Port), bucket, op}, args...)...)
	cmd.Env = srv.Env()
	if srv.CAFile != "" {
		// boto 2 over HTTPS (is_secure=True), validating with the run's
		// CA. It matches the certificate's DNS names only, not its IP
		// addresses, and Ceph RGW refuses the signature of a request to
		// "localhost": it connects to the server's own domain.
		remove, err := harness.AddHosts(harness.VirtualHostDomain)
		if err != nil {
			t.Fatalf("/etc/hosts: %v", err)
		}
		defer remove()
		cmd.Env = append(cmd.Env, "BOTO_CA_FILE="+srv.CAFile, "BOTO_HOST="+harness.VirtualHostDomain)
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// randomFile writes n random bytes to a new file in a temp dir.
func randomFile(t *testing.T, n int) string {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	p := filepath.Join(t.TempDir(), "random")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// refusedMount runs cmd, a bucketfs that must refuse to mount mnt, and
// returns what it printed; the test fails if it mounts or is still
// running after within.
func refusedMount(t *testing.T, cmd *exec.Cmd, mnt string, within time.Duration) string {
	t.Helper()
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(within):
		cmd.Process.Kill()
		<-done
		harness.AbortFUSE(mnt)
		t.Fatalf("bucketfs did not give up within %v:\n%s", within, out)
	}
	if err == nil {
		t.Errorf("bucketfs did not fail:\n%s", out)
	}
	if harness.IsMounted(mnt) {
		harness.AbortFUSE(mnt)
		t.Errorf("%s was mounted", mnt)
	}
	return string(out)
}
