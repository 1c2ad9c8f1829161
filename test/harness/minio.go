// Package harness runs the real parts the end-to-end tests need: an S3
// server on loopback (MinIO, or a throw-away Ceph RADOS Gateway), the
// bucketfs binary built once, and FUSE mounts of it that are always
// unmounted.
package harness

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MinIOVersion is the pinned server version; test/minio-path.sh holds the
// same value for the install script.
const MinIOVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

// Server is a running S3 server for tests.
type Server struct {
	Kind      string // ServerMinIO or ServerCeph
	Endpoint  string // http://127.0.0.1:PORT
	Host      string // 127.0.0.1
	Port      int
	AccessKey string
	SecretKey string
	// CAFile is the PEM certificate an HTTPS server was started with
	// (made for the run, trusted by nobody else); "" over plain HTTP.
	CAFile string

	stop func() error // stops the server and removes its data
	dir  string       // the server's data (MinIO) or cluster (Ceph) directory
}

// MinIOBinary finds the MinIO binary: $BUCKETFS_MINIO, else the cache
// that test/setup.sh fills, else PATH.
func MinIOBinary() (string, error) {
	if p := os.Getenv("BUCKETFS_MINIO"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("BUCKETFS_MINIO=%s: %w (run test/setup.sh)", p, err)
		}
		return p, nil
	}
	cache := os.Getenv("BUCKETFS_CACHE")
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(dir, "bucketfs")
	}
	p := filepath.Join(cache, "minio-"+MinIOVersion, "minio")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("no MinIO binary at %s nor on PATH: run test/setup.sh", p)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// KMSKeyName is the name of the KMS key of the test servers: MinIO's
// built-in key (MINIO_KMS_SECRET_KEY) and Ceph RGW's "testing" KMS
// backend; --sse aws:kms --sse-kms-key-id KMSKeyName uses it.
const KMSKeyName = "bucketfs-test-key"

// kmsKey is its 32 bytes, in base64; a test key, never a secret.
const kmsKey = "MTIzNDU2Nzg5MGFiY2RlZjEyMzQ1Njc4OTBhYmNkZWY="

// MinIOOptions change how MinIO is started.
type MinIOOptions struct {
	// CertsDir holds public.crt and private.key: serve HTTPS with them.
	CertsDir string
}

// StartMinIO starts MinIO on a free loopback port with a fresh data
// directory and waits until it answers.
func StartMinIO() (*Server, error) {
	return StartMinIOWith(MinIOOptions{})
}

// StartMinIOWith is StartMinIO with options.
func StartMinIOWith(o MinIOOptions) (*Server, error) {
	bin, err := MinIOBinary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "bucketfs-minio-")
	if err != nil {
		return nil, err
	}
	// A port found free may be taken before MinIO binds it: try again.
	var lastErr error
	for try := 0; try < 3; try++ {
		s, err := startMinIO(bin, dir, o)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

func startMinIO(bin, dir string, o MinIOOptions) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	console, err := FreePort()
	if err != nil {
		return nil, err
	}
	scheme, caFile := "http", ""
	if o.CertsDir != "" {
		scheme, caFile = "https", filepath.Join(o.CertsDir, "public.crt")
	}
	s := &Server{
		Kind: ServerMinIO, Host: "127.0.0.1", Port: port, Endpoint: scheme + "://127.0.0.1:" + strconv.Itoa(port),
		AccessKey: "bucketfs-test", SecretKey: "bucketfs-test-secret", CAFile: caFile, dir: dir,
	}
	log := &bytes.Buffer{}
	args := []string{"server", "--quiet",
		"--address", "127.0.0.1:" + strconv.Itoa(port),
		"--console-address", "127.0.0.1:" + strconv.Itoa(console)}
	if o.CertsDir != "" {
		args = append(args, "--certs-dir", o.CertsDir)
	}
	cmd := exec.Command(bin, append(args, filepath.Join(dir, "data"))...)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=1",
		// A built-in KMS key: SSE-S3 and SSE-KMS work.
		"MINIO_KMS_SECRET_KEY="+KMSKeyName+":"+kmsKey,
		// Serves BUCKET.VirtualHostDomain virtual-host style, the rest path style.
		"MINIO_DOMAIN="+VirtualHostDomain)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start minio: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s.stop = func() error {
		cmd.Process.Kill()
		<-exited
		return os.RemoveAll(dir)
	}
	// The health probe only asks whether the server is up; the tests
	// check certificates themselves.
	probe := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, Proxy: nil}}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("minio exited early (%v): %s", err, log.String())
		default:
		}
		resp, err := probe.Get(s.Endpoint + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-exited
	return nil, fmt.Errorf("minio did not answer on %s within 60s: %s", s.Endpoint, log.String())
}

// Stop stops the server and removes its data; it reports a failure to
// stop on stderr.
func (s *Server) Stop() {
	if err := s.stop(); err != nil {
		fmt.Fprintf(os.Stderr, "harness: stop %s server at %s: %v\n", s.Kind, s.Endpoint, err)
	}
}

// Env returns the environment a client of s needs: credentials, and no
// proxies or stray AWS/boto configuration.
func (s *Server) Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "BOTO_CONFIG":
			continue
		}
		if strings.HasPrefix(name, "AWS_") && name != "AWS_CA_BUNDLE" {
			continue // keys, profiles, container and web identity settings
		}
		env = append(env, kv)
	}
	// Instance metadata is never asked (only on EC2, but a CI machine
	// may be one): nothing but loopback is reached.
	return append(env, "AWS_ACCESS_KEY_ID="+s.AccessKey, "AWS_SECRET_ACCESS_KEY="+s.SecretKey,
		"BOTO_CONFIG=/dev/null", "NO_PROXY=127.0.0.1,localhost", "AWS_EC2_METADATA_DISABLED=true")
}
