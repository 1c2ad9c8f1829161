package s3client

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// AWS Signature Version 2 (the seed's "Authorization: AWS key:signature",
// still what boto 2 and older Ceph RGW speak), as pure steps.

// v2SubResources are the query parameters that are part of the signed
// resource, as listed by the S3 SigV2 documentation.
var v2SubResources = map[string]bool{
	"acl": true, "cors": true, "delete": true, "lifecycle": true, "location": true,
	"logging": true, "notification": true, "partNumber": true, "policy": true,
	"requestPayment": true, "restore": true, "tagging": true, "torrent": true,
	"uploadId": true, "uploads": true, "versionId": true, "versioning": true,
	"versions": true, "website": true,
	"response-cache-control": true, "response-content-disposition": true,
	"response-content-encoding": true, "response-content-language": true,
	"response-content-type": true, "response-expires": true,
}

// v2Request is what SigV2 needs to know of a request.
type v2Request struct {
	Method string
	// Resource is "/bucket/escaped-key" (or "/" for the service), the
	// path-style resource even when the request is virtual-hosted.
	Resource string
	Query    url.Values
	Header   http.Header // holds Date, Content-MD5, Content-Type, x-amz-*
}

// v2CanonicalAmzHeaders lists the x-amz-* headers, lower-case and sorted,
// one "name:value\n" each, repeated values joined with ",".
func v2CanonicalAmzHeaders(h http.Header) string {
	var names []string
	for name := range h {
		if l := strings.ToLower(name); strings.HasPrefix(l, "x-amz-") {
			names = append(names, l)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		var vals []string
		for _, v := range h.Values(n) {
			vals = append(vals, strings.TrimSpace(v))
		}
		b.WriteString(n + ":" + strings.Join(vals, ",") + "\n")
	}
	return b.String()
}

// v2CanonicalResource appends the signed sub-resources, sorted, with their
// values unencoded, to the resource path.
func v2CanonicalResource(resource string, q url.Values) string {
	var names []string
	for k := range q {
		if v2SubResources[k] {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return resource
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		if v := q.Get(k); v != "" {
			parts[i] = k + "=" + v
		} else {
			parts[i] = k
		}
	}
	return resource + "?" + strings.Join(parts, "&")
}

// v2StringToSign builds the string to sign.
func v2StringToSign(r v2Request) string {
	date := r.Header.Get("Date")
	if r.Header.Get("X-Amz-Date") != "" {
		date = "" // x-amz-date is signed among the x-amz-* headers instead
	}
	return r.Method + "\n" +
		r.Header.Get("Content-MD5") + "\n" +
		r.Header.Get("Content-Type") + "\n" +
		date + "\n" +
		v2CanonicalAmzHeaders(r.Header) +
		v2CanonicalResource(r.Resource, r.Query)
}

// v2Signature is the base64 HMAC-SHA1 of the string to sign.
func v2Signature(secret, stringToSign string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// signV2 returns the Authorization header value for r.
func signV2(r v2Request, cred Credentials) string {
	return "AWS " + cred.AccessKey + ":" + v2Signature(cred.SecretKey, v2StringToSign(r))
}
