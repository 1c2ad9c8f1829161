package s3client

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
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
// that restarts.
func TestCreateRepeatedAfterLostAnswer(t *testing.T) {
	h, n := dropFirst(t, `<InitiateMultipartUploadResult><UploadId>u2</UploadId></InitiateMultipartUploadResult>`)
	c := newTestClient(t, h, Options{})
	id, err := c.CreateMultipartUpload(context.Background(), "bkt", "k", PutOptions{})
	if err != nil || id != "u2" {
		t.Fatalf("create with its first connection dropped: got %q, %v; want u2", id, err)
	}
	if got := n.Load(); got != 2 {
		t.Errorf("create attempts: got %d, want 2", got)
	}
}

// A completion whose connection dies after the server has it: sent again,
// its answer counts; if the server says the upload is gone, the object
// is ours only if its ETag is the one our parts make.
func TestCompleteAnswerLost(t *testing.T) {
	md5hex := func(s string) string { return fmt.Sprintf("%x", md5.Sum([]byte(s))) }
	parts := []CompletedPart{{PartNumber: 1, ETag: `"` + md5hex("a") + `"`}, {PartNumber: 2, ETag: `"` + md5hex("b") + `"`}}
	a, b := md5.Sum([]byte("a")), md5.Sum([]byte("b"))
	ours := fmt.Sprintf("%x-2", md5.Sum(append(a[:], b[:]...)))
	for _, tc := range []struct {
		name      string
		parts     []CompletedPart
		again     func(w http.ResponseWriter) // the second completion's answer
		headETag  string
		wantETag  string // "" for an error
		wantHeads int32
	}{
		{"answered again", parts, func(w http.ResponseWriter) {
			io.WriteString(w, `<CompleteMultipartUploadResult><ETag>"`+ours+`"</ETag></CompleteMultipartUploadResult>`)
		}, "", `"` + ours + `"`, 0},
		{"gone, object is ours", parts, func(w http.ResponseWriter) { writeError(w, 404, "NoSuchUpload") }, ours, `"` + ours + `"`, 1},
		{"gone, object is another", parts, func(w http.ResponseWriter) { writeError(w, 404, "NoSuchUpload") }, md5hex("x") + "-2", "", 1},
		{"gone, parts not MD5s", []CompletedPart{{PartNumber: 1, ETag: `"enc-1"`}}, func(w http.ResponseWriter) { writeError(w, 404, "NoSuchUpload") }, ours, "", 0},
		{"refused again", parts, func(w http.ResponseWriter) { writeError(w, 400, "InvalidPart") }, ours, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var posts, heads atomic.Int32
			c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				switch r.Method {
				case http.MethodHead:
					heads.Add(1)
					w.Header().Set("ETag", `"`+tc.headETag+`"`)
				case http.MethodPost:
					if posts.Add(1) == 1 {
						conn, _, _ := http.NewResponseController(w).Hijack()
						conn.Close()
						return
					}
					tc.again(w)
				}
			}, Options{})
			etag, err := c.CompleteMultipartUpload(context.Background(), "bkt", "k", "u1", tc.parts)
			if tc.wantETag == "" {
				if err == nil {
					t.Errorf("got ETag %q, want the lost answer's error", etag)
				}
			} else if err != nil || etag != tc.wantETag {
				t.Errorf("got %q, %v; want %q", etag, err, tc.wantETag)
			}
			if got := posts.Load(); got != 2 {
				t.Errorf("completions sent: %d, want 2", got)
			}
			if got := heads.Load(); got != tc.wantHeads {
				t.Errorf("HEADs: %d, want %d", got, tc.wantHeads)
			}
		})
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
