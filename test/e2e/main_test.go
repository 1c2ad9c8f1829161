// Package e2e drives the built bucketfs binary, mounted for real through
// /dev/fuse, against a real MinIO on loopback, with the tools users use.
// Nothing here is skipped: a missing server or FUSE fails the suite.
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
	server *harness.Server
	binary string
	client *s3client.Client
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FUSE is not available (%v); run test/setup.sh\n", err)
		return 1
	}
	var err error
	server, err = harness.StartMinIO()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer server.Stop()
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
	client, err = s3client.New(s3client.Options{
		Endpoint:    server.Endpoint,
		Credentials: s3client.Credentials{AccessKey: server.AccessKey, SecretKey: server.SecretKey},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	return m.Run()
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

// mountBucket mounts source (BUCKET or BUCKET:/prefix) with extra options.
func mountBucket(t *testing.T, source string, args ...string) *harness.Mount {
	t.Helper()
	return harness.StartMount(t, harness.MountOptions{Binary: binary, Server: server, Source: source, Args: args})
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
// Debian's python3-boto.
func boto(t *testing.T, bucket, op string, args ...string) string {
	t.Helper()
	script, err := filepath.Abs("testdata/boto_s3.py")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", append([]string{script, strconv.Itoa(server.Port), bucket, op}, args...)...)
	cmd.Env = server.Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto %s %v: %v\n%s", op, args, err, out)
	}
	return strings.TrimSpace(string(out))
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
