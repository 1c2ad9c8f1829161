// Package s3client is the one place that speaks S3: signing, addressing,
// transport, retries and typed errors. It knows nothing of FUSE or files.
//
// # Parts
//
//   - client.go: Client, Options and New; do, one call with its retries,
//     clock-skew correction and fall-back to SigV2; once, one attempt.
//     retry.go: what is retried, and for how long.
//   - request.go: request, one call before it is sent: path-style or
//     virtual-host addressing, and signing with either signer.
//   - sigv4.go, sigv2.go: the signers, as pure steps with the time given.
//     escape.go: URI encoding of keys and queries as they are signed.
//   - credentials.go: ResolveCredentials, where keys come from, in our
//     documented order (options, environment, s3fs passwd files, profiles,
//     container and instance roles). awscreds.go: the AWS SDK's providers
//     behind that order (config.LoadDefaultConfig; only its Credentials).
//     provider.go: CredentialsProvider, asked before every attempt, and
//     RenewingCredentials, which renews expiring credentials in the
//     background; a request refused as ExpiredToken is retried once (do).
//   - transport.go: the http.Transport and TLS roots. watchdog.go:
//     ErrStalled, for a body that stops moving.
//   - errors.go: Error, one S3 error answer, and the sentinels it matches
//     with errors.Is. xmlresp.go: reading XML answers, including the
//     errors S3 sends in the body of a 200.
//   - objects.go: HEAD, GET, PUT and DELETE of objects, HEAD bucket.
//     read.go: ReadObject, the ranged GET that fs reads everything with.
//   - copy.go: server-side copies, CopyObject and CopyObjectAnySize.
//     multipart.go: multipart uploads, parts and part copies.
//   - list.go, listv1.go: ListObjects, V2 with a fall-back to V1.
//     listbuckets.go, buckets.go: listing, creating, deleting buckets.
//
// "The seed", in comments and tests here, is the field note that started
// this project: boto 2 talking to a Ceph RADOS Gateway, with path-style
// URLs, SigV2, Content-MD5 and Expect: 100-continue. That server is the
// first this client must serve; MinIO and AWS S3 must work as well.
package s3client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Credentials are the keys requests are signed with. An empty AccessKey
// means anonymous requests.
type Credentials struct {
	AccessKey    string
	SecretKey    string
	SessionToken string
	// Expires is when temporary credentials stop working; zero for keys
	// that do not expire.
	Expires time.Time
}

// Defaults of Options, also the defaults of the bucketfs command.
const (
	DefaultRequestTimeout = 60 * time.Second
	DefaultIdleTimeout    = 30 * time.Second
	// DefaultUploadTimeout outlasts the longest a node of a distributed
	// MinIO holds a write whose lock a killed node held: the lock's
	// entries on the live nodes are dropped once unrefreshed for a minute,
	// by a sweep that runs once a minute (pinned version's
	// cmd/lock-rest-server.go, lockValidityDuration and
	// lockMaintenanceInterval), so up to two minutes after the kill.
	DefaultUploadTimeout = 3 * time.Minute
	// DefaultMaxRetries retries, with backoff capped at 5 s, ride out an
	// outage of about 15-20 s, within RequestTimeout.
	DefaultMaxRetries = 10
)

// Signature versions for Options.Signature.
const (
	SignatureAuto = "auto" // v4, falling back to v2 if the server rejects v4 as unsupported
	SignatureV4   = "v4"
	SignatureV2   = "v2"
)

// Addressing styles for Options.Addressing.
const (
	AddressingAuto    = "auto"    // virtual-host on AWS, path-style elsewhere
	AddressingPath    = "path"    // http://host/bucket/key (the seed's style)
	AddressingVirtual = "virtual" // http://bucket.host/key
)

