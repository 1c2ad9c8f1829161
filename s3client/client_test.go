package s3client

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

// newTestClient starts an S3 stand-in that verifies each request's SigV4
// signature against what arrived on the wire, then hands it to h. opts
// gets the server's endpoint, the example credentials and a 1ms backoff.
func newTestClient(t *testing.T, h http.HandlerFunc, opts Options) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkSignature(r); err != nil {
			t.Errorf("%s %s: %v", r.Method, r.RequestURI, err)
			writeError(w, http.StatusForbidden, "SignatureDoesNotMatch")
			return
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	opts.Endpoint = srv.URL
	if opts.Credentials == (Credentials{}) {
		opts.Credentials = exampleCreds
	}
	if opts.RetryBase == 0 {
		opts.RetryBase = time.Millisecond
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkSignature recomputes the signature of r as received, the way S3
// does: the path and query exactly as sent, the headers named in
// SignedHeaders, the time in X-Amz-Date.
func checkSignature(r *http.Request) error {
	rest, ok := strings.CutPrefix(r.Header.Get("Authorization"), v4Algorithm+" ")
	if !ok {
		return fmt.Errorf("no SigV4 Authorization header")
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ", ") {
		k, v, _ := strings.Cut(f, "=")
		fields[k] = v
	}
	t, err := time.Parse(v4DateFormat, r.Header.Get("X-Amz-Date"))
	if err != nil {
		return err
	}
	if want := exampleAccessKey + "/" + v4Scope(t, "us-east-1"); fields["Credential"] != want {
		return fmt.Errorf("credential: got %v, want %v", fields["Credential"], want)
	}
	h := http.Header{}
	for _, name := range strings.Split(fields["SignedHeaders"], ";") {
		if name == "host" {
			h.Set("Host", r.Host)
			continue
		}
		h[http.CanonicalHeaderKey(name)] = r.Header.Values(name)
	}
	path, query, _ := strings.Cut(r.RequestURI, "?")
	canonical, signed := v4CanonicalRequest(v4Request{Method: r.Method, EscapedPath: path, RawQuery: query,
		Header: h, PayloadHash: r.Header.Get("X-Amz-Content-Sha256")})
	if signed != fields["SignedHeaders"] {
		return fmt.Errorf("signed headers: got %v, want %v", fields["SignedHeaders"], signed)
	}
	sig := v4Signature(v4SigningKey(exampleSecretKey, t, "us-east-1"), v4StringToSign(t, v4Scope(t, "us-east-1"), canonical))
	if fields["Signature"] != sig {
		return fmt.Errorf("signature mismatch; server's canonical request:\n%s", canonical)
	}
	return nil
}

// writeError answers like S3 does (HEAD responses lose the body).
func writeError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("X-Amz-Request-Id", "REQ-"+code)
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>m</Message></Error>`, code)
}

// fail is an error response: HTTP status and S3 code.
type fail struct {
	status int
	code   string
}

// failThenOK answers the first len(fails) requests with those errors and
// the rest with 200 "ok"; it counts requests in n.
func failThenOK(n *atomic.Int32, fails ...fail) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if i := int(n.Add(1)) - 1; i < len(fails) {
			writeError(w, fails[i].status, fails[i].code)
			return
		}
		io.WriteString(w, "ok")
	}
}

func TestNewRejectsBadEndpoints(t *testing.T) {
	for _, ep := range []string{"", "127.0.0.1:9000", "ftp://s3.example.com", "http://", "s3.example.com"} {
		if _, err := New(Options{Endpoint: ep}); err == nil {
			t.Errorf("New(%q): got no error, want one", ep)
		}
	}
}

func TestRetries(t *testing.T) {
	unavailable, slowDown := fail{503, "ServiceUnavailable"}, fail{503, "SlowDown"}
	tests := []struct {
		name         string
		fails        []fail
		wantRequests int32
		wantErr      error // nil: success
	}{
		{"503 twice then ok", []fail{unavailable, unavailable}, 3, nil},
		{"SlowDown twice then ok", []fail{slowDown, slowDown}, 3, nil},
		{"InternalError then ok", []fail{{500, "InternalError"}}, 2, nil},
		{"RequestTimeout then ok", []fail{{400, "RequestTimeout"}}, 2, nil},
		{"ClientDisconnected (MinIO shutting down) then ok", []fail{{499, "ClientDisconnected"}}, 2, nil},
		{"404 not retried", []fail{{404, "NoSuchKey"}}, 1, ErrNotFound},
		{"403 not retried", []fail{{403, "AccessDenied"}}, 1, ErrAccessDenied},
		{"412 not retried", []fail{{412, "PreconditionFailed"}}, 1, ErrPreconditionFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			c := newTestClient(t, failThenOK(&n, tt.fails...), Options{})
			rc, _, err := c.GetObject(context.Background(), "bkt", "k", 0, -1)
			if tt.wantErr == nil && err == nil {
				b, _ := io.ReadAll(rc)
				rc.Close()
				if string(b) != "ok" {
					t.Errorf("body: got %q, want %q", b, "ok")
				}
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error: got %v, want %v", err, tt.wantErr)
			}
			if got := n.Load(); got != tt.wantRequests {
				t.Errorf("requests: got %v, want %v", got, tt.wantRequests)
			}
		})
	}
}

func TestMaxRetries(t *testing.T) {
	for _, tt := range []struct{ maxRetries, wantRequests int32 }{{3, 4}, {1, 2}, {-1, 1}, {0, DefaultMaxRetries + 1}} {
		var n atomic.Int32
		c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			writeError(w, 503, "SlowDown")
		}, Options{MaxRetries: int(tt.maxRetries)})
		err := c.DeleteObject(context.Background(), "bkt", "k")
		var e *Error
		if !errors.As(err, &e) || e.Code != "SlowDown" || e.StatusCode != 503 {
			t.Errorf("MaxRetries %d: error: got %v, want SlowDown 503", tt.maxRetries, err)
		}
		if got := n.Load(); got != tt.wantRequests {
			t.Errorf("MaxRetries %d: requests: got %v, want %v", tt.maxRetries, got, tt.wantRequests)
		}
	}
}

func TestContextCanceledStopsRetries(t *testing.T) {
	var n atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		cancel()
		writeError(w, 503, "SlowDown")
	}, Options{RetryBase: time.Hour})
	if err := c.DeleteObject(ctx, "bkt", "k"); err == nil {
		t.Fatal("got no error, want one")
	}
	if got := n.Load(); got != 1 {
		t.Errorf("requests: got %v, want 1", got)
	}
}

// attempt is what the server saw of one PUT besides its body.
type attempt struct {
	md5, expect, sha, contentType string
	length                        int64
}

func TestPutObjectRetryReplaysBody(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	sum := md5.Sum(payload)
	want := attempt{base64.StdEncoding.EncodeToString(sum[:]), "100-continue", unsignedPayload,
		"application/octet-stream", int64(len(payload))}
	var mu sync.Mutex
	var got []attempt
	var bodies [][]byte
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, attempt{r.Header.Get("Content-Md5"), r.Header.Get("Expect"),
			r.Header.Get("X-Amz-Content-Sha256"), r.Header.Get("Content-Type"), r.ContentLength})
		if len(got) != 2 { // the second attempt is refused before its body is read
			b, _ := io.ReadAll(r.Body)
			bodies = append(bodies, b)
		}
		if len(got) < 3 {
			writeError(w, 503, "SlowDown")
			return
		}
		w.Header().Set("ETag", `"etag"`)
	}, Options{})
	etag, err := c.PutObject(context.Background(), "bkt", "dir/f", bytes.NewReader(payload), int64(len(payload)),
		PutOptions{Metadata: map[string]string{"mode": "644"}})
	if err != nil {
		t.Fatal(err)
	}
	if etag != `"etag"` {
		t.Errorf("etag: got %v, want %v", etag, `"etag"`)
	}
	if len(got) != 3 || len(bodies) != 2 {
		t.Fatalf("attempts, bodies read: got %v %v, want 3 2", len(got), len(bodies))
	}
	for i, a := range got {
		if a != want {
			t.Errorf("attempt %d: got %+v, want %+v", i, a, want)
		}
	}
	for i, b := range bodies {
		if !bytes.Equal(b, payload) {
			t.Errorf("body %d: got %d bytes that differ from the %d-byte payload", i, len(b), len(payload))
		}
	}
}

func TestPutObjectEmpty(t *testing.T) {
	var sawLength, sawExpect string
	var length int64
	var encoding []string
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		sawLength, sawExpect = r.Header.Get("Content-Length"), r.Header.Get("Expect")
		length, encoding = r.ContentLength, r.TransferEncoding
		if r.Header.Get("Content-Md5") != "1B2M2Y8AsgTpgAmY7PhCfg==" || r.Header.Get("X-Amz-Content-Sha256") != emptyPayloadHash {
			t.Errorf("empty body: got Content-MD5 %q, x-amz-content-sha256 %q", r.Header.Get("Content-Md5"), r.Header.Get("X-Amz-Content-Sha256"))
		}
	}, Options{})
	if _, err := c.PutObject(context.Background(), "bkt", "dir/", bytes.NewReader(nil), 0, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if sawLength != "0" || length != 0 || len(encoding) != 0 {
		t.Errorf("got Content-Length %q (%d), Transfer-Encoding %v, want \"0\" and none", sawLength, length, encoding)
	}
	if sawExpect != "" {
		t.Errorf("Expect: got %q, want none", sawExpect)
	}
}

// skewServer refuses requests signed more than 15 minutes from its clock,
// as S3 does; it counts refusals and successes.
func skewServer(refused, served *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		signed, _ := time.Parse(v4DateFormat, r.Header.Get("X-Amz-Date"))
		if d := time.Since(signed); d > 15*time.Minute || d < -15*time.Minute {
			refused.Add(1)
			writeError(w, http.StatusForbidden, "RequestTimeTooSkewed")
			return
		}
		served.Add(1)
	}
}

func TestClockSkewCorrected(t *testing.T) {
	// A HEAD 403 has no body to name RequestTimeTooSkewed; the first call
	// of a mount is HeadBucket.
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		t.Run(method, func(t *testing.T) {
			var refused, served atomic.Int32
			logger, hook := test.NewNullLogger()
			c := newTestClient(t, skewServer(&refused, &served), Options{
				Now: func() time.Time { return time.Now().Add(-20 * time.Minute) },
				Log: logrus.NewEntry(logger),
			})
			call := func() error {
				if method == http.MethodHead {
					return c.HeadBucket(context.Background(), "bkt")
				}
				rc, _, err := c.GetObject(context.Background(), "bkt", "k", 0, -1)
				if err == nil {
					drain(&http.Response{Body: rc})
				}
				return err
			}
			for i := range 4 {
				if err := call(); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			if got, want := [2]int32{refused.Load(), served.Load()}, [2]int32{1, 4}; got != want {
				t.Errorf("refused, served: got %v, want %v", got, want)
			}
			var warnings []string
			for _, e := range hook.AllEntries() {
				if e.Level == logrus.WarnLevel {
					warnings = append(warnings, e.Message)
				}
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0], "clock skew") {
				t.Errorf("warnings: got %q, want one about clock skew", warnings)
			}
		})
	}
}

func TestKeyEscapingOnTheWire(t *testing.T) {
	tests := []struct{ key, wantURI string }{
		{"plain.txt", "/bkt/plain.txt"},
		{"dir/a b.txt", "/bkt/dir/a%20b.txt"},
		{"a+b=c&d?e#f", "/bkt/a%2Bb%3Dc%26d%3Fe%23f"},
		{"100%/x", "/bkt/100%25/x"},
		{"%2F", "/bkt/%252F"},
		{"é/雪", "/bkt/%C3%A9/%E9%9B%AA"},
		{"~!*'()$", "/bkt/~%21%2A%27%28%29%24"},
		{";:@,[]", "/bkt/%3B%3A%40%2C%5B%5D"},
		{"a/./b/../c", "/bkt/a/./b/../c"},
		{"a//b", "/bkt/a//b"},
		{"dir/", "/bkt/dir/"},
	}
	for _, tt := range tests {
		var uri, path string
		c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			uri, path = r.RequestURI, r.URL.Path
		}, Options{})
		if err := c.DeleteObject(context.Background(), "bkt", tt.key); err != nil {
			t.Errorf("key %q: %v", tt.key, err)
			continue
		}
		if uri != tt.wantURI {
			t.Errorf("key %q: request URI: got %v, want %v", tt.key, uri, tt.wantURI)
		}
		if path != "/bkt/"+tt.key {
			t.Errorf("key %q: decoded path: got %v, want %v", tt.key, path, "/bkt/"+tt.key)
		}
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	logger := logrus.New()
	var buf bytes.Buffer
	logger.SetOutput(&buf)
	logger.SetLevel(logrus.DebugLevel)
	cred := exampleCreds
	cred.SessionToken = "SESSION-TOKEN-SECRET"
	var n atomic.Int32
	log := logger.WithField("component", "s3client")
	c := newTestClient(t, failThenOK(&n, fail{503, "SlowDown"}), Options{Credentials: cred, Log: log})
	if err := c.DeleteObject(context.Background(), "bkt", "k"); err != nil {
		t.Fatal(err)
	}
	rc, _, err := c.GetObject(context.Background(), "bkt", "k", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	// A transport error is logged too: a server that is gone.
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	dead, err := New(Options{Endpoint: gone.URL, Credentials: cred, Log: log, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := dead.DeleteObject(context.Background(), "bkt", "k"); err == nil {
		t.Fatal("DeleteObject on a closed server: got no error, want one")
	}
	logs := buf.String()
	if !strings.Contains(logs, "s3 request") || !strings.Contains(logs, "retrying") || !strings.Contains(logs, "request failed") {
		t.Fatalf("debug logs are missing; got:\n%s", logs)
	}
	for _, secret := range []string{exampleSecretKey, cred.SessionToken, "Authorization", "Signature=", v4Algorithm} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
}

func TestGetObjectRange(t *testing.T) {
	tests := []struct {
		offset, length int64
		wantRange      string
	}{
		{0, -1, ""},
		{10, -1, "bytes=10-"},
		{0, 10, "bytes=0-9"},
		{100, 5, "bytes=100-104"},
	}
	for _, tt := range tests {
		var got string
		c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			got = r.Header.Get("Range")
			w.Header().Set("Content-Range", "bytes 0-1/1234")
			w.Header().Set("X-Amz-Meta-Mode", "0644")
			io.WriteString(w, "ab")
		}, Options{})
		rc, info, err := c.GetObject(context.Background(), "bkt", "k", tt.offset, tt.length)
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
		if got != tt.wantRange {
			t.Errorf("offset %d length %d: Range: got %q, want %q", tt.offset, tt.length, got, tt.wantRange)
		}
		if info.Size != 1234 || info.Metadata["mode"] != "0644" {
			t.Errorf("info: got size %d metadata %v, want 1234 and mode 0644", info.Size, info.Metadata)
		}
	}

	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusRequestedRangeNotSatisfiable, "InvalidRange")
	}, Options{})
	rc, _, err := c.GetObject(context.Background(), "bkt", "k", 5000, 10)
	if err != nil {
		t.Fatalf("read past the end: got %v, want an empty reader", err)
	}
	if b, _ := io.ReadAll(rc); len(b) != 0 {
		t.Errorf("read past the end: got %q, want nothing", b)
	}
}
