package s3client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

// v4Unsupported is what a SigV2-only server says of a SigV4 request.
const v4Unsupported = "AWS4-HMAC-SHA256 not supported"

// sigLog records the signature version ("v4", "v2" or "none") of each
// request a fake server saw, in order.
type sigLog struct {
	mu   sync.Mutex
	sigs []string
}

func (l *sigLog) add(r *http.Request) string {
	sig := "none"
	switch auth := r.Header.Get("Authorization"); {
	case strings.HasPrefix(auth, v4Algorithm+" "):
		sig = "v4"
	case strings.HasPrefix(auth, "AWS "):
		sig = "v2"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sigs = append(l.sigs, sig)
	return sig
}

func (l *sigLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.sigs...)
}

// writeS3Error answers like S3 does, with a message (HEAD answers lose the
// body, as they do from S3).
func writeS3Error(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, message)
}

// checkV2Signature recomputes the SigV2 signature of r as received.
func checkV2Signature(r *http.Request) error {
	path, _, _ := strings.Cut(r.RequestURI, "?")
	want := signV2(v2Request{Method: r.Method, Resource: path, Query: r.URL.Query(), Header: r.Header}, exampleCreds)
	if got := r.Header.Get("Authorization"); got != want {
		return fmt.Errorf("SigV2 Authorization: got %q, want %q", got, want)
	}
	return nil
}

// answerOK answers a request the fake servers accept: an empty listing
// for a bucket GET, "ok" for an object GET, an ETag for a PUT.
func answerOK(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Query().Has("list-type"):
		io.WriteString(w, `<ListBucketResult><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>`)
	case r.Method == http.MethodGet:
		io.WriteString(w, "ok")
	case r.Method == http.MethodPut:
		io.Copy(io.Discard, r.Body)
		w.Header().Set("ETag", `"etag"`)
	}
}

// newSigClient returns a client signing with sig of a fake server that
// answers with h, and the hook that holds its logs.
func newSigClient(t *testing.T, sig string, h http.HandlerFunc) (*Client, *test.Hook) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	logger, hook := test.NewNullLogger()
	c, err := New(Options{Endpoint: srv.URL, Signature: sig, Credentials: exampleCreds,
		RetryBase: time.Millisecond, Log: logrus.NewEntry(logger)})
	if err != nil {
		t.Fatal(err)
	}
	return c, hook
}

// v2OnlyServer rejects every SigV4 request with 400 InvalidArgument and
// serves correctly signed SigV2 requests.
func v2OnlyServer(t *testing.T, log *sigLog) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch log.add(r) {
		case "v4":
			writeS3Error(w, http.StatusBadRequest, "InvalidArgument", v4Unsupported)
		case "v2":
			if err := checkV2Signature(r); err != nil {
				t.Errorf("%s %s: %v", r.Method, r.RequestURI, err)
				writeS3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "m")
				return
			}
			answerOK(w, r)
		default:
			writeS3Error(w, http.StatusForbidden, "AccessDenied", "m")
		}
	}
}

// sigCalls are the calls the signature tests make, by name.
var sigCalls = map[string]func(c *Client) error{
	"HeadBucket": func(c *Client) error { return c.HeadBucket(context.Background(), "bkt") },
	"HeadObject": func(c *Client) error {
		_, err := c.HeadObject(context.Background(), "bkt", "dir/a b+c")
		return err
	},
	"GetObject": func(c *Client) error {
		rc, _, err := c.GetObject(context.Background(), "bkt", "dir/a b+c", 0, -1)
		if err == nil {
			rc.Close()
		}
		return err
	},
	"PutObject": func(c *Client) error {
		_, err := c.PutObject(context.Background(), "bkt", "dir/f", strings.NewReader("data"), 4, PutOptions{})
		return err
	},
	"ListObjects": func(c *Client) error {
		_, err := c.ListObjects(context.Background(), "bkt", ListInput{Prefix: "dir/", Delimiter: "/"})
		return err
	},
}

