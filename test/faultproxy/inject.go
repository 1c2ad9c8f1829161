package faultproxy

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// forward sends r, a request for op, to the backend and streams the
// answer back. With a FlipByte rule it inverts one bit of the uploaded
// body (PutObject, UploadPart) or else of the response body.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, op Op, flip *Rule) {
	flipRequest := flip != nil && (op == PutObject || op == UploadPart)
	if flipRequest {
		r.Body = &flipReader{ReadCloser: r.Body, at: flip.After}
	}
	resp, done, err := p.roundTrip(r)
	if err != nil {
		badGateway(w, err)
		return
	}
	defer done()
	var body io.Reader = resp.Body
	if flip != nil && !flipRequest {
		body = &flipReader{ReadCloser: resp.Body, at: flip.After}
	}
	writeHeader(w, resp)
	copyFlushing(w, body, -1)
}

// writeHeader sends the backend's status and headers to the client.
func writeHeader(w http.ResponseWriter, resp *http.Response) {
	src := resp.Header.Clone()
	removeHopHeaders(src)
	h := w.Header()
	for k, vs := range src {
		h[k] = vs
	}
	if resp.ContentLength >= 0 && h.Get("Content-Length") == "" && hasBody(resp) {
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(resp.StatusCode)
}

// hasBody reports whether resp can carry a body at all.
func hasBody(resp *http.Response) bool {
	s := resp.StatusCode
	return resp.Request.Method != http.MethodHead && s != http.StatusNoContent && s != http.StatusNotModified && s >= 200
}

// copyFlushing copies src to w, n bytes at most if n >= 0, flushing after
// every read so that the client gets each byte the backend sends without
// the proxy holding more than one buffer.
func copyFlushing(w http.ResponseWriter, src io.Reader, n int64) (int64, error) {
	if n >= 0 {
		src = io.LimitReader(src, n)
	}
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	var written int64
	for {
		k, rerr := src.Read(buf)
		if k > 0 {
			m, werr := w.Write(buf[:k])
			written += int64(m)
			if werr != nil {
				return written, werr
			}
			if werr = rc.Flush(); werr != nil {
				return written, werr
			}
		}
		if rerr == io.EOF {
			return written, nil
		}
		if rerr != nil {
			return written, rerr
		}
	}
}

// answerError answers with an S3 error document without contacting the
// backend. An uploaded body is read and dropped first, as a load
// balancer that buffers requests would; a client that asked for
// "Expect: 100-continue" gets the error instead of the 100, as S3 does,
// and so never sends its body.
func (p *Proxy) answerError(w http.ResponseWriter, r *http.Request, f Fault) {
	if r.Header.Get("Expect") == "" {
		io.Copy(io.Discard, r.Body)
	}
	status, code, msg := http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again."
	switch f {
	case Status503:
		status, code, msg = http.StatusServiceUnavailable, "ServiceUnavailable", "Please reduce your request rate."
	case SlowDown:
		status, code, msg = http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate."
	}
	id := fmt.Sprintf("faultproxy-%d", p.nextID())
	body := fmt.Sprintf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"+
		"<Error><Code>%s</Code><Message>%s</Message><Resource>%s</Resource><RequestId>%s</RequestId></Error>",
		code, msg, xmlEscape(r.URL.Path), id)
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amz-Request-Id", id)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		io.WriteString(w, body)
	}
}

// breakBody forwards r and breaks the response after rule.After bytes of
// its body. A response with no byte past After (every HEAD, most PUT
// answers) is broken before its status line: the backend has done the
// work, the client never hears of it.
func (p *Proxy) breakBody(w http.ResponseWriter, r *http.Request, rule Rule) {
	resp, done, err := p.roundTrip(r)
	if err != nil {
		badGateway(w, err)
		return
	}
	defer done()
	if hasBody(resp) && (resp.ContentLength < 0 || resp.ContentLength > rule.After) {
		writeHeader(w, resp)
		if _, err := copyFlushing(w, resp.Body, rule.After); err != nil {
			return // the client is gone already
		}
		if err := http.NewResponseController(w).Flush(); err != nil {
			return
		}
	}
	c, buf := hijack(w)
	if c == nil {
		return
	}
	switch rule.Fault {
	case ResetMidBody:
		c.reset()
	case Truncate:
		c.closeWrite(buf, p.done)
	case Stall:
		c.waitClose(buf, p.done)
	}
}

// hijack takes the client connection over from the HTTP server; what
// was written to w must have been flushed. It returns nil if it cannot.
func hijack(w http.ResponseWriter) (*conn, *bufio.Reader) {
	nc, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil
	}
	c, ok := nc.(*conn)
	if !ok {
		nc.Close()
		return nil, nil
	}
	return c, buf.Reader
}

// flipReader inverts the lowest bit of the byte at offset at.
type flipReader struct {
	io.ReadCloser
	at  int64
	pos int64
}

// Read reads from the underlying body, flipping the bit on the way.
func (f *flipReader) Read(b []byte) (int, error) {
	n, err := f.ReadCloser.Read(b)
	if i := f.at - f.pos; i >= 0 && i < int64(n) {
		b[i] ^= 1
	}
	f.pos += int64(n)
	return n, err
}

// xmlEscape escapes s for XML character data.
func xmlEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '&':
			b = append(b, "&amp;"...)
		default:
			b = append(b, c)
		}
	}
	return string(b)
}