// Options configure a Client.
type Options struct {
	// Endpoint is the server URL, e.g. "http://127.0.0.1:9000".
	Endpoint string
	Region   string // default "us-east-1"
	// Credentials are fixed keys, used when CredentialsProvider is nil.
	Credentials Credentials
	// CredentialsProvider, if set, is asked for the credentials of every
	// attempt (see RenewingCredentials). A request refused with
	// ExpiredToken, InvalidToken or InvalidAccessKeyId is retried once
	// with fresh ones if it can invalidate what it gave.
	CredentialsProvider CredentialsProvider
	Signature           string // SignatureAuto (default), SignatureV4 or SignatureV2
	Addressing          string // AddressingAuto (default), AddressingPath or AddressingVirtual
	// CAFiles are PEM files of CAs trusted in addition to the system's.
	CAFiles            []string
	InsecureSkipVerify bool
	// HTTPClient overrides the default transport (tests).
	HTTPClient *http.Client
	// MaxRetries is the number of retries of a failed idempotent request;
	// 0 means DefaultMaxRetries, negative means none.
	MaxRetries int
	// RetryBase is the first backoff delay (default 100ms).
	RetryBase time.Duration
	// RequestTimeout bounds one call that sends no body: its answer,
	// retries included, comes within it or the call fails (default 60s).
	// A call with a body must have its answer within RequestTimeout of
	// sending the last byte (or by the end of UploadTimeout, for an
	// upload, if that is later). One attempt waits a third of it for the
	// answer, then is retried (but for copies and the completion of a
	// multipart upload, which may take the server long).
	RequestTimeout time.Duration
	// UploadTimeout is RequestTimeout for the calls that write an
	// object's bytes (uploadOps: PutObject, UploadPart and
	// CompleteMultipartUpload): their retries go on within it, and a
	// completion waits for its answer until it ends (default 3m). One
	// attempt of a PUT still waits a third of RequestTimeout for its
	// answer.
	UploadTimeout time.Duration
	// IdleTimeout bounds the wait for progress of a body being sent or
	// received: a body that moves no byte for this long fails the attempt,
	// which is retried like a 5xx (default 30s).
	IdleTimeout time.Duration
	// Now is the clock requests are signed with (default time.Now).
	Now func() time.Time
	Log *logrus.Entry
	// Encryption is the server-side encryption of what the client
	// writes (and, for SSE-C, the key of what it reads).
	Encryption Encryption
	// StorageClass is sent with every object written (x-amz-storage-class,
	// e.g. STANDARD_IA); "" is the server's default.
	StorageClass string
	// Observer, if set, is told of every attempt, retry and clock-skew
	// correction (metrics).
	Observer Observer
}

// Observer is told what a Client does, for metrics. Its methods must be
// quick and safe for concurrent use.
type Observer interface {
	// Request is one attempt of op that got status (0: no answer, a
	// network error) after d.
	Request(op string, status int, d time.Duration)
	// Retry is another attempt of op after a failed one.
	Retry(op string)
	// SkewCorrected is a clock-skew correction learnt from the server.
	SkewCorrected()
	// BytesSent and BytesReceived count request and answer bodies.
	BytesSent(n int64)
	BytesReceived(n int64)
}

// nopObserver is the Observer of a Client without one.
type nopObserver struct{}

func (nopObserver) Request(string, int, time.Duration) {}
func (nopObserver) Retry(string)                       {}
func (nopObserver) SkewCorrected()                     {}
func (nopObserver) BytesSent(int64)                    {}
func (nopObserver) BytesReceived(int64)                {}

// Client is an S3 client for one endpoint. It is safe for concurrent use.
type Client struct {
	endpoint *url.URL
	opts     Options
	http     *http.Client
	log      *logrus.Entry
	creds    CredentialsProvider

	mu         sync.Mutex    // protects the fields below
	skew       time.Duration // server clock minus ours, learnt from RequestTimeTooSkewed
	skewLogged bool
	useV2      bool // sign with SigV2 (chosen, or fallen back to in auto mode)
	listV1     bool // ListObjects uses V1: the server showed it lacks ListObjectsV2
	answered   bool // a request has succeeded: the signature works
	// copyThroughLogged: the first copy through the client was logged.
	copyThroughLogged bool
	encryptionWarned  bool // an unconfirmed encryption was logged (checkEncryption)
	// pathStyle holds the buckets that --addressing virtual cannot
	// address as bucket.host, whose fallback to path style was logged.
	pathStyle map[string]bool
}