// warnings returns the messages of the warnings in hook.
func warnings(hook *test.Hook) []string {
	var w []string
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.WarnLevel {
			w = append(w, e.Message)
		}
	}
	return w
}

func TestSignatureAutoFallsBackToV2(t *testing.T) {
	// A mount's first call is HeadBucket, whose 400 has no body to name
	// the error; the other first calls see InvalidArgument.
	for _, first := range []string{"HeadBucket", "HeadObject", "GetObject", "PutObject", "ListObjects"} {
		t.Run(first, func(t *testing.T) {
			var log sigLog
			c, hook := newSigClient(t, SignatureAuto, v2OnlyServer(t, &log))
			if err := sigCalls[first](c); err != nil {
				t.Fatalf("first call: %v", err)
			}
			for _, name := range []string{"HeadBucket", "HeadObject", "GetObject", "PutObject", "ListObjects"} {
				if err := sigCalls[name](c); err != nil {
					t.Errorf("%s after the fallback: %v", name, err)
				}
			}
			want := []string{"v4", "v2", "v2", "v2", "v2", "v2", "v2"}
			if got := log.all(); !slices.Equal(got, want) {
				t.Errorf("signatures: got %v, want %v", got, want)
			}
			if w := warnings(hook); len(w) != 1 || !strings.Contains(w[0], "SigV2") {
				t.Errorf("warnings: got %q, want one about SigV2", w)
			}
		})
	}
}

func TestSignatureV4AgainstV2OnlyServer(t *testing.T) {
	var log sigLog
	c, hook := newSigClient(t, SignatureV4, v2OnlyServer(t, &log))
	err := sigCalls["GetObject"](c)
	var e *Error
	if !errors.As(err, &e) || e.Code != "InvalidArgument" || e.StatusCode != http.StatusBadRequest ||
		e.Message != v4Unsupported || e.Bucket != "bkt" || e.Key != "dir/a b+c" {
		t.Errorf("GetObject: got %v, want an *Error InvalidArgument (HTTP 400) %q for bkt/dir/a b+c", err, v4Unsupported)
	}
	err = sigCalls["HeadBucket"](c)
	if !errors.As(err, &e) || e.StatusCode != http.StatusBadRequest || e.Bucket != "bkt" {
		t.Errorf("HeadBucket: got %v, want an *Error with HTTP 400 for bkt", err)
	}
	if got, want := log.all(), []string{"v4", "v4"}; !slices.Equal(got, want) {
		t.Errorf("signatures: got %v, want %v (no retries, no SigV2)", got, want)
	}
	if w := warnings(hook); len(w) != 0 {
		t.Errorf("warnings: got %q, want none", w)
	}
}

