package s3client_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
	"github.com/bucketfs/bucketfs/test/harness"
	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

// untrustMachineRoots points SSL_CERT_FILE and SSL_CERT_DIR at an empty
// file and directory, so that the system pool, if this process has not
// loaded it yet, holds nothing; Go loads it once per process, so it then
// checks that whatever the pool holds does not trust cert.
func untrustMachineRoots(t *testing.T, certPath string) {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSL_CERT_FILE", empty)
	t.Setenv("SSL_CERT_DIR", t.TempDir())
	pemBytes, err := os.ReadFile(certPath)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatalf("%s holds no PEM block", certPath)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		t.Fatalf("system cert pool: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"}); err == nil {
		t.Fatal("the system pool trusts the test's fresh self-signed certificate")
	}
}

// startTLSMinIO starts a MinIO serving HTTPS with a self-signed
// certificate made for the test, stopped when the test ends; it returns
// the server and the certificate's path, a CA file.
func startTLSMinIO(t *testing.T) (*harness.Server, string) {
	t.Helper()
	dir := t.TempDir()
	cert, err := harness.SelfSignedCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := harness.StartMinIOWith(harness.MinIOOptions{CertsDir: dir})
	if err != nil {
		t.Fatalf("start MinIO with TLS: %v", err)
	}
	t.Cleanup(srv.Stop)
	if !strings.HasPrefix(srv.Endpoint, "https://") {
		t.Fatalf("endpoint %s: want https", srv.Endpoint)
	}
	return srv, cert
}

// newTLSClient returns a client of srv signing with sig; set adjusts
// its options (CA files, InsecureSkipVerify).
func newTLSClient(t *testing.T, srv *harness.Server, sig string, set func(*s3client.Options)) *s3client.Client {
	t.Helper()
	opts := s3client.Options{
		Endpoint:    srv.Endpoint,
		Signature:   sig,
		Credentials: s3client.Credentials{AccessKey: srv.AccessKey, SecretKey: srv.SecretKey},
		RetryBase:   10 * time.Millisecond,
	}
	set(&opts)
	c, err := s3client.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIntegrationTLS(t *testing.T) {
	srv, cert := startTLSMinIO(t)
	untrustMachineRoots(t, cert)
	for _, sig := range signatures {
		t.Run(sig, func(t *testing.T) {
			trusting := newTLSClient(t, srv, sig, func(o *s3client.Options) { o.CAFiles = []string{cert} })
			insecure := newTLSClient(t, srv, sig, func(o *s3client.Options) { o.InsecureSkipVerify = true })
			for name, c := range map[string]*s3client.Client{"CA file": trusting, "InsecureSkipVerify": insecure} {
				ctx := testCtx(t)
				bucket := bucketName(t)
				if err := c.CreateBucket(ctx, bucket); err != nil {
					t.Fatalf("%s: create bucket: %v", name, err)
				}
				t.Cleanup(func() { removeBucket(t, c, bucket) })
				data := []byte("over TLS with " + name)
				if _, err := c.PutObject(ctx, bucket, "dir/a b+é", bytes.NewReader(data), int64(len(data)), s3client.PutOptions{}); err != nil {
					t.Fatalf("%s: put: %v", name, err)
				}
				if got, _ := readAll(t, c, bucket, "dir/a b+é", 0, -1); !bytes.Equal(got, data) {
					t.Errorf("%s: get: got %q, want %q", name, got, data)
				}
			}

			// Without the CA file the certificate is unknown: the error
			// says so, and the request is not retried.
			logger, hook := test.NewNullLogger()
			logger.SetLevel(logrus.DebugLevel)
			untrusting := newTLSClient(t, srv, sig, func(o *s3client.Options) { o.Log = logrus.NewEntry(logger) })
			err := untrusting.HeadBucket(testCtx(t), "any-bucket")
			var verr *tls.CertificateVerificationError
			var unknown x509.UnknownAuthorityError
			if !errors.As(err, &verr) || !errors.As(err, &unknown) || !strings.Contains(err.Error(), "unknown authority") {
				t.Errorf("without the CA file: got %v, want a certificate verification error (unknown authority)", err)
			}
			if err != nil && !strings.Contains(err.Error(), "HeadBucket") {
				t.Errorf("without the CA file: error %q does not name the operation", err)
			}
			attempts := 0
			for _, e := range hook.AllEntries() {
				if strings.HasPrefix(e.Message, "request failed") {
					attempts++
				}
			}
			if attempts != 1 {
				t.Errorf("without the CA file: got %d attempts, want 1 (a certificate error is not worth a retry)", attempts)
			}
			if _, err := untrusting.ListBuckets(testCtx(t)); !errors.As(err, &verr) {
				t.Errorf("ListBuckets without the CA file: got %v, want a certificate verification error", err)
			}
		})
	}
}
