package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/test/harness"
)

// tlsServer is the suite's server when it serves HTTPS
// (BUCKETFS_TEST_TLS=1), else a MinIO serving HTTPS started for the test.
func tlsServer(t *testing.T) *harness.Server {
	t.Helper()
	if server.CAFile != "" {
		return server
	}
	dir := t.TempDir()
	if _, err := harness.SelfSignedCert(dir); err != nil {
		t.Fatal(err)
	}
	srv, err := harness.StartMinIOWith(harness.MinIOOptions{CertsDir: dir})
	if err != nil {
		t.Fatalf("start MinIO with TLS: %v", err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// TestTLSUntrustedCertificate: a mount of an HTTPS server whose
// certificate it does not trust fails before mounting, naming the
// certificate problem and the options that fix it.
func TestTLSUntrustedCertificate(t *testing.T) {
	srv := tlsServer(t)
	mnt := t.TempDir()
	// SSL_CERT_FILE/DIR empty: the machine's CAs do not matter either.
	empty := filepath.Join(t.TempDir(), "empty.pem")
	os.WriteFile(empty, nil, 0o644)
	cmd := exec.Command(binary, "--endpoint", srv.Endpoint, "--signature", sw.Signature, "--foreground", "any-bucket", mnt)
	cmd.Env = append(srv.Env(), "SSL_CERT_FILE="+empty, "SSL_CERT_DIR="+t.TempDir())
	out := refusedMount(t, cmd, mnt, 60*time.Second)
	for _, want := range []string{"certificate", "unknown authority", "--ca-file", "AWS_CA_BUNDLE"} {
		if !strings.Contains(out, want) {
			t.Errorf("error does not say %q:\n%s", want, out)
		}
	}
}

// TestTLSBotoBothWays: over HTTPS, trusted through AWS_CA_BUNDLE (no
// --ca-file), a mount and boto 2 (is_secure=True, validating with the
// CA) read what the other wrote in the same bucket.
func TestTLSBotoBothWays(t *testing.T) {
	srv := tlsServer(t)
	bucket := "e2e-tls-boto-" + hex.EncodeToString([]byte(t.Name()))[:8]
	if out, err := botoOn(t, srv, bucket, "create-bucket"); err != nil {
		t.Fatalf("boto create-bucket over HTTPS: %v\n%s", err, out)
	}
	env := append(srv.Env(), "AWS_CA_BUNDLE="+srv.CAFile)
	m := harness.StartMount(t, harness.MountOptions{Binary: binary, Server: srv, Source: bucket,
		Signature: sw.Signature, Env: env, NoCAFile: true})
	if strings.Contains(strings.Join(m.Args(), " "), "--ca-file") {
		t.Fatal("the mount was given --ca-file; it must trust the server through AWS_CA_BUNDLE alone")
	}

	fromBoto := randomFile(t, 3<<20)
	if out, err := botoOn(t, srv, bucket, "put", "from-boto", fromBoto); err != nil {
		t.Fatalf("boto put over HTTPS: %v\n%s", err, out)
	}
	want, _ := os.ReadFile(fromBoto)
	got, err := os.ReadFile(filepath.Join(m.Dir, "from-boto"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read boto's object through the mount: %v (%d bytes, want %d)", err, len(got), len(want))
	}

	fromMount := randomFile(t, 9<<20) // multipart
	sh(t, "cp", fromMount, filepath.Join(m.Dir, "from-mount"))
	data, _ := os.ReadFile(fromMount)
	sum := md5.Sum(data)
	out, err := botoOn(t, srv, bucket, "md5", "from-mount")
	if err != nil || out != hex.EncodeToString(sum[:]) {
		t.Errorf("boto md5 of the mount's object over HTTPS: got %q (%v), want %x", out, err, sum)
	}
}
