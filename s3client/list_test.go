package s3client

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// listXML wraps contents in a ListBucketResult as AWS sends it.
func listXML(inner string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bkt</Name>` + inner + `</ListBucketResult>`
}

func object(key string) string {
	return "<Contents><Key>" + key + "</Key><Size>1</Size></Contents>"
}

func TestParseListV2(t *testing.T) {
	const url = "<EncodingType>url</EncodingType>"
	tests := []struct {
		name         string
		body         string
		wantKeys     []string
		wantPrefixes []string
		wantToken    string
	}{
		{"empty", listXML("<KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"), nil, nil, ""},
		{"url: space as +", listXML(url + object("dir/a+b.txt")), []string{"dir/a b.txt"}, nil, ""},
		{"url: space as %20", listXML(url + object("dir/a%20b.txt")), []string{"dir/a b.txt"}, nil, ""},
		{"url: plus as %2B", listXML(url + object("c%2Bd")), []string{"c+d"}, nil, ""},
		{"url: percent as %25", listXML(url + object("100%25")), []string{"100%"}, nil, ""},
		{"url: unicode", listXML(url + object("%C3%A9t%C3%A9/%E9%9B%AA")), []string{"été/雪"}, nil, ""},
		{"url: encoded slash", listXML(url + object("dir%2Ff")), []string{"dir/f"}, nil, ""},
		{"url: reserved", listXML(url + object("a%26b%3Dc%3Fd%23e")), []string{"a&b=c?d#e"}, nil, ""},
		{"url: xml entity", listXML(url + object("a&amp;b")), []string{"a&b"}, nil, ""},
		{"no encoding: literal", listXML(object("a+b%20c")), []string{"a+b%20c"}, nil, ""},
		{"no encoding: unicode", listXML(object("été")), []string{"été"}, nil, ""},
		{"common prefixes", listXML(url + "<Delimiter>%2F</Delimiter>" + object("top") +
			"<CommonPrefixes><Prefix>a+dir%2F</Prefix></CommonPrefixes>" +
			"<CommonPrefixes><Prefix>%E9%9B%AA/</Prefix></CommonPrefixes>"),
			[]string{"top"}, []string{"a dir/", "雪/"}, ""},
		{"truncated with token", listXML(url + "<IsTruncated>true</IsTruncated>" +
			"<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>" + object("a") + object("b")),
			[]string{"a", "b"}, nil, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="},
		{"rgw Type and Owner ignored", listXML(url + `<Contents><Key>k</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>` +
			`<ETag>&quot;e&quot;</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass>` +
			`<Owner><ID>id</ID><DisplayName>me</DisplayName></Owner><Type>Normal</Type></Contents>`),
			[]string{"k"}, nil, ""},
		{"no namespace", `<ListBucketResult>` + object("k") + `</ListBucketResult>`, []string{"k"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := parseListV2([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, o := range page.Objects {
				keys = append(keys, o.Key)
			}
			if !reflect.DeepEqual(keys, tt.wantKeys) {
				t.Errorf("keys: got %q, want %q", keys, tt.wantKeys)
			}
			if !reflect.DeepEqual(page.CommonPrefixes, tt.wantPrefixes) {
				t.Errorf("prefixes: got %q, want %q", page.CommonPrefixes, tt.wantPrefixes)
			}
			if page.NextContinuationToken != tt.wantToken || page.IsTruncated != (tt.wantToken != "") {
				t.Errorf("truncated, token: got %v %q, want %v %q",
					page.IsTruncated, page.NextContinuationToken, tt.wantToken != "", tt.wantToken)
			}
		})
	}
}

func TestParseListV2ObjectFields(t *testing.T) {
	page, err := parseListV2([]byte(listXML(`<Contents><Key>k</Key><LastModified>2009-10-12T17:50:30.123Z</LastModified>` +
		`<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size><Type>Normal</Type></Contents>`)))
	if err != nil {
		t.Fatal(err)
	}
	want := []ListedObject{{Key: "k", Size: 434234, ETag: `"fba9dede5f27731c9771645a39863328"`,
		LastModified: time.Date(2009, 10, 12, 17, 50, 30, 123e6, time.UTC)}}
	if !reflect.DeepEqual(page.Objects, want) {
		t.Errorf("got %+v, want %+v", page.Objects, want)
	}
}

func TestParseListV2Errors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"truncated without token", listXML("<IsTruncated>true</IsTruncated>" + object("a")), "continuation token"},
		{"bad xml", `<ListBucketResult><Contents><Key>a</Key>`, "bad list response"},
		{"not xml", `{"Contents": []}`, "bad list response"},
		{"empty body", ``, "bad list response"},
		{"error document", `<Error><Code>NoSuchBucket</Code></Error>`, "bad list response"},
		{"bad size", listXML("<Contents><Key>a</Key><Size>big</Size></Contents>"), "bad list response"},
		{"bad escape in key", listXML("<EncodingType>url</EncodingType>" + object("a%zz")), "bad key"},
		{"bad escape in prefix", listXML("<EncodingType>url</EncodingType><CommonPrefixes><Prefix>%</Prefix></CommonPrefixes>"), "bad prefix"},
	}
	for _, tt := range tests {
		page, err := parseListV2([]byte(tt.body))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %+v, %v, want an error containing %q", tt.name, page, err, tt.want)
		}
	}
}

// ListObjectsV2 asks for url-encoded keys and sends its parameters in
// the canonical order, encoded as they are signed.
func TestListObjectsV2Request(t *testing.T) {
	tests := []struct {
		in        ListInput
		wantQuery string
	}{
		{ListInput{}, "encoding-type=url&list-type=2&prefix="},
		{ListInput{Prefix: "dir/a b/", Delimiter: "/", MaxKeys: 2},
			"delimiter=%2F&encoding-type=url&list-type=2&max-keys=2&prefix=dir%2Fa%20b%2F"},
		{ListInput{Prefix: "é+", ContinuationToken: "1/x+y==", StartAfter: "a&b"},
			"continuation-token=1%2Fx%2By%3D%3D&encoding-type=url&list-type=2&prefix=%C3%A9%2B&start-after=a%26b"},
	}
	for _, tt := range tests {
		var uri string
		c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			uri = r.RequestURI
			io.WriteString(w, listXML("<EncodingType>url</EncodingType>"+object("dir%2Fa+b")))
		}, Options{})
		page, err := c.listObjectsV2(context.Background(), "bkt", tt.in)
		if err != nil {
			t.Fatalf("%+v: %v", tt.in, err)
		}
		if want := "/bkt/?" + tt.wantQuery; uri != want {
			t.Errorf("%+v: request URI: got %v, want %v", tt.in, uri, want)
		}
		if len(page.Objects) != 1 || page.Objects[0].Key != "dir/a b" {
			t.Errorf("%+v: objects: got %+v, want one with key %q", tt.in, page.Objects, "dir/a b")
		}
	}
}

func TestListObjectsV2BadResponse(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, listXML("<IsTruncated>true</IsTruncated>"))
	}, Options{})
	_, err := c.listObjectsV2(context.Background(), "bkt", ListInput{Prefix: "p/"})
	if err == nil || !strings.Contains(err.Error(), `"bkt"`) || !strings.Contains(err.Error(), `"p/"`) {
		t.Errorf("got %v, want an error naming the bucket and prefix", err)
	}
}
