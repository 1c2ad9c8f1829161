package s3client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// request describes one S3 call before addressing and signing.
type request struct {
	op     string // operation name for logs and errors
	method string
	bucket string
	key    string
	query  url.Values
	header http.Header
	body   io.ReaderAt // replayable body; nil for none
	size   int64
	xml    bool // a 2xx body may still hold an <Error> (see doXML)
	sigV2  bool // sign with SigV2 whatever the client's choice (probeV2)
}

// now returns the signing time: our clock corrected by the learnt skew.
func (c *Client) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opts.Now().Add(c.skew)
}

// signsV2 reports whether requests are signed with SigV2 now.
func (c *Client) signsV2() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.useV2
}

// virtualHost reports whether bucket is addressed as bucket.host.
func (c *Client) virtualHost(bucket string) bool {
	if bucket == "" {
		return false
	}
	switch c.opts.Addressing {
	case AddressingPath:
		return false
	case AddressingVirtual:
		reason := ""
		if !dnsCompatible(bucket) {
			reason = "it is not a valid DNS name"
		} else if c.endpoint.Scheme == "https" && strings.Contains(bucket, ".") {
			reason = "its dots would not match a wildcard TLS certificate"
		}
		if reason == "" {
			return true
		}
		c.logPathFallback(bucket, reason)
		return false
	}
	host := c.endpoint.Hostname()
	awsHost := host == "amazonaws.com" || strings.HasSuffix(host, ".amazonaws.com")
	// Dotted names break the TLS wildcard certificate: keep them path-style.
	return awsHost && dnsCompatible(bucket) && !(c.endpoint.Scheme == "https" && strings.Contains(bucket, "."))
}

// logPathFallback logs, once per bucket, that bucket is addressed path
// style although virtual-host addressing was asked for, and why.
func (c *Client) logPathFallback(bucket, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pathStyle[bucket] {
		return
	}
	if c.pathStyle == nil {
		c.pathStyle = map[string]bool{}
	}
	c.pathStyle[bucket] = true
	c.log.WithField("bucket", bucket).Warnf("bucket %q addressed path style, not virtual host: %s", bucket, reason)
}

// dnsCompatible reports whether bucket can be a DNS label sequence.
func dnsCompatible(bucket string) bool {
	if len(bucket) < 3 || len(bucket) > 63 {
		return false
	}
	for i := 0; i < len(bucket); i++ {
		c := bucket[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	last := bucket[len(bucket)-1]
	return !strings.Contains(bucket, "..") && !strings.Contains(bucket, ".-") && !strings.Contains(bucket, "-.") &&
		bucket[0] != '-' && bucket[0] != '.' && last != '-' && last != '.'
}

// buildHTTP turns r into an addressed, signed *http.Request.
func (c *Client) buildHTTP(ctx context.Context, r *request, cred Credentials) (*http.Request, error) {
	// resource is the path-style path, which SigV2 signs in any style.
	resource := "/"
	if r.bucket != "" {
		resource += r.bucket + "/" + r.key
	}
	host, path := c.endpoint.Host, resource
	if c.virtualHost(r.bucket) {
		host, path = r.bucket+"."+c.endpoint.Host, "/"+r.key
	}
	escaped := uriEncode(path, true)
	u := &url.URL{Scheme: c.endpoint.Scheme, Host: host, Path: path, RawPath: escaped, RawQuery: canonicalQuery(r.query)}
	req, err := http.NewRequestWithContext(ctx, r.method, c.endpoint.String(), http.NoBody)
	if err != nil {
		return nil, err
	}
	req.URL, req.Host = u, host // keep our exact path encoding
	if r.body != nil && r.size > 0 {
		req.GetBody = func() (io.ReadCloser, error) {
			return io.NopCloser(io.NewSectionReader(r.body, 0, r.size)), nil
		}
		req.Body, _ = req.GetBody()
		req.ContentLength = r.size
		req.Header.Set("Expect", "100-continue")
	}
	for _, h := range []http.Header{r.header, encryptionHeader(c.opts.Encryption, c.opts.StorageClass, r.op)} {
		for k, vs := range h {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
	}
	req.Header.Set("User-Agent", "bucketfs")
	if cred.AccessKey != "" {
		if r.sigV2 || c.signsV2() {
			c.signV2(req, uriEncode(resource, true), r.query, cred)
		} else {
			c.signV4(req, escaped, cred)
		}
	}
	return req, nil
}

// signV4 adds SigV4 header authentication to req.
func (c *Client) signV4(req *http.Request, escapedPath string, cred Credentials) {
	t := c.now()
	payload := unsignedPayload
	if req.ContentLength == 0 {
		payload = emptyPayloadHash
	}
	req.Header.Set("Host", req.Host)
	req.Header.Set("X-Amz-Date", t.UTC().Format(v4DateFormat))
	req.Header.Set("X-Amz-Content-Sha256", payload)
	if cred.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", cred.SessionToken)
	}
	auth := signV4(v4Request{
		Method: req.Method, EscapedPath: escapedPath, RawQuery: req.URL.RawQuery,
		Header: req.Header, PayloadHash: payload,
	}, cred, c.opts.Region, t)
	req.Header.Del("Host") // net/http sends req.Host
	req.Header.Set("Authorization", auth)
}

// signV2 adds SigV2 authentication to req, with a Date header as boto sends.
func (c *Client) signV2(req *http.Request, resource string, query url.Values, cred Credentials) {
	req.Header.Set("Date", c.now().UTC().Format(http.TimeFormat))
	if cred.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", cred.SessionToken)
	}
	req.Header.Set("Authorization", signV2(v2Request{Method: req.Method, Resource: resource, Query: query, Header: req.Header}, cred))
}
