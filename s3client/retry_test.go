package s3client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
)

// dropFirst answers every request of a kind with answer, but for the
// first, whose connection it closes once it has read the request: the
// server got it and may have acted, the client gets no answer.
func dropFirst(t *testing.T, answer string) (http.HandlerFunc, *atomic.Int32) {
	var n atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if n.Add(1) == 1 {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			conn.Close()
			return
		}
		io.WriteString(w, answer)
	}, &n
}

// A CreateMultipartUpload whose connection dies before the answer is sent
// again (a second upload is harmless), so a large cp survives a server
// that restarts; a completion that dies the same way is not (the server
// may have completed the upload).
func TestPostRepeatedOnlyIfHarmless(t *testing.T) {
	h, n := dropFirst(t, `<InitiateMultipartUploadResult><UploadId>u2</UploadId></InitiateMultipartUploadResult>`)
	c := newTestClient(t, h, Options{})
	id, err := c.CreateMultipartUpload(context.Background(), "bkt", "k", PutOptions{})
	if err != nil || id != "u2" {
		t.Fatalf("create with its first connection dropped: got %q, %v; want u2", id, err)
	}
	if got := n.Load(); got != 2 {
		t.Errorf("create attempts: got %d, want 2", got)
	}

	h, n = dropFirst(t, `<CompleteMultipartUploadResult><ETag>"m-1"</ETag></CompleteMultipartUploadResult>`)
	c = newTestClient(t, h, Options{})
	parts := []CompletedPart{{PartNumber: 1, ETag: `"e"`}}
	if _, err := c.CompleteMultipartUpload(context.Background(), "bkt", "k", "u1", parts); err == nil {
		t.Errorf("completion with its connection dropped: succeeded, want the error")
	}
	if got := n.Load(); got != 1 {
		t.Errorf("completion attempts: got %d, want 1", got)
	}
}

func TestRetryable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	post := func(op string) *request { return &request{method: http.MethodPost, op: op} }
	for _, tc := range []struct {
		name string
		r    *request
		err  error
		want bool
	}{
		{"GET reset", &request{method: http.MethodGet, op: "GetObject"}, reset, true},
		{"PUT stalled", &request{method: http.MethodPut, op: "PutObject"}, ErrStalled, true},
		{"GET 404", &request{method: http.MethodGet, op: "GetObject"}, &Error{StatusCode: 404, Code: "NoSuchKey"}, false},
		{"GET canceled", &request{method: http.MethodGet, op: "GetObject"}, context.Canceled, false},
		{"create reset", post("CreateMultipartUpload"), reset, true},
		{"create stalled", post("CreateMultipartUpload"), ErrStalled, true},
		{"complete reset", post("CompleteMultipartUpload"), reset, false},
		{"complete stalled", post("CompleteMultipartUpload"), ErrStalled, false},
		{"complete refused", post("CompleteMultipartUpload"), refused, true},
		{"complete refused, wrapped", post("CompleteMultipartUpload"), errors.Join(errors.New("Post"), refused), true},
		{"complete 503", post("CompleteMultipartUpload"), &Error{StatusCode: 503, Code: "SlowDown"}, true},
	} {
		if got := retryable(tc.r, tc.err); got != tc.want {
			t.Errorf("%s: retryable = %v, want %v", tc.name, got, tc.want)
		}
	}
}
