package s3client

// Retries: which failures another attempt may cure (retryable), how long
// to wait before it (backoff), and how long a call may go on trying
// (callTimeout) and wait for one answer (answerWait). The loop that uses
// them is Client.do.

import (
	"context"
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"time"
)

// backoff is full-jitter exponential backoff capped at 5s.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base << attempt
	if d > 5*time.Second || d <= 0 {
		d = 5 * time.Second
	}
	return d/2 + rand.N(d/2+1)
}

// retryable says whether err is worth another try of r. A POST (create
// or complete a multipart upload) is not idempotent: after a failure that
// may have reached the server, it is repeated only if postRepeatable.
func retryable(r *request, err error) bool {
	var s3err *Error
	if errors.As(err, &s3err) {
		switch s3err.StatusCode {
		case 500, 502, 503, 504:
			return true
		case 499:
			// MinIO's ClientDisconnected: the server dropped the request
			// before answering (a node shutting down cancels what it
			// serves); another node, or the same one back, may take it.
			return true
		}
		return s3err.Code == "SlowDown" || s3err.Code == "InternalError" || s3err.Code == "RequestTimeout"
	}
	if errors.Is(err, context.Canceled) {
		return false // do has checked that the caller did not cancel
	}
	// An untrusted or mismatched certificate stays so.
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return false
	}
	// Connection resets, EOFs, refused connections, timeouts, and
	// ErrStalled (given up by our watchdog, like a reset).
	return r.method != http.MethodPost || postRepeatable(r.op, err)
}

// postRepeatable says whether a POST that failed with the network error
// err may be sent again: if the connection was never made (nothing was
// sent), or if a duplicate is harmless. A CreateMultipartUpload sent twice
// starts one upload more, which holds no part and which nothing completes;
// not repeating it made a cp of a large file fail at once when the server
// was away, where a small file's PUT waits for it. A completion the server
// may have made is not repeated here, where a retry that finds no upload
// would be an error: CompleteMultipartUpload confirms it (confirmComplete).
func postRepeatable(op string, err error) bool {
	var oe *net.OpError
	return op == "CreateMultipartUpload" || errors.As(err, &oe) && oe.Op == "dial"
}

// uploadOps are the calls that write an object's bytes, whose retries
// go on for UploadTimeout: a write may be held by a server for longer
// than a metadata call would wait (see DefaultUploadTimeout).
var uploadOps = map[string]bool{"PutObject": true, "UploadPart": true, "CompleteMultipartUpload": true}

// callTimeout is the budget of one call of r, retries included.
func (c *Client) callTimeout(r *request) time.Duration {
	if uploadOps[r.op] {
		return c.opts.UploadTimeout
	}
	return c.opts.RequestTimeout
}

// slowAnswers are the calls whose answer may take the server long
// (copying or assembling an object): one attempt may wait for it until
// the call's deadline.
var slowAnswers = map[string]bool{"CopyObject": true, "UploadPartCopy": true, "CompleteMultipartUpload": true}

// answerWait is how long one attempt of r waits for the answer's headers,
// the call's deadline being deadline: a third of RequestTimeout at most,
// but for slowAnswers. A server that holds a request without answering
// (a node of a distributed MinIO waiting on a dead peer, seen behind a
// load balancer) then costs one attempt, and the retry, on a new
// connection, may reach a node that answers, instead of the whole
// budget going to the first wait.
func (c *Client) answerWait(r *request, deadline time.Time) time.Duration {
	d := time.Until(deadline)
	if slowAnswers[r.op] {
		return d
	}
	return min(d, c.opts.RequestTimeout/3)
}
