package s3client

import (
	"net/url"
	"testing"
)

func FuzzParseListV2(f *testing.F) {
	f.Add([]byte(listXML("")))
	f.Add([]byte(listXML("<EncodingType>url</EncodingType>" + object("a+b%2Fc%C3%A9") +
		"<CommonPrefixes><Prefix>d%2F</Prefix></CommonPrefixes>")))
	f.Add([]byte(listXML("<IsTruncated>true</IsTruncated><NextContinuationToken>t</NextContinuationToken>")))
	f.Add([]byte(listXML("<IsTruncated>true</IsTruncated>")))
	f.Add([]byte(listXML("<Contents><Key>k</Key><Size>-1</Size><LastModified>x</LastModified><Type>Normal</Type></Contents>")))
	f.Add([]byte("<Error><Code>NoSuchBucket</Code></Error>"))
	f.Add([]byte("<ListBucketResult><Contents>"))
	f.Fuzz(func(t *testing.T, body []byte) {
		page, err := parseListV2(body)
		if err != nil {
			if page != nil {
				t.Fatalf("got page %+v with error %v", page, err)
			}
			return
		}
		if page.IsTruncated && page.NextContinuationToken == "" {
			t.Fatalf("truncated page without a continuation token: %+v", page)
		}
	})
}

// isEncoded reports whether s holds only unreserved characters, '%'
// escapes and (when slashOK) '/'.
func isEncoded(s string, slashOK bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '%', c == '/' && slashOK:
		default:
			return false
		}
	}
	return true
}

func FuzzURIEncode(f *testing.F) {
	for _, s := range []string{"", "plain", "dir/a b+c", "100%/%2F", "é/雪", "!*'()?#&=;:@,[]$", "\x00\xff/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, keepSlash := range []bool{true, false} {
			e := uriEncode(s, keepSlash)
			if !isEncoded(e, keepSlash) {
				t.Fatalf("uriEncode(%q, %v) = %q carries a character that must be escaped", s, keepSlash, e)
			}
			if back, err := url.PathUnescape(e); err != nil || back != s {
				t.Fatalf("uriEncode(%q, %v) = %q unescapes to %q, %v", s, keepSlash, e, back, err)
			}
		}
		// A query built from s parses back to s, as the server will read it.
		q := canonicalQuery(url.Values{s: {s, "v"}})
		back, err := url.ParseQuery(q)
		if err != nil || len(back) != 1 || len(back[s]) != 2 {
			t.Fatalf("canonicalQuery with %q = %q parses to %q, %v", s, q, back, err)
		}
	})
}