func TestSignatureV2AgainstV2OnlyServer(t *testing.T) {
	var log sigLog
	c, _ := newSigClient(t, SignatureV2, v2OnlyServer(t, &log))
	for _, name := range []string{"HeadBucket", "GetObject", "PutObject"} {
		if err := sigCalls[name](c); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if got, want := log.all(), []string{"v2", "v2", "v2"}; !slices.Equal(got, want) {
		t.Errorf("signatures: got %v, want %v", got, want)
	}
}

func TestSignatureAutoKeepsV4AfterSuccess(t *testing.T) {
	// The server takes SigV4, so a later InvalidRequest or
	// InvalidArgument (or a HEAD's bare 400) is about that request.
	for _, tt := range []struct {
		later, code string
	}{
		{"GetObject", "InvalidRequest"},
		{"GetObject", "InvalidArgument"},
		{"PutObject", "InvalidRequest"},
		{"HeadObject", "InvalidRequest"},
	} {
		t.Run(tt.later+" "+tt.code, func(t *testing.T) {
			var mu sync.Mutex
			var auth []string // the Authorization of each request
			c, hook := newSigClient(t, SignatureAuto, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				auth = append(auth, r.Header.Get("Authorization"))
				i := len(auth)
				mu.Unlock()
				if err := checkSignature(r); err != nil {
					t.Errorf("request %d: %v", i, err)
					writeS3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "m")
					return
				}
				if i == 2 {
					writeS3Error(w, http.StatusBadRequest, tt.code, "bad request")
					return
				}
				answerOK(w, r)
			})
			if err := sigCalls["HeadBucket"](c); err != nil {
				t.Fatalf("first call: %v", err)
			}
			err := sigCalls[tt.later](c)
			var e *Error
			if !errors.As(err, &e) || e.StatusCode != http.StatusBadRequest {
				t.Fatalf("%s: got %v, want an *Error with HTTP 400", tt.later, err)
			}
			if tt.later != "HeadObject" && e.Code != tt.code {
				t.Errorf("%s: got code %q, want %q", tt.later, e.Code, tt.code)
			}
			for _, name := range []string{"GetObject", "HeadBucket"} {
				if err := sigCalls[name](c); err != nil {
					t.Errorf("%s after the error: %v", name, err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(auth) != 4 {
				t.Fatalf("requests: got %d, want 4 (no retry of the 400, no SigV2 probe)", len(auth))
			}
			for i, a := range auth {
				if !strings.HasPrefix(a, v4Algorithm+" ") {
					t.Errorf("request %d: Authorization: got %q, want the %s prefix", i+1, a, v4Algorithm)
				}
			}
			if w := warnings(hook); len(w) != 0 {
				t.Errorf("warnings: got %q, want none", w)
			}
		})
	}
}

func TestSignatureAutoHeadBadRequestKeepsV4(t *testing.T) {
	// A server that takes SigV4 (and refuses SigV2, as AWS does) answers a
	// HEAD with a bare 400: the SigV2 probe fails too, so the client stays
	// with SigV4 and reports the first error.
	var log sigLog
	c, hook := newSigClient(t, SignatureAuto, func(w http.ResponseWriter, r *http.Request) {
		switch log.add(r) {
		case "v2":
			writeS3Error(w, http.StatusBadRequest, "InvalidRequest", "Please use "+v4Algorithm)
		case "v4":
			if err := checkSignature(r); err != nil {
				t.Errorf("%s %s: %v", r.Method, r.RequestURI, err)
			}
			if r.Method == http.MethodHead {
				writeS3Error(w, http.StatusBadRequest, "InvalidBucketName", "m")
				return
			}
			answerOK(w, r)
		}
	})
	err := sigCalls["HeadBucket"](c)
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusBadRequest || e.Op != "HeadBucket" {
		t.Errorf("HeadBucket: got %v, want the HeadBucket's HTTP 400", err)
	}
	if err := sigCalls["GetObject"](c); err != nil {
		t.Errorf("GetObject: %v", err)
	}
	if got, want := log.all(), []string{"v4", "v2", "v4"}; !slices.Equal(got, want) {
		t.Errorf("signatures: got %v, want %v (one SigV2 probe, then SigV4 again)", got, want)
	}
	if w := warnings(hook); len(w) != 0 {
		t.Errorf("warnings: got %q, want none", w)
	}
}

func TestSignatureAutoFallsBackOnMissingKey(t *testing.T) {
	// The SigV2 probe of a HEAD that finds nothing shows SigV2 works: the
	// client switches and reports the 404.
	var log sigLog
	v2only := v2OnlyServer(t, &log)
	c, hook := newSigClient(t, SignatureAuto, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("Authorization"), "AWS ") && r.Method == http.MethodHead {
			log.add(r)
			w.WriteHeader(http.StatusNotFound)
			return
		}
		v2only(w, r)
	})
	if _, err := c.HeadObject(context.Background(), "bkt", "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("HeadObject: got %v, want ErrNotFound", err)
	}
	if err := sigCalls["GetObject"](c); err != nil {
		t.Errorf("GetObject: %v", err)
	}
	if got, want := log.all(), []string{"v4", "v2", "v2"}; !slices.Equal(got, want) {
		t.Errorf("signatures: got %v, want %v", got, want)
	}
	if w := warnings(hook); len(w) != 1 {
		t.Errorf("warnings: got %q, want one", w)
	}
}
