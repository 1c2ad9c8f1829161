package s3client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rangeObject is a stand-in object served with ranges, ETag and If-Match.
type rangeObject struct {
	mu    sync.Mutex // protects the fields below
	data  []byte
	etag  string
	gets  []string // Range and If-Match of each GET, "range|if-match"
	fault func(w http.ResponseWriter, r *http.Request, n int) bool
}

func (o *rangeObject) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.gets = append(o.gets, r.Header.Get("Range")+"|"+r.Header.Get("If-Match"))
	n, data, etag, fault := len(o.gets), o.data, o.etag, o.fault
	o.mu.Unlock()
	if fault != nil && fault(w, r, n) {
		return
	}
	if im := r.Header.Get("If-Match"); im != "" && im != `"`+etag+`"` {
		writeError(w, http.StatusPreconditionFailed, "PreconditionFailed")
		return
	}
	var first, last int64
	if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &first, &last); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	size := int64(len(data))
	if first >= size {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		writeError(w, http.StatusRequestedRangeNotSatisfiable, "InvalidRange")
		return
	}
	last = min(last, size-1)
	w.Header().Set("ETag", `"`+etag+`"`)
	w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, size))
	w.Header().Set("Content-Length", fmt.Sprint(last-first+1))
	w.WriteHeader(http.StatusPartialContent)
	w.Write(data[first : last+1])
}

// cut answers with the headers of the whole range and half the body,
// then closes the connection.
func cut(w http.ResponseWriter, r *http.Request, data []byte) {
	var first, last int64
	fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &first, &last)
	last = min(last, int64(len(data))-1)
	w.Header().Set("ETag", `"v1"`)
	w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(data)))
	w.Header().Set("Content-Length", fmt.Sprint(last-first+1))
	w.WriteHeader(http.StatusPartialContent)
	w.Write(data[first : first+(last-first+1)/2])
	w.(http.Flusher).Flush()
	conn, _, _ := w.(http.Hijacker).Hijack()
	conn.Close()
}

func testData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestReadObjectExact(t *testing.T) {
	data := testData(100000)
	tests := []struct {
		name      string
		off       int64
		n         int
		wantN     int
		wantSize  int64
		wantFirst string // the first GET's Range|If-Match
	}{
		{"middle", 1000, 5000, 5000, 100000, "bytes=1000-5999|"},
		{"to the end", 99000, 5000, 1000, 100000, "bytes=99000-103999|"},
		{"past the end", 100000, 10, 0, 0, "bytes=100000-100009|"},
	}
	for _, tt := range tests {
		o := &rangeObject{data: data, etag: "v1"}
		c := newTestClient(t, o.serve, Options{})
		p := make([]byte, tt.n)
		n, info, err := c.ReadObject(context.Background(), "bkt", "k", tt.off, p, GetOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if n != tt.wantN || !bytes.Equal(p[:n], data[tt.off:tt.off+int64(n)]) {
			t.Errorf("%s: got %d bytes (equal %v), want %d", tt.name, n, bytes.Equal(p[:n], data[tt.off:tt.off+int64(n)]), tt.wantN)
		}
		if tt.wantSize > 0 && (info == nil || info.Size != tt.wantSize || info.ETag != `"v1"`) {
			t.Errorf("%s: info: got %+v, want size %d and ETag v1", tt.name, info, tt.wantSize)
		}
		if len(o.gets) != 1 || o.gets[0] != tt.wantFirst {
			t.Errorf("%s: GETs: got %q, want one %q", tt.name, o.gets, tt.wantFirst)
		}
	}
}

// A body cut after its headers is never taken for the end of the object:
// the rest is asked for again, pinned to the first answer's version.
func TestReadObjectShortBodyResumed(t *testing.T) {
	data := testData(1 << 20)
	o := &rangeObject{data: data, etag: "v1"}
	o.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n <= 2 {
			cut(w, r, data)
			return true
		}
		return false
	}
	c := newTestClient(t, o.serve, Options{})
	p := make([]byte, 1<<20)
	n, _, err := c.ReadObject(context.Background(), "bkt", "k", 0, p, GetOptions{})
	if err != nil || n != len(p) || !bytes.Equal(p, data) {
		t.Fatalf("got %d bytes (equal %v), err %v; want all %d", n, bytes.Equal(p[:n], data[:n]), err, len(p))
	}
	if len(o.gets) != 3 {
		t.Fatalf("GETs: got %q, want 3", o.gets)
	}
	// The first answer had half of 0-1048575, the second half of the rest.
	want := []string{"bytes=0-1048575|", `bytes=524288-1048575|"v1"`, `bytes=786432-1048575|"v1"`}
	for i := range want {
		if o.gets[i] != want[i] {
			t.Errorf("GET %d: got %q, want %q", i+1, o.gets[i], want[i])
		}
	}
}