// New returns a Client for opts.Endpoint.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(opts.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("invalid endpoint %q: %w", opts.Endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("invalid endpoint %q: want http://host[:port] or https://host[:port]", opts.Endpoint)
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = DefaultMaxRetries
	}
	if opts.RetryBase == 0 {
		opts.RetryBase = 100 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.UploadTimeout <= 0 {
		opts.UploadTimeout = DefaultUploadTimeout
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	if opts.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		opts.Log = logrus.NewEntry(l)
	}
	switch opts.Signature {
	case "":
		opts.Signature = SignatureAuto
	case SignatureAuto, SignatureV4, SignatureV2:
	default:
		return nil, fmt.Errorf("invalid signature version %q: want v2, v4 or auto", opts.Signature)
	}
	switch opts.Addressing {
	case "":
		opts.Addressing = AddressingAuto
	case AddressingAuto, AddressingPath, AddressingVirtual:
	default:
		return nil, fmt.Errorf("invalid addressing %q: want path, virtual or auto", opts.Addressing)
	}
	if err := opts.Encryption.validate(u.Scheme); err != nil {
		return nil, err
	}
	hc := opts.HTTPClient
	if hc == nil {
		tr, err := newTransport(opts)
		if err != nil {
			return nil, err
		}
		hc = &http.Client{Transport: tr}
	}
	creds := opts.CredentialsProvider
	if creds == nil {
		creds = StaticCredentials(opts.Credentials)
	}
	return &Client{endpoint: u, opts: opts, http: hc, log: opts.Log, creds: creds, useV2: opts.Signature == SignatureV2}, nil
}

// do sends r with retries and returns a response with a 2xx status; any
// other status becomes an *Error. The caller closes the body.
func (c *Client) do(ctx context.Context, r *request) (*http.Response, error) {
	var lastErr error
	skewRetried, credRetried := false, false
	deadline := time.Now().Add(c.callTimeout(r))
	for attempt := 0; ; attempt++ {
		cred, err := c.creds.Retrieve(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3 %s %q: %w", r.op, where(r.bucket, r.key), err)
		}
		resp, err := c.once(ctx, r, deadline, cred)
		if err == nil {
			c.checkEncryption(r, resp.Header)
			return resp, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			return nil, lastErr
		}
		var s3err *Error
		if errors.As(err, &s3err) && s3err.Code == "RequestTimeTooSkewed" && !skewRetried {
			skewRetried = true
			attempt--
			c.opts.Observer.Retry(r.op)
			continue
		}
		if !credRetried && c.refreshRefused(ctx, r, err, cred) {
			credRetried = true
			attempt--
			c.opts.Observer.Retry(r.op)
			continue
		}
		if c.fallBackToV2(err) {
			attempt--
			c.opts.Observer.Retry(r.op)
			continue
		}
		if switched, resp, err := c.probeV2(ctx, r, err, cred); switched {
			return resp, err
		}
		if !retryable(r, err) || attempt >= c.opts.MaxRetries || c.opts.MaxRetries < 0 || time.Now().After(deadline) {
			return nil, lastErr
		}
		delay := min(backoff(c.opts.RetryBase, attempt), time.Until(deadline))
		c.log.WithFields(logrus.Fields{"op": r.op, "bucket": r.bucket, "key": r.key, "attempt": attempt + 1, "delay": delay}).
			Debugf("retrying: %v", err)
		c.opts.Observer.Retry(r.op)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, lastErr
		}
	}
}

