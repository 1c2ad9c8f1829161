package faultproxy_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/test/faultproxy"
)

// seen is what a backend saw of one request.
type seen struct {
	host, uri string
	header    http.Header
	body      []byte
}

// TestForwardPreserves checks that the backend gets the request as the
// client signed it and the client gets the response as the backend sent it.
func TestForwardPreserves(t *testing.T) {
	var mu sync.Mutex // protects got
	var got seen
	p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = seen{r.Host, r.RequestURI, r.Header.Clone(), b}
		mu.Unlock()
		w.Header().Set("ETag", `"abc"`)
		w.Header().Set("X-Amz-Request-Id", "req-1")
		w.Header().Add("X-Amz-Meta-Two", "1")
		w.Header().Add("X-Amz-Meta-Two", "2")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "answer:"+string(b))
	}))
	c := newClient(t, 5*time.Second)
	for _, uri := range []string{
		"/bucket/a%20b/c%2Bd?partNumber=1&uploadId=x%2Fy%3D",
		"/bucket/%41%7e!$&'()*,;=:@/x", // needless escapes stay
		"/bucket/k?x-id=PutObject&empty=&q=a+b%2B",
		"/bucket/dir/",
	} {
		body := []byte("payload for " + uri)
		req, err := http.NewRequest("PUT", p.URL()+uri, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "s3.example.test:9000"
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00")
		req.Header.Set("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg==")
		req.Header.Set("X-Amz-Date", "20250101T000000Z")
		req.Header.Set("Expect", "100-continue")
		req.Header.Set("User-Agent", "bucketfs")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}

		mu.Lock()
		g := got
		mu.Unlock()
		if g.host != req.Host || g.uri != uri {
			t.Errorf("backend saw Host %q, URI %q; want %q, %q", g.host, g.uri, req.Host, uri)
		}
		for _, k := range []string{"Authorization", "Content-Md5", "X-Amz-Date", "Expect", "User-Agent"} {
			if g.header.Get(k) != req.Header.Get(k) {
				t.Errorf("%s: backend saw %q, want %q", k, g.header.Get(k), req.Header.Get(k))
			}
		}
		if g.header.Get("Accept-Encoding") != "" || g.header.Get("X-Forwarded-For") != "" {
			t.Errorf("proxy added headers: %v", g.header)
		}
		if !bytes.Equal(g.body, body) {
			t.Errorf("backend got body %q, want %q", g.body, body)
		}
		if resp.StatusCode != http.StatusCreated || string(answer) != "answer:"+string(body) {
			t.Errorf("client got %d %q", resp.StatusCode, answer)
		}
		if resp.Header.Get("ETag") != `"abc"` || resp.Header.Get("X-Amz-Request-Id") != "req-1" ||
			len(resp.Header.Values("X-Amz-Meta-Two")) != 2 {
			t.Errorf("client got headers %v", resp.Header)
		}
	}
	if n := p.Requests(faultproxy.UploadPart) + p.Requests(faultproxy.PutObject) + p.Requests(faultproxy.Other); n != 4 {
		t.Errorf("proxy counted %d requests, want 4: %+v", n, p.Stats())
	}
}

// TestKeepAlive checks that the proxy reuses its connection to the backend.
func TestKeepAlive(t *testing.T) {
	var mu sync.Mutex // protects addrs
	addrs := map[string]bool{}
	p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		addrs[r.RemoteAddr] = true
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	c := newClient(t, 5*time.Second)
	for range 10 {
		resp, err := c.Get(p.URL() + "/b/k")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if len(addrs) != 1 {
		t.Errorf("10 sequential requests came over %d backend connections, want 1", len(addrs))
	}
}

// streamSize is the size of the bodies TestStreaming sends both ways.
const streamSize = 64 << 20

// TestStreaming sends 64 MiB each way and checks that the bytes arrive
// intact and that the proxy did not hold them in memory.
func TestStreaming(t *testing.T) {
	chunk := pattern(1 << 20)
	want := sha256.New()
	for range streamSize / len(chunk) {
		want.Write(chunk)
	}
	wantSum := want.Sum(nil)

	var mu sync.Mutex // protects putSum
	var putSum []byte
	p := startProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			h := sha256.New()
			io.Copy(h, r.Body)
			mu.Lock()
			putSum = h.Sum(nil)
			mu.Unlock()
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(streamSize))
		for range streamSize / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	c := newClient(t, 30*time.Second)

	measure := func(what string, f func()) {
		t.Helper()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		grown := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: %d KiB allocated", what, grown>>10)
		if grown > streamSize/4 {
			t.Errorf("%s of %d MiB allocated %d MiB: buffered?", what, streamSize>>20, grown>>20)
		}
	}
	measure("GET", func() {
		resp, err := c.Get(p.URL() + "/b/big")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		h := sha256.New()
		if n, err := io.Copy(h, resp.Body); err != nil || n != streamSize {
			t.Fatalf("GET read %d bytes, %v", n, err)
		}
		if !bytes.Equal(h.Sum(nil), wantSum) {
			t.Error("GET body differs")
		}
	})
	measure("PUT", func() {
		body := io.MultiReader(repeat(chunk, streamSize/len(chunk))...)
		req, _ := http.NewRequest("PUT", p.URL()+"/b/big", body)
		req.ContentLength = streamSize
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
	mu.Lock()
	defer mu.Unlock()
	if !bytes.Equal(putSum, wantSum) {
		t.Error("PUT body differs")
	}
}

// repeat returns n readers of b.
func repeat(b []byte, n int) []io.Reader {
	rs := make([]io.Reader, n)
	for i := range rs {
		rs[i] = bytes.NewReader(b)
	}
	return rs
}
