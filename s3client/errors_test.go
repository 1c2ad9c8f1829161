package s3client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestParseError(t *testing.T) {
	const noSuchKey = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>` +
		`<Key>dir/a b</Key><RequestId>BODYID</RequestId><HostId>host</HostId></Error>`
	hdr := func(id string) http.Header {
		h := http.Header{}
		if id != "" {
			h.Set("X-Amz-Request-Id", id)
		}
		return h
	}
	tests := []struct {
		name        string
		key         string
		status      int
		header      http.Header
		body        string
		wantCode    string
		wantMessage string
		wantID      string
	}{
		{"xml body, id from body", "dir/a b", 404, hdr(""), noSuchKey,
			"NoSuchKey", "The specified key does not exist.", "BODYID"},
		{"xml body, header id wins", "dir/a b", 404, hdr("HDRID"), noSuchKey,
			"NoSuchKey", "The specified key does not exist.", "HDRID"},
		{"HEAD 404 no body, key", "k", 404, hdr("HDRID"), "", "NoSuchKey", "", "HDRID"},
		{"HEAD 404 no body, bucket", "", 404, hdr(""), "", "NoSuchBucket", "", ""},
		{"403 no body", "k", 403, hdr(""), "", "AccessDenied", "", ""},
		{"412 no body", "k", 412, hdr(""), "", "PreconditionFailed", "", ""},
		{"304 no body", "k", 304, hdr(""), "", "NotModified", "", ""},
		{"400 no body", "k", 400, hdr(""), "", "BadRequest", "", ""},
		{"409 no body", "", 409, hdr(""), "", "Conflict", "", ""},
		{"503 no body", "k", 503, hdr(""), "", "Service Unavailable", "", ""},
		{"empty message", "k", 409, hdr(""),
			`<Error><Code>BucketNotEmpty</Code><Message/><RequestId>R</RequestId></Error>`,
			"BucketNotEmpty", "", "R"},
		{"empty code falls back to status", "k", 403, hdr(""),
			`<Error><Code></Code><Message>m</Message></Error>`, "AccessDenied", "m", ""},
		{"html body", "k", 502, hdr(""), `<html><body>Bad Gateway</body></html>`, "Bad Gateway", "", ""},
		{"truncated xml", "k", 500, hdr(""), `<Error><Code>InternalError</Co`, "Internal Server Error", "", ""},
		{"SlowDown", "k", 503, hdr(""), `<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>`,
			"SlowDown", "Reduce your request rate.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := parseError("Op", "bkt", tt.key, tt.status, tt.header, []byte(tt.body))
			if e.Code != tt.wantCode {
				t.Errorf("Code: got %q, want %q", e.Code, tt.wantCode)
			}
			if e.Message != tt.wantMessage {
				t.Errorf("Message: got %q, want %q", e.Message, tt.wantMessage)
			}
			if e.RequestID != tt.wantID {
				t.Errorf("RequestID: got %q, want %q", e.RequestID, tt.wantID)
			}
			if e.StatusCode != tt.status || e.Op != "Op" || e.Bucket != "bkt" || e.Key != tt.key {
				t.Errorf("request fields: got %+v, want status %d, op Op, bucket bkt, key %q", e, tt.status, tt.key)
			}
		})
	}
}

// sentinels is every sentinel error the package exports.
var sentinels = []struct {
	name string
	err  error
}{
	{"ErrNotFound", ErrNotFound},
	{"errBucketNotFound", errBucketNotFound},
	{"ErrAccessDenied", ErrAccessDenied},
	{"ErrBucketNotEmpty", ErrBucketNotEmpty},
	{"ErrAlreadyExists", ErrAlreadyExists},
	{"ErrInvalidName", ErrInvalidName},
	{"ErrPreconditionFailed", ErrPreconditionFailed},
	{"ErrBucketNameRefused", ErrBucketNameRefused},
}

// A bodyless 400 to HEAD bucket is ErrBucketNameRefused, and nothing
// else is: not a 400 to another request, nor another answer to HEAD bucket.
func TestErrBucketNameRefused(t *testing.T) {
	tests := []struct {
		op, key string
		status  int
		want    bool
	}{
		{"HeadBucket", "", 400, true},
		{"HeadBucket", "", 404, false},
		{"HeadBucket", "", 403, false},
		{"HeadObject", "k", 400, false},
		{"CreateBucket", "", 400, false},
	}
	for _, tt := range tests {
		e := parseError(tt.op, "A_b", tt.key, tt.status, http.Header{}, nil)
		if got := errors.Is(fmt.Errorf("outer: %w", e), ErrBucketNameRefused); got != tt.want {
			t.Errorf("%s %d: errors.Is(ErrBucketNameRefused): got %v, want %v", tt.op, tt.status, got, tt.want)
		}
		if !tt.want {
			continue
		}
		for _, s := range sentinels {
			if s.err != ErrBucketNameRefused && errors.Is(e, s.err) {
				t.Errorf("%s %d: errors.Is(%s): got true, want false", tt.op, tt.status, s.name)
			}
		}
	}
}

func TestErrorIsSentinels(t *testing.T) {
	tests := []struct {
		code   string
		status int
		want   []error // every sentinel not listed must not match
	}{
		{"NoSuchKey", 404, []error{ErrNotFound}},
		{"NoSuchBucket", 404, []error{ErrNotFound, errBucketNotFound}},
		{"NotFound", 404, []error{ErrNotFound}},
		{"NoSuchUpload", 404, []error{ErrNotFound}},
		{"NoSuchLifecycleConfiguration", 404, []error{ErrNotFound}},
		{"AccessDenied", 403, []error{ErrAccessDenied}},
		{"InvalidAccessKeyId", 403, []error{ErrAccessDenied}},
		{"SignatureDoesNotMatch", 403, []error{ErrAccessDenied}},
		{"AllAccessDisabled", 403, []error{ErrAccessDenied}},
		{"BucketNotEmpty", 409, []error{ErrBucketNotEmpty}},
		{"BucketAlreadyExists", 409, []error{ErrAlreadyExists}},
		{"BucketAlreadyOwnedByYou", 409, []error{ErrAlreadyExists}},
		{"InvalidBucketName", 400, []error{ErrInvalidName}},
		{"KeyTooLongError", 400, []error{ErrKeyTooLong}},
		{"PreconditionFailed", 412, []error{ErrPreconditionFailed}},
		{"", 412, []error{ErrPreconditionFailed}},
		{"InternalError", 500, nil},
		{"SlowDown", 503, nil},
		{"NotModified", 304, nil},
		{"InvalidRange", 416, nil},
		{"OperationAborted", 409, nil},
	}
	for _, tt := range tests {
		e := &Error{Op: "Op", Bucket: "b", Key: "k", StatusCode: tt.status, Code: tt.code}
		wrapped := fmt.Errorf("outer: %w", e)
		for _, s := range sentinels {
			want := false
			for _, w := range tt.want {
				want = want || w == s.err
			}
			if got := errors.Is(e, s.err); got != want {
				t.Errorf("errors.Is(%s/%d, %s): got %v, want %v", tt.code, tt.status, s.name, got, want)
			}
			if got := errors.Is(wrapped, s.err); got != want {
				t.Errorf("errors.Is(wrapped %s/%d, %s): got %v, want %v", tt.code, tt.status, s.name, got, want)
			}
		}
		var as *Error
		if !errors.As(wrapped, &as) || as != e {
			t.Errorf("errors.As(wrapped %s): got %v, want %v", tt.code, as, e)
		}
	}
}

// A bodyless HEAD 404 must still say which kind of thing is missing.
func TestParseErrorHeadNotFoundKinds(t *testing.T) {
	key := parseError("HeadObject", "b", "k", 404, http.Header{}, nil)
	if !errors.Is(key, ErrNotFound) || errors.Is(key, errBucketNotFound) {
		t.Errorf("HEAD object 404: got Is(NotFound)=%v Is(BucketNotFound)=%v, want true false",
			errors.Is(key, ErrNotFound), errors.Is(key, errBucketNotFound))
	}
	bucket := parseError("HeadBucket", "b", "", 404, http.Header{}, nil)
	if !errors.Is(bucket, ErrNotFound) || !errors.Is(bucket, errBucketNotFound) {
		t.Errorf("HEAD bucket 404: got Is(NotFound)=%v Is(BucketNotFound)=%v, want true true",
			errors.Is(bucket, ErrNotFound), errors.Is(bucket, errBucketNotFound))
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    *Error
		want string
	}{
		{&Error{Op: "HeadObject", Bucket: "bkt", Key: "dir/a b", StatusCode: 404, Code: "NoSuchKey", RequestID: "RID"},
			`s3 HeadObject "bkt/dir/a b": NoSuchKey (HTTP 404, request id RID)`},
		{&Error{Op: "PutObject", Bucket: "bkt", Key: "k", StatusCode: 403, Code: "AccessDenied",
			Message: "Access Denied", RequestID: "RID"},
			`s3 PutObject "bkt/k": AccessDenied (HTTP 403, request id RID): Access Denied`},
		{&Error{Op: "HeadBucket", Bucket: "bkt", StatusCode: 404, Code: "NoSuchBucket"},
			`s3 HeadBucket "bkt": NoSuchBucket (HTTP 404)`},
		{&Error{Op: "GetObject", Bucket: "bkt", Key: "q\"uote", StatusCode: 503, Code: "SlowDown", Message: "slow"},
			`s3 GetObject "bkt/q\"uote": SlowDown (HTTP 503): slow`},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %v, want %v", got, tt.want)
		}
	}
}

// The error string of a parsed response names everything needed to find
// the request in the server's logs.
func TestParseErrorStringNamesRequest(t *testing.T) {
	h := http.Header{}
	h.Set("X-Amz-Request-Id", "TX123")
	e := parseError("DeleteObject", "bkt", "dir/file", 403, h,
		[]byte(`<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`))
	for _, want := range []string{"DeleteObject", "bkt/dir/file", "AccessDenied", "403", "TX123", "Access Denied"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("got %q, want it to contain %q", e.Error(), want)
		}
	}
}

// A HEAD answer has no body: the client still tells a missing key from a
// missing bucket.
func TestHeadNotFound(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "ignored: HEAD has no body")
	}, Options{})
	_, err := c.HeadObject(context.Background(), "bkt", "k")
	var e *Error
	if !errors.As(err, &e) || e.Code != "NoSuchKey" || !errors.Is(err, ErrNotFound) || errors.Is(err, errBucketNotFound) {
		t.Errorf("HeadObject: got %v, want NoSuchKey", err)
	}
	if e != nil && e.RequestID == "" {
		t.Errorf("HeadObject: got no request id, want the header's")
	}
	err = c.HeadBucket(context.Background(), "bkt")
	if !errors.As(err, &e) || e.Code != "NoSuchBucket" || !errors.Is(err, errBucketNotFound) {
		t.Errorf("HeadBucket: got %v, want NoSuchBucket", err)
	}
}