// A body that keeps breaking fails the read after the retries: never a
// short read that looks like the end.
func TestReadObjectShortBodyGivesUp(t *testing.T) {
	data := testData(64 << 10)
	o := &rangeObject{data: data, etag: "v1"}
	o.fault = func(w http.ResponseWriter, r *http.Request, n int) bool { cut(w, r, data); return true }
	c := newTestClient(t, o.serve, Options{MaxRetries: 3})
	p := make([]byte, len(data))
	_, _, err := c.ReadObject(context.Background(), "bkt", "k", 0, p, GetOptions{})
	if err == nil || !errors.Is(err, errShortBody) {
		t.Fatalf("got %v, want a short body error", err)
	}
	if len(o.gets) != 4 {
		t.Errorf("GETs: got %d, want 4 (one and 3 retries)", len(o.gets))
	}
}

// A version pinned with If-Match that changed is ErrPreconditionFailed,
// at once: never the new object's bytes.
func TestReadObjectIfMatch(t *testing.T) {
	o := &rangeObject{data: testData(1000), etag: "v2"}
	c := newTestClient(t, o.serve, Options{})
	p := make([]byte, 100)
	_, _, err := c.ReadObject(context.Background(), "bkt", "k", 0, p, GetOptions{IfMatch: `"v1"`})
	if !errors.Is(err, ErrPreconditionFailed) {
		t.Fatalf("got %v, want ErrPreconditionFailed", err)
	}
	if len(o.gets) != 1 || o.gets[0] != `bytes=0-99|"v1"` {
		t.Errorf("GETs: got %q, want one with If-Match \"v1\"", o.gets)
	}
	if _, _, err := c.ReadObject(context.Background(), "bkt", "k", 0, p, GetOptions{IfMatch: "v2"}); err != nil {
		t.Errorf("unquoted If-Match of the current version: %v", err)
	}
}

// An answer for another range than asked is an error, not data.
func TestReadObjectWrongRange(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Range", "bytes 0-9/1000")
		w.WriteHeader(http.StatusPartialContent)
		w.Write(make([]byte, 10))
	}, Options{})
	_, _, err := c.ReadObject(context.Background(), "bkt", "k", 500, make([]byte, 10), GetOptions{})
	if err == nil || !strings.Contains(err.Error(), "Content-Range") {
		t.Fatalf("got %v, want an error naming the Content-Range", err)
	}
}

