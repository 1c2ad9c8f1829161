package s3client

import (
	"net/url"
	"sort"
	"strings"
)

// uriEncode percent-encodes every byte except the RFC 3986 unreserved
// characters (and '/' when keepSlash), as both SigV4 and S3 expect.
func uriEncode(s string, keepSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && keepSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// canonicalQuery encodes q sorted by encoded key then encoded value (SigV4
// sorts after encoding); the same string is sent and signed.
func canonicalQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	keys := make([]string, 0, len(q))
	encoded := make(map[string][]string, len(q))
	for k, vs := range q {
		ek := uriEncode(k, false)
		keys = append(keys, ek)
		for _, v := range vs {
			encoded[ek] = append(encoded[ek], uriEncode(v, false))
		}
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := encoded[k]
		sort.Strings(vals)
		for _, v := range vals {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, "&")
}
