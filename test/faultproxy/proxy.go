package faultproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Options change how a Proxy behaves.
type Options struct {
	// Seed seeds the random source that decides which requests a rule
	// with 0 < Rate < 1 hits: the same seed and the same order of
	// requests give the same faults.
	Seed uint64
	// TLS configures the proxy's connections to an https target (e.g.
	// the CAs that trust it); the proxy itself always listens on plain
	// HTTP.
	TLS *tls.Config
}

// Proxy is a fault-injecting reverse proxy in front of one S3 server.
// Its methods are safe for concurrent use.
type Proxy struct {
	target *url.URL
	ln     *listener
	srv    *http.Server
	tr     *http.Transport
	served chan struct{} // closed when srv.Serve has returned

	ctx    context.Context // parent of backend requests, cancelled by Close
	cancel context.CancelFunc
	done   chan struct{} // closed by Close: stalled connections give up

	closeOnce sync.Once
	handlers  sync.WaitGroup // running handlers; Add only under mu while !closed

	mu       sync.Mutex // protects the fields below
	closed   bool
	rules    []*ruleState
	rng      *rand.Rand
	requests map[Op]int64
	faults   map[FaultKey]int64
	seq      uint64 // request ids of the answers the proxy makes up
}

// New starts a proxy on a free port of 127.0.0.1 that forwards to
// target, the base URL of an S3 server such as "http://127.0.0.1:9000".
// It injects no faults until SetRules is called.
func New(target string, opts Options) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: target %q: %w", target, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: target %q is not an http(s)://host:port URL", target)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		target: u,
		ln:     newListener(l),
		tr: &http.Transport{
			Proxy:                 nil, // never an HTTP_PROXY from the environment
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:          64,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second, // as s3client
			DisableCompression:    true,        // pass bodies as they are
			TLSClientConfig:       opts.TLS,
		},
		served:   make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
		rng:      rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		requests: make(map[Op]int64),
		faults:   make(map[FaultKey]int64),
	}
	p.srv = &http.Server{
		Handler:           http.HandlerFunc(p.serve),
		ReadHeaderTimeout: 30 * time.Second,
	}
	go func() {
		p.srv.Serve(p.ln)
		close(p.served)
	}()
	return p, nil
}

// URL returns the proxy's base URL, "http://127.0.0.1:PORT": the endpoint
// to give the S3 client instead of the target's.
func (p *Proxy) URL() string {
	return "http://" + p.ln.Addr().String()
}

// Close stops the proxy: it closes the listener and every client
// connection, stalled ones included, cancels requests in flight to the
// backend and waits for its handlers to return.
func (p *Proxy) Close() error {
	var err error
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		close(p.done)
		p.cancel()
		err = p.srv.Close()
		p.ln.closeAll()
		<-p.served
		p.handlers.Wait()
		p.tr.CloseIdleConnections()
	})
	return err
}

// SetRules replaces the rules at once; requests already past rule
// selection keep the fault they drew. The first rule that matches a
// request and hits it decides its fault. SetRules() with no rules turns
// faults off. It panics on a rule with an unknown Fault or a negative
// Count or After.
func (p *Proxy) SetRules(rules ...Rule) {
	states := make([]*ruleState, len(rules))
	for i, r := range rules {
		r.check()
		r.Ops = append([]Op(nil), r.Ops...)
		states[i] = &ruleState{Rule: r, left: r.Count}
	}
	p.mu.Lock()
	p.rules = states
	p.mu.Unlock()
}

// SetDown starts (true) or ends (false) an outage. While down, the
// proxy resets every open client connection and every new one as soon
// as it is accepted, so clients see "connection reset by peer"; the
// port stays bound, and after SetDown(false) the same URL works again.
func (p *Proxy) SetDown(down bool) {
	p.ln.setDown(down)
}

// serve handles one request: count it, pick a fault, forward or break.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	if !p.enter() {
		panic(http.ErrAbortHandler) // closing: drop the connection
	}
	defer p.handlers.Done()
	op, _, key := Classify(r)
	rule, hit := p.pick(op, key)
	if !hit {
		p.forward(w, r, op, nil)
		return
	}
	switch rule.Fault {
	case Status500, Status503, SlowDown:
		p.answerError(w, r, rule.Fault)
	case Reset:
		if c, _ := hijack(w); c != nil {
			c.reset()
		}
	case StallHeaders:
		if c, buf := hijack(w); c != nil {
			c.waitClose(buf, p.done)
		}
	case ResetMidBody, Truncate, Stall:
		p.breakBody(w, r, rule)
	case FlipByte:
		p.forward(w, r, op, &rule)
	}
}

// enter registers a running handler; it returns false once Close began.
func (p *Proxy) enter() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.handlers.Add(1)
	return true
}

// nextID returns a request id for an answer the proxy makes up.
func (p *Proxy) nextID() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	return p.seq
}

// backendRequest is r addressed to the target, unchanged otherwise: the
// same Host header, the same request-target byte for byte (SigV2 and
// SigV4 sign the path as the client encoded it) and the same headers but
// the hop-by-hop ones.
func (p *Proxy) backendRequest(ctx context.Context, r *http.Request) *http.Request {
	u := &url.URL{Scheme: p.target.Scheme, Host: p.target.Host, RawQuery: r.URL.RawQuery, ForceQuery: r.URL.ForceQuery}
	if path, _, _ := strings.Cut(r.RequestURI, "?"); strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "//") {
		u.Opaque = path // written to the wire as it is
	} else {
		u.Path, u.RawPath = r.URL.Path, r.URL.RawPath
	}
	h := r.Header.Clone()
	removeHopHeaders(h)
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{""} // keeps Go from adding its own
	}
	out := &http.Request{
		Method:           r.Method,
		URL:              u,
		Proto:            "HTTP/1.1",
		ProtoMajor:       1,
		ProtoMinor:       1,
		Header:           h,
		Body:             r.Body,
		ContentLength:    r.ContentLength,
		TransferEncoding: r.TransferEncoding,
		Host:             r.Host,
	}
	if r.ContentLength == 0 {
		out.Body = http.NoBody
	}
	return out.WithContext(ctx)
}

// roundTrip sends r to the backend. The request is cancelled when the
// client's request ends or the proxy closes; call the returned function
// when done with the response.
func (p *Proxy) roundTrip(r *http.Request) (*http.Response, func(), error) {
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(p.ctx, cancel)
	release := func() { stop(); cancel() }
	resp, err := p.tr.RoundTrip(p.backendRequest(ctx, r))
	if err != nil {
		release()
		return nil, nil, err
	}
	return resp, func() { resp.Body.Close(); release() }, nil
}

// badGateway answers a request the backend did not answer.
func badGateway(w http.ResponseWriter, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client or the proxy went away
	}
	http.Error(w, "faultproxy: backend: "+err.Error(), http.StatusBadGateway)
}

// isHopHeader reports whether k describes one connection rather than
// the request: a proxy does not forward such headers.
func isHopHeader(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// removeHopHeaders deletes the hop-by-hop headers from h, those named in
// its Connection header included.
func removeHopHeaders(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				h.Del(k)
			}
		}
	}
	for k := range h {
		if isHopHeader(k) {
			delete(h, k)
		}
	}
}
