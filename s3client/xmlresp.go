package s3client

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxXMLBody bounds the XML responses read into memory (a ListParts page
// of 1000 parts or a ListBuckets of 10000 buckets is well under it).
const maxXMLBody = 32 << 20

// doXML sends r and returns the body of its 2xx response. It is the one
// path by which XML answers are read: at most maxXMLBody bytes, under the
// body watchdog, a body that breaks retried like a failed request.
//
// CopyObject, UploadPartCopy and CompleteMultipartUpload may answer
// 200 OK and only then, in the body, report that they failed: once
// checks such bodies (r.xml), so that an <Error> in them becomes an
// *Error (with StatusCode 200) that do retries like any other.
func (c *Client) doXML(ctx context.Context, r *request) ([]byte, error) {
	r.xml = true
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body) // already in memory
}

// checkXMLBody reads a successful response's body for an embedded
// <Error>, and gives back a response whose body can still be read.
func checkXMLBody(r *request, resp *http.Response) (*http.Response, error) {
	body, err := readBody(resp)
	if err != nil {
		return nil, fmt.Errorf("s3 %s %q: read response: %w", r.op, where(r.bucket, r.key), err)
	}
	if e := embeddedError(r.op, r.bucket, r.key, resp.StatusCode, resp.Header, body); e != nil {
		return nil, e
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// readBody reads and closes resp's body, refusing one past maxXMLBody.
func readBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxXMLBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxXMLBody {
		return nil, fmt.Errorf("response larger than %d bytes", maxXMLBody)
	}
	return body, nil
}

// rootElement returns the local name of the first element of an XML
// document, or "" when body holds none.
func rootElement(body []byte) string {
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name.Local
		}
	}
}

// embeddedError returns the *Error an <Error> document in a successful
// response reports, or nil when body is anything else. An <Error> without
// a Code is taken as InternalError, the code AWS documents for it.
func embeddedError(op, bucket, key string, status int, header http.Header, body []byte) *Error {
	if rootElement(body) != "Error" {
		return nil
	}
	var x xmlError
	if err := xml.Unmarshal(body, &x); err != nil || x.Code == "" {
		return &Error{Op: op, Bucket: bucket, Key: key, StatusCode: status, Code: "InternalError",
			Message: strings.TrimSpace(x.Message), RequestID: header.Get("x-amz-request-id")}
	}
	return parseError(op, bucket, key, status, header, body)
}

// where names bucket/key for error messages.
func where(bucket, key string) string {
	if key == "" {
		return bucket
	}
	return bucket + "/" + key
}

// unmarshalRoot decodes body into v after checking that its root element
// is one of names; it names what it found when it is not.
func unmarshalRoot(body []byte, v any, names ...string) error {
	root := rootElement(body)
	if root == "" {
		return errors.New("empty or malformed XML response")
	}
	ok := false
	for _, n := range names {
		ok = ok || root == n
	}
	if !ok {
		return fmt.Errorf("unexpected XML response <%s>, want <%s>", root, strings.Join(names, "> or <"))
	}
	if err := xml.Unmarshal(body, v); err != nil {
		return fmt.Errorf("bad <%s> response: %w", root, err)
	}
	return nil
}
