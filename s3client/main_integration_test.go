package s3client_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
	"github.com/bucketfs/bucketfs/test/harness"
)

// The MinIO the integration tests of this package share: integrationServer
// starts it on first use, so that the tests that need no server (signers,
// parsers) run on a machine without one; TestMain stops it.
var (
	minioOnce sync.Once
	minio     *harness.Server // nil until started
	minioErr  error
)

// integrationServer returns the shared MinIO, starting it on first use. If
// MinIO cannot start the test fails: integration tests are never skipped.
func integrationServer(t testing.TB) *harness.Server {
	t.Helper()
	minioOnce.Do(func() { minio, minioErr = harness.StartMinIO() })
	if minioErr != nil {
		t.Fatalf("s3client integration tests need MinIO, which did not start: %v", minioErr)
	}
	return minio
}

// TestMain stops the shared MinIO after the tests, if one of them started it.
func TestMain(m *testing.M) {
	code := m.Run()
	if minio != nil {
		minio.Stop()
	}
	os.Exit(code)
}

// newClient returns a client of the test server signing with sig
// (s3client.SignatureV4, SignatureV2 or "" for the default).
func newClient(t *testing.T, sig string) *s3client.Client {
	t.Helper()
	srv := integrationServer(t)
	c, err := s3client.New(s3client.Options{
		Endpoint:    srv.Endpoint,
		Signature:   sig,
		Credentials: s3client.Credentials{AccessKey: srv.AccessKey, SecretKey: srv.SecretKey},
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
