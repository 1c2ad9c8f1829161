package s3client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// holdingServer holds the answer of every request of a method until it
// has held held of them (a node of a distributed MinIO waiting for a
// dead peer's lock to expire), then answers at once.
type holdingServer struct {
	held    int
	release chan struct{}

	mu    sync.Mutex // protects count
	count map[string]int
}

func newHoldingServer(t *testing.T, held int) *holdingServer {
	h := &holdingServer{held: held, release: make(chan struct{}), count: map[string]int{}}
	t.Cleanup(func() { close(h.release) })
	return h
}

func (h *holdingServer) serve(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	h.mu.Lock()
	h.count[r.Method]++
	n := h.count[r.Method]
	h.mu.Unlock()
	if n <= h.held {
		select {
		case <-h.release:
		case <-r.Context().Done(): // the client gave the attempt up
		}
		return
	}
	w.Header().Set("ETag", `"e"`)
	if r.Method == http.MethodPost {
		io.WriteString(w, `<CompleteMultipartUploadResult><ETag>"m-1"</ETag></CompleteMultipartUploadResult>`)
	}
}

func (h *holdingServer) n(method string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count[method]
}

// An upload whose answers are held for longer than RequestTimeout in all
// (four attempts of a third of it each) still succeeds: it retries within
// UploadTimeout. A HEAD held the same way fails within RequestTimeout.
func TestUploadOutlastsRequestTimeout(t *testing.T) {
	opts := Options{RequestTimeout: 300 * time.Millisecond, UploadTimeout: 3 * time.Second, RetryBase: 10 * time.Millisecond}
	h := newHoldingServer(t, 4)
	c := newTestClient(t, h.serve, opts)
	body := bytes.NewReader([]byte("data"))
	start := time.Now()
	if _, err := c.PutObject(context.Background(), "bkt", "k", body, body.Size(), PutOptions{}); err != nil {
		t.Fatalf("PUT held 4 times: %v, want success within UploadTimeout", err)
	}
	if d := time.Since(start); d < opts.RequestTimeout {
		t.Errorf("PUT held 4 times: took %v, want more than RequestTimeout (each hold is a third of it)", d)
	}
	if got := h.n(http.MethodPut); got != 5 {
		t.Errorf("PUT attempts: got %d, want 5", got)
	}

	start = time.Now()
	part := bytes.NewReader([]byte("part"))
	if _, err := c.UploadPart(context.Background(), "bkt", "k", "u1", 1, part, part.Size()); err != nil {
		t.Fatalf("UploadPart after the held PUTs: %v", err)
	}

	start = time.Now()
	if _, err := c.HeadObject(context.Background(), "bkt", "k"); !errors.Is(err, ErrStalled) {
		t.Errorf("HEAD held: got %v, want a stall", err)
	}
	if d := time.Since(start); d > 2*opts.RequestTimeout {
		t.Errorf("HEAD held: took %v, want about RequestTimeout (%v), not UploadTimeout", d, opts.RequestTimeout)
	}
}

// A completion, which is not repeated after a stall (the server may have
// acted), waits for its answer past RequestTimeout, until UploadTimeout
// ends; one whose answer never comes fails by then.
func TestCompleteWaitsUploadTimeout(t *testing.T) {
	opts := Options{RequestTimeout: 200 * time.Millisecond, UploadTimeout: 800 * time.Millisecond, RetryBase: 10 * time.Millisecond}
	slow := func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(500 * time.Millisecond) // past RequestTimeout, within UploadTimeout
		io.WriteString(w, `<CompleteMultipartUploadResult><ETag>"m-1"</ETag></CompleteMultipartUploadResult>`)
	}
	c := newTestClient(t, slow, opts)
	parts := []CompletedPart{{PartNumber: 1, ETag: `"e"`}}
	etag, err := c.CompleteMultipartUpload(context.Background(), "bkt", "k", "u1", parts)
	if err != nil || etag != `"m-1"` {
		t.Fatalf("completion answered after 500ms: got %q, %v; want success", etag, err)
	}

	h := newHoldingServer(t, 1<<30) // never answers
	c = newTestClient(t, h.serve, opts)
	start := time.Now()
	if _, err := c.CompleteMultipartUpload(context.Background(), "bkt", "k", "u1", parts); !errors.Is(err, ErrStalled) {
		t.Errorf("completion never answered: got %v, want a stall", err)
	}
	if d := time.Since(start); d < opts.UploadTimeout-100*time.Millisecond || d > 3*opts.UploadTimeout {
		t.Errorf("completion never answered: took %v, want about UploadTimeout (%v)", d, opts.UploadTimeout)
	}
	if got := h.n(http.MethodPost); got != 1 {
		t.Errorf("completion attempts: got %d, want 1 (a POST is not repeated after a stall)", got)
	}
}

// An upload held for ever fails once UploadTimeout is spent: no write
// waits without bound.
func TestUploadHeldForEverFails(t *testing.T) {
	opts := Options{RequestTimeout: 300 * time.Millisecond, UploadTimeout: 1 * time.Second, RetryBase: 10 * time.Millisecond}
	h := newHoldingServer(t, 1<<30)
	c := newTestClient(t, h.serve, opts)
	body := bytes.NewReader([]byte("data"))
	start := time.Now()
	if _, err := c.PutObject(context.Background(), "bkt", "k", body, body.Size(), PutOptions{}); !errors.Is(err, ErrStalled) {
		t.Errorf("PUT held for ever: got %v, want a stall", err)
	}
	if d := time.Since(start); d < opts.UploadTimeout-100*time.Millisecond || d > opts.UploadTimeout+opts.RequestTimeout {
		t.Errorf("PUT held for ever: took %v, want about UploadTimeout (%v)", d, opts.UploadTimeout)
	}
}