// fallBackToV2 switches an auto-signing client to SigV2 when err says the
// server does not support SigV4, and reports whether it did.
func (c *Client) fallBackToV2(err error) bool {
	var s3err *Error
	if c.opts.Signature != SignatureAuto || !errors.As(err, &s3err) {
		return false
	}
	switch s3err.Code {
	case "NotImplemented", "InvalidArgument", "InvalidRequest":
	default:
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Only a server that never accepted our signature may lack SigV4;
	// later errors of these codes are about the request itself.
	if c.useV2 || c.answered {
		return false
	}
	c.useV2 = true
	c.log.Warnf("server rejected a SigV4 request (%s: %s); signing with SigV2 from now on", s3err.Code, s3err.Message)
	return true
}

// probeV2 is fallBackToV2 for a HEAD, whose answer has no body to name
// the error: a bare 400 or 501 to an auto client's HEAD before any success
// may be a SigV2-only server refusing SigV4, or a real error. The request
// is sent once more signed with SigV2; if that succeeds or finds nothing
// (404), the client signs with SigV2 from now on, the probe's answer is
// the request's and switched is true. Otherwise the first error stands.
func (c *Client) probeV2(ctx context.Context, r *request, err error, cred Credentials) (switched bool, resp *http.Response, perr error) {
	var s3err *Error
	if r.method != http.MethodHead || c.opts.Signature != SignatureAuto || !errors.As(err, &s3err) ||
		s3err.StatusCode != http.StatusBadRequest && s3err.StatusCode != http.StatusNotImplemented {
		return false, nil, nil
	}
	c.mu.Lock()
	undecided := !c.useV2 && !c.answered
	c.mu.Unlock()
	if !undecided {
		return false, nil, nil
	}
	probe := *r
	probe.sigV2 = true
	resp, perr = c.once(ctx, &probe, time.Now().Add(c.opts.RequestTimeout), cred)
	var pe *Error
	if perr != nil && !(errors.As(perr, &pe) && pe.StatusCode == http.StatusNotFound) {
		return false, nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.useV2 {
		c.useV2 = true
		c.log.Warnf("server rejected a SigV4 HEAD (HTTP %d) and took it signed with SigV2; signing with SigV2 from now on", s3err.StatusCode)
	}
	return true, resp, perr
}

// refreshRefused reports whether err says the server refused cred as
// expired or unknown and the credentials provider has others: the request
// is then worth one more try with the new ones. An error that names the
// refusal (ExpiredToken, InvalidToken, InvalidAccessKeyId) makes the
// provider retrieve fresh credentials now; a HEAD's bare 400 or 403, which
// names nothing, is retried only if the credentials were renewed since
// the request was signed. With fixed keys the error stands.
func (c *Client) refreshRefused(ctx context.Context, r *request, err error, cred Credentials) bool {
	inv, ok := c.creds.(credentialsInvalidator)
	var s3err *Error
	if !ok || cred.AccessKey == "" || !errors.As(err, &s3err) {
		return false
	}
	switch {
	case s3err.Code == "ExpiredToken" || s3err.Code == "InvalidToken" || s3err.Code == "InvalidAccessKeyId" ||
		s3err.Code == "TokenRefreshRequired":
		c.log.WithFields(logrus.Fields{"op": s3err.Op, "bucket": s3err.Bucket, "key": s3err.Key}).
			Infof("server refused the credentials (%s): renewing them and retrying once", s3err.Code)
		if ierr := inv.Invalidate(ctx, cred); ierr != nil {
			c.log.Warnf("credentials: renewal after %s failed: %v", s3err.Code, ierr)
			return false
		}
		return true
	case r.method == http.MethodHead && s3err.Message == "" &&
		(s3err.StatusCode == http.StatusBadRequest || s3err.StatusCode == http.StatusForbidden):
		now, err := c.creds.Retrieve(ctx)
		return err == nil && !sameKeys(now, cred)
	}
	return false
}

// once sends r a single time. A request without a body must have its
// answer by deadline; one with a body must keep sending (IdleTimeout
// between the transport's reads of it) and then have its answer within
// answerWait of the later of deadline and RequestTimeout from its last
// byte. A successful answer's body must keep arriving: no read
// of it may wait longer than IdleTimeout. Closing the body ends the attempt.
func (c *Client) once(ctx context.Context, r *request, deadline time.Time, cred Credentials) (*http.Response, error) {
	actx, cancel := context.WithCancel(ctx)
	wd := newWatchdog(cancel, c.opts.IdleTimeout)
	req, err := c.buildHTTP(actx, r, cred)
	if err != nil {
		cancel()
		return nil, err
	}
	if req.GetBody != nil {
		getBody := req.GetBody
		req.GetBody = func() (io.ReadCloser, error) {
			b, err := getBody()
			fromNow := time.Now().Add(c.opts.RequestTimeout)
			return &watchedUpload{r: b, w: wd, answer: c.answerWait(r, later(deadline, fromNow))}, err
		}
		req.Body, _ = req.GetBody()
	} else {
		wd.arm(max(c.answerWait(r, deadline), time.Millisecond))
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	wd.stop()
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	c.opts.Observer.Request(r.op, status, time.Since(start))
	if r.body != nil && err == nil {
		c.opts.Observer.BytesSent(r.size)
	}
	fields := logrus.Fields{"op": r.op, "method": r.method, "bucket": r.bucket, "key": r.key, "host": req.URL.Host}
	if q := req.URL.RawQuery; q != "" && !strings.Contains(q, "Signature") {
		fields["query"] = q // a LIST's prefix and markers; never a presigned URL's signature
	}
	if err != nil {
		cancel()
		err = wd.explain(err, "waiting for the answer")
		c.log.WithFields(fields).WithField("ms", time.Since(start).Milliseconds()).Debugf("request failed: %v", err)
		return nil, fmt.Errorf("s3 %s %q: %w", r.op, r.bucket+"/"+r.key, err)
	}
	resp.Body = &watchedBody{rc: resp.Body, w: wd, what: fmt.Sprintf("s3 %s %q: reading the answer", r.op, where(r.bucket, r.key)),
		received: c.opts.Observer.BytesReceived}
	fields["status"] = resp.StatusCode
	fields["request_id"] = resp.Header.Get("x-amz-request-id")
	fields["ms"] = time.Since(start).Milliseconds()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		c.mu.Lock()
		c.answered = true
		c.mu.Unlock()
		fields["bytes_out"] = r.size
		fields["bytes_in"] = resp.ContentLength
		if r.xml {
			var err error
			if resp, err = checkXMLBody(r, resp); err != nil {
				var e *Error
				if errors.As(err, &e) {
					fields["code"] = e.Code
				}
				c.log.WithFields(fields).Debug("s3 request")
				return nil, err
			}
		}
		c.log.WithFields(fields).Debug("s3 request")
		return resp, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	e := parseError(r.op, r.bucket, r.key, resp.StatusCode, resp.Header, body)
	if e.StatusCode == http.StatusForbidden && len(body) == 0 && c.skewed(resp.Header.Get("Date")) {
		// A HEAD answer has no body to say RequestTimeTooSkewed; the
		// server's Date says it instead.
		e.Code = "RequestTimeTooSkewed"
	}
	fields["code"] = e.Code
	c.log.WithFields(fields).Debug("s3 request")
	if e.Code == "RequestTimeTooSkewed" {
		c.learnSkew(resp.Header.Get("Date"))
	}
	return nil, e
}

// later is the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// skewed reports whether the server's Date is further from our signing
// clock than the 15 minutes S3 allows.
func (c *Client) skewed(date string) bool {
	server, err := http.ParseTime(date)
	if err != nil {
		return false
	}
	d := server.Sub(c.now())
	return d > 15*time.Minute || d < -15*time.Minute
}

// learnSkew records the offset between the server's Date and our clock.
func (c *Client) learnSkew(date string) {
	server, err := http.ParseTime(date)
	if err != nil {
		c.log.Warnf("server says the clock is skewed but sent no usable Date header (%q)", date)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.skew = server.Sub(c.opts.Now())
	c.opts.Observer.SkewCorrected()
	if !c.skewLogged {
		c.skewLogged = true
		c.log.Warnf("clock skew: server time is %s ahead of ours; correcting signatures by that offset", c.skew.Round(time.Second))
	}
}

// drain reads and closes a response body so the connection is reused.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}
