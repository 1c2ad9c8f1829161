package s3client_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
	"github.com/bucketfs/bucketfs/test/harness"
)

// minio is the real S3 server the integration tests of this package talk
// to, started once by TestMain.
var minio *harness.Server

// TestMain starts MinIO for the package's tests and stops it after them.
// If MinIO cannot start the run fails: integration tests are never
// skipped. Fuzz worker processes, which only run fuzz functions, start
// no server.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run())
	}
	var err error
	minio, err = harness.StartMinIO()
	if err != nil {
		fmt.Fprintf(os.Stderr, "s3client integration tests: cannot start MinIO: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	minio.Stop()
	os.Exit(code)
}

// newClient returns a client of the test server signing with sig
// (s3client.SignatureV4, SignatureV2 or "" for the default).
func newClient(t *testing.T, sig string) *s3client.Client {
	t.Helper()
	c, err := s3client.New(s3client.Options{
		Endpoint:    minio.Endpoint,
		Signature:   sig,
		Credentials: s3client.Credentials{AccessKey: minio.AccessKey, SecretKey: minio.SecretKey},
		RetryBase:   10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// signatures are the signature versions the tests that send every kind of
// request run with.
var signatures = []string{s3client.SignatureV4, s3client.SignatureV2}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// bucketName returns a fresh valid bucket name derived from the test's.
func bucketName(t *testing.T) string {
	name := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 40 {
		name = strings.TrimRight(name[:40], "-")
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	return name + "-" + hex.EncodeToString(suffix)
}

// newBucket creates an empty bucket for the test and removes it, with its
// objects, when the test ends.
func newBucket(t *testing.T, c *s3client.Client) string {
	t.Helper()
	name := bucketName(t)
	if err := c.CreateBucket(testCtx(t), name); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	t.Cleanup(func() { removeBucket(t, c, name) })
	return name
}

// removeBucket deletes every object of bucket, then bucket.
func removeBucket(t *testing.T, c *s3client.Client, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in := s3client.ListInput{}
	for {
		page, err := c.ListObjectsV2(ctx, bucket, in)
		if errors.Is(err, s3client.ErrBucketNotFound) {
			return
		}
		if err != nil {
			t.Errorf("cleanup: list %s: %v", bucket, err)
			return
		}
		for _, o := range page.Objects {
			if err := c.DeleteObject(ctx, bucket, o.Key); err != nil {
				t.Errorf("cleanup: delete %s/%s: %v", bucket, o.Key, err)
			}
		}
		if !page.IsTruncated {
			break
		}
		in.ContinuationToken = page.NextContinuationToken
	}
	if err := c.DeleteBucket(ctx, bucket); err != nil {
		t.Errorf("cleanup: delete bucket %s: %v", bucket, err)
	}
}