// A body that stops arriving fails the attempt after IdleTimeout and is
// retried; a request whose answer never comes fails by RequestTimeout.
func TestStalls(t *testing.T) {
	data := testData(100000)
	o := &rangeObject{data: data, etag: "v1"}
	release := make(chan struct{})
	defer close(release)
	o.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.Method == http.MethodHead {
			<-release // never answers
			return true
		}
		if n == 1 {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-99999/%d", len(data)))
			w.Header().Set("Content-Length", "100000")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[:1000])
			w.(http.Flusher).Flush()
			<-release // the rest never comes
			return true
		}
		return false
	}
	c := newTestClient(t, o.serve, Options{IdleTimeout: 200 * time.Millisecond, RequestTimeout: 500 * time.Millisecond})
	start := time.Now()
	p := make([]byte, len(data))
	n, _, err := c.ReadObject(context.Background(), "bkt", "k", 0, p, GetOptions{})
	if err != nil || n != len(data) || !bytes.Equal(p, data) {
		t.Fatalf("stalled body: got %d bytes, %v; want all after a retry", n, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
		t.Errorf("stalled body: took %v, want about the idle timeout", d)
	}
	if len(o.gets) != 2 {
		t.Errorf("GETs: got %q, want 2", o.gets)
	}

	start = time.Now()
	_, err = c.HeadObject(context.Background(), "bkt", "k")
	var netErr net.Error
	if !errors.Is(err, ErrStalled) && !errors.As(err, &netErr) {
		t.Errorf("HEAD without an answer: got %v, want a stall", err)
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 3*time.Second {
		t.Errorf("HEAD without an answer: took %v, want about RequestTimeout (500ms)", d)
	}
}

// An upload whose body cannot be sent (the server reads nothing) fails
// within the idle timeout instead of hanging.
func TestUploadStall(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusContinue) // ask for the body, then never read it
		<-release
	}, Options{IdleTimeout: 300 * time.Millisecond, RequestTimeout: 300 * time.Millisecond, MaxRetries: 1})
	body := bytes.NewReader(make([]byte, 64<<20))
	start := time.Now()
	_, err := c.PutObject(context.Background(), "bkt", "k", body, body.Size(), PutOptions{})
	if !errors.Is(err, ErrStalled) {
		t.Fatalf("got %v, want a stall", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v, want a few idle timeouts", d)
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in                 string
		first, last, total int64
		ok                 bool
	}{
		{"bytes 0-9/100", 0, 9, 100, true},
		{"bytes 5-5/*", 5, 5, -1, true},
		{"bytes */100", 0, 0, 0, false},
		{"0-9/100", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	}
	for _, tt := range tests {
		f, l, n, ok := parseContentRange(tt.in)
		if ok != tt.ok || ok && (f != tt.first || l != tt.last || n != tt.total) {
			t.Errorf("%q: got %d %d %d %v, want %d %d %d %v", tt.in, f, l, n, ok, tt.first, tt.last, tt.total, tt.ok)
		}
	}
}

// A server that takes a request's body and then holds the answer (a
// node of a distributed MinIO waiting on a dead peer) costs one attempt,
// a third of RequestTimeout: the retry, answered at once, succeeds
// within the call's budget. A copy may wait for its answer until the
// deadline.
func TestHeldAnswerRetried(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var mu sync.Mutex
	puts := 0
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		puts++
		n := puts
		mu.Unlock()
		if n == 1 {
			<-release // holds the first answer
			return
		}
		w.Header().Set("ETag", `"e"`)
	}, Options{RequestTimeout: 900 * time.Millisecond, RetryBase: 10 * time.Millisecond})
	start := time.Now()
	body := bytes.NewReader([]byte("data"))
	if _, err := c.PutObject(context.Background(), "bkt", "k", body, body.Size(), PutOptions{}); err != nil {
		t.Fatalf("PUT whose first answer is held: %v, want success on the retry", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 800*time.Millisecond {
		t.Errorf("PUT whose first answer is held: took %v, want about a third of RequestTimeout (300ms)", d)
	}
	if puts != 2 {
		t.Errorf("PUT attempts: %d, want 2", puts)
	}
	if w := c.answerWait(&request{op: "CopyObject"}, time.Now().Add(time.Minute)); w < 59*time.Second {
		t.Errorf("a copy's answer wait: %v, want the rest of its deadline", w)
	}
}

// A server whose connections close before any answer (a load balancer
// with every backend down) makes ReadObject fail, however the transport
// words it ("EOF" included): never a read of 0 bytes that looks like the
// end of the object.
func TestReadObjectClosedConnections(t *testing.T) {
	var gets atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
	}, Options{RequestTimeout: 2 * time.Second, MaxRetries: 2, RetryBase: time.Millisecond})
	p := make([]byte, 100)
	n, _, err := c.ReadObject(context.Background(), "bkt", "k", 0, p, GetOptions{})
	if err == nil || n != 0 {
		t.Fatalf("ReadObject with every connection closed: got %d bytes, %v; want an error", n, err)
	}
	if errors.Is(err, ErrNotFound) {
		t.Errorf("ReadObject with every connection closed: %v, want a transport error", err)
	}
	if n := gets.Load(); n < 2 {
		t.Errorf("GETs: %d, want the retries", n)
	}
}
