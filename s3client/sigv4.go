package s3client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strings"
	"time"
)

// AWS Signature Version 4, split into pure steps so each can be
// golden-tested with a fixed time and AWS's documented example keys.

const (
	v4Algorithm      = "AWS4-HMAC-SHA256"
	v4DateFormat     = "20060102T150405Z"
	v4ShortDate      = "20060102"
	unsignedPayload  = "UNSIGNED-PAYLOAD"
	emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// v4Request is what SigV4 needs to know of a request.
type v4Request struct {
	Method      string
	EscapedPath string      // URI-encoded path exactly as sent
	RawQuery    string      // canonical query exactly as sent (sorted, encoded)
	Header      http.Header // must already hold Host, x-amz-date and x-amz-content-sha256
	PayloadHash string
}

// v4SignedHeaderNames returns the lower-case names of the headers that
// are signed, sorted: host, content-md5, content-type, range and x-amz-*.
func v4SignedHeaderNames(h http.Header) []string {
	var names []string
	for name := range h {
		l := strings.ToLower(name)
		switch {
		case l == "host", l == "content-md5", l == "content-type", l == "range",
			l == "date", strings.HasPrefix(l, "x-amz-"):
			names = append(names, l)
		}
	}
	sort.Strings(names)
	return names
}

// v4CanonicalRequest builds the canonical request and the SignedHeaders list.
func v4CanonicalRequest(r v4Request) (canonical, signedHeaders string) {
	names := v4SignedHeaderNames(r.Header)
	var hb strings.Builder
	for _, n := range names {
		vals := r.Header.Values(n)
		trimmed := make([]string, len(vals))
		for i, v := range vals {
			trimmed[i] = strings.Join(strings.Fields(v), " ")
		}
		hb.WriteString(n)
		hb.WriteByte(':')
		hb.WriteString(strings.Join(trimmed, ","))
		hb.WriteByte('\n')
	}
	signedHeaders = strings.Join(names, ";")
	path := r.EscapedPath
	if path == "" {
		path = "/"
	}
	canonical = strings.Join([]string{
		r.Method, path, r.RawQuery, hb.String(), signedHeaders, r.PayloadHash,
	}, "\n")
	return canonical, signedHeaders
}

// v4Scope is the credential scope: date/region/s3/aws4_request.
func v4Scope(t time.Time, region string) string {
	return t.UTC().Format(v4ShortDate) + "/" + region + "/s3/aws4_request"
}

// v4StringToSign builds the string to sign from the canonical request.
func v4StringToSign(t time.Time, scope, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return v4Algorithm + "\n" + t.UTC().Format(v4DateFormat) + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
}

// v4SigningKey derives the signing key for a day, region and service s3.
func v4SigningKey(secret string, t time.Time, region string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), t.UTC().Format(v4ShortDate))
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, "s3")
	return hmacSHA256(k, "aws4_request")
}

// v4Signature is the hex HMAC of the string to sign.
func v4Signature(signingKey []byte, stringToSign string) string {
	return hex.EncodeToString(hmacSHA256(signingKey, stringToSign))
}

// v4Authorization assembles the Authorization header value.
func v4Authorization(accessKey, scope, signedHeaders, signature string) string {
	return v4Algorithm + " Credential=" + accessKey + "/" + scope +
		", SignedHeaders=" + signedHeaders + ", Signature=" + signature
}

// signV4 signs r at time t and returns the Authorization header value.
func signV4(r v4Request, cred Credentials, region string, t time.Time) string {
	canonical, signed := v4CanonicalRequest(r)
	scope := v4Scope(t, region)
	sts := v4StringToSign(t, scope, canonical)
	sig := v4Signature(v4SigningKey(cred.SecretKey, t, region), sts)
	return v4Authorization(cred.AccessKey, scope, signed, sig)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
