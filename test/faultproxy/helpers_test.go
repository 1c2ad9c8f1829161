package faultproxy_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/test/faultproxy"
)

// store is a tiny S3 stand-in: PUT stores a body under its path, GET and
// HEAD serve it, DELETE drops it. It counts the requests it sees.
type store struct {
	mu      sync.Mutex // protects the fields below
	hits    int
	objects map[string][]byte
}

// ServeHTTP implements the stand-in.
func (s *store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits++
	s.mu.Unlock()
	switch r.Method {
	case http.MethodPut:
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		sum := md5.Sum(b)
		s.mu.Lock()
		s.objects[r.URL.Path] = b
		s.mu.Unlock()
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	case http.MethodGet, http.MethodHead:
		s.mu.Lock()
		b, ok := s.objects[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			http.Error(w, "<Error><Code>NoSuchKey</Code></Error>", http.StatusNotFound)
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
	case http.MethodDelete:
		s.mu.Lock()
		delete(s.objects, r.URL.Path)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotImplemented)
	}
}

// object returns the stored body at path.
func (s *store) object(path string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objects[path]
	return b, ok
}

// put stores b at path directly.
func (s *store) put(path string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[path] = b
}

// requests returns how many requests reached the stand-in.
func (s *store) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits
}

// startStore starts a store behind a proxy; both stop at the test's end.
func startStore(t *testing.T) (*store, *faultproxy.Proxy) {
	t.Helper()
	s := &store{objects: make(map[string][]byte)}
	return s, startProxy(t, s)
}

// startProxy starts h as the backend of a new proxy seeded with 1.
func startProxy(t *testing.T, h http.Handler) *faultproxy.Proxy {
	t.Helper()
	backend := httptest.NewServer(h)
	t.Cleanup(backend.Close)
	p, err := faultproxy.New(backend.URL, faultproxy.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// newClient returns a client with its own connection pool, one that
// asks for 100-continue like bucketfs's s3client does.
func newClient(t *testing.T, timeout time.Duration) *http.Client {
	t.Helper()
	tr := &http.Transport{ExpectContinueTimeout: time.Second, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}

// pattern returns n bytes that differ from offset to offset.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// wantFaults fails the test unless the proxy counted n faults f on op.
func wantFaults(t *testing.T, p *faultproxy.Proxy, op faultproxy.Op, f faultproxy.Fault, n int64) {
	t.Helper()
	if got := p.Faults(op, f); got != n {
		t.Errorf("Faults(%s, %s) = %d, want %d (stats %+v)", op, f, got, n, p.Stats())
	}
}
