package s3client

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Bodies in the shape of the examples of the S3 API reference, and as
// Ceph RGW sends them (empty <ETag></ETag>, <Type>Normal</Type>, <Message/>).
const (
	opsNS = `xmlns="http://s3.amazonaws.com/doc/2006-03-01/"`

	awsCompleteXML = `<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult ` + opsNS + `>
   <Location>http://Example-Bucket.s3.us-east-1.amazonaws.com/Example-Object</Location>
   <Bucket>Example-Bucket</Bucket>
   <Key>Example-Object</Key>
   <ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag>
</CompleteMultipartUploadResult>`

	rgwCompleteXML = `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult ` + opsNS +
		`><Location>http://rgw:7480/b/k</Location><Bucket>b</Bucket><Key>k</Key><ETag></ETag></CompleteMultipartUploadResult>`

	awsErrorXML = `<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>InternalError</Code>
  <Message>We encountered an internal error. Please try again.</Message>
  <RequestId>656c76696e6727732072657175657374</RequestId>
  <HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId>
</Error>`

	rgwErrorXML = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message/>` +
		`<BucketName>b</BucketName><RequestId>tx0000000000000000000a1-0065-default</RequestId><HostId>abc-default</HostId></Error>`

	awsListPartsXML = `<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult ` + opsNS + `>
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA</UploadId>
  <Initiator><ID>arn:aws:iam::111122223333:user/some-user</ID><DisplayName>umat-user</DisplayName></Initiator>
  <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID><DisplayName>someName</DisplayName></Owner>
  <StorageClass>STANDARD</StorageClass>
  <PartNumberMarker>1</PartNumberMarker>
  <NextPartNumberMarker>3</NextPartNumberMarker>
  <MaxParts>2</MaxParts>
  <IsTruncated>true</IsTruncated>
  <Part>
    <PartNumber>2</PartNumber>
    <LastModified>2010-11-10T20:48:34.000Z</LastModified>
    <ETag>"7778aef83f66abc1fa1e8477f296d394"</ETag>
    <Size>10485760</Size>
  </Part>
  <Part>
    <PartNumber>3</PartNumber>
    <LastModified>2010-11-10T20:48:33.000Z</LastModified>
    <ETag>"aaaa18db4cc2f85cedef654fccc4a4x8"</ETag>
    <Size>10485760</Size>
  </Part>
</ListPartsResult>`

	awsListBucketsXML = `<?xml version="1.0" encoding="UTF-8"?>
<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01">
  <Owner><ID>bcaf1ffd86f461ca5fb16fd081034f</ID><DisplayName>webfile</DisplayName></Owner>
  <Buckets>
    <Bucket><Name>quotes</Name><CreationDate>2006-02-03T16:45:09.000Z</CreationDate></Bucket>
    <Bucket><Name>samples</Name><CreationDate>2006-02-03T16:41:58.000Z</CreationDate></Bucket>
  </Buckets>
</ListAllMyBucketsResult>`

	awsCopyXML = `<CopyObjectResult><LastModified>2009-10-28T22:32:00.000Z</LastModified>` +
		`<ETag>"9b2cf535f27731c974343645a3985328"</ETag></CopyObjectResult>`
)

func TestOpsParseCompleteMultipart(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"aws", awsCompleteXML, `"3858f62230ac3c915f300c664312c11f-9"`},
		{"rgw empty etag", rgwCompleteXML, ""},
		{"no etag element", `<CompleteMultipartUploadResult><Key>k</Key></CompleteMultipartUploadResult>`, ""},
		{"escaped quotes", `<CompleteMultipartUploadResult><ETag>&quot;e-2&quot;</ETag></CompleteMultipartUploadResult>`, `"e-2"`},
	}
	for _, tt := range tests {
		got, err := parseCompleteMultipart([]byte(tt.body))
		if err != nil || got != tt.want {
			t.Errorf("%s: got %q, %v, want %q", tt.name, got, err, tt.want)
		}
	}
	for _, body := range []string{"", "   \n  ", awsErrorXML, "<CompleteMultipartUploadResult><ETag>", awsCopyXML} {
		if got, err := parseCompleteMultipart([]byte(body)); err == nil {
			t.Errorf("%q: got %q, want an error", body, got)
		}
	}
}

func TestOpsParseListParts(t *testing.T) {
	parts, truncated, next, err := parseListParts([]byte(awsListPartsXML))
	if err != nil {
		t.Fatal(err)
	}
	want := []Part{
		{2, `"7778aef83f66abc1fa1e8477f296d394"`, 10485760, time.Date(2010, 11, 10, 20, 48, 34, 0, time.UTC)},
		{3, `"aaaa18db4cc2f85cedef654fccc4a4x8"`, 10485760, time.Date(2010, 11, 10, 20, 48, 33, 0, time.UTC)},
	}
	if !reflect.DeepEqual(parts, want) || !truncated || next != 3 {
		t.Errorf("got %+v %v %d, want %+v true 3", parts, truncated, next, want)
	}

	// RGW-like: no NextPartNumberMarker on a truncated page; continue after the last part.
	parts, truncated, next, err = parseListParts([]byte(`<ListPartsResult><IsTruncated>true</IsTruncated>` +
		`<Part><PartNumber>7</PartNumber><ETag></ETag><Size>5</Size><Type>Normal</Type></Part></ListPartsResult>`))
	if err != nil || len(parts) != 1 || !truncated || next != 7 || parts[0].ETag != "" {
		t.Errorf("no marker: got %+v %v %d %v, want one part, truncated, next 7", parts, truncated, next, err)
	}

	parts, truncated, _, err = parseListParts([]byte(`<ListPartsResult ` + opsNS + `><IsTruncated>false</IsTruncated></ListPartsResult>`))
	if err != nil || parts != nil || truncated {
		t.Errorf("empty: got %+v %v %v", parts, truncated, err)
	}

	for _, body := range []string{
		"", awsErrorXML,
		`<ListPartsResult><Part><PartNumber>0</PartNumber></Part></ListPartsResult>`,
		`<ListPartsResult><Part><PartNumber>10001</PartNumber></Part></ListPartsResult>`,
		`<ListPartsResult><Part><PartNumber>1</PartNumber><Size>big</Size></Part></ListPartsResult>`,
		`<ListPartsResult><NextPartNumberMarker>x</NextPartNumberMarker></ListPartsResult>`,
	} {
		if parts, _, _, err := parseListParts([]byte(body)); err == nil {
			t.Errorf("%q: got %+v, want an error", body, parts)
		}
	}
}

func TestOpsParseListBuckets(t *testing.T) {
	got, token, err := parseListBuckets([]byte(awsListBucketsXML))
	want := []BucketInfo{
		{"quotes", time.Date(2006, 2, 3, 16, 45, 9, 0, time.UTC)},
		{"samples", time.Date(2006, 2, 3, 16, 41, 58, 0, time.UTC)},
	}
	if err != nil || token != "" || !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v %q %v, want %+v", got, token, err, want)
	}
	got, token, err = parseListBuckets([]byte(`<ListAllMyBucketsResult><Buckets/>` +
		`<ContinuationToken>tok</ContinuationToken></ListAllMyBucketsResult>`))
	if err != nil || len(got) != 0 || token != "tok" {
		t.Errorf("empty page: got %+v %q %v", got, token, err)
	}
	for _, body := range []string{"", rgwErrorXML, `<ListAllMyBucketsResult><Buckets><Bucket/></Buckets></ListAllMyBucketsResult>`} {
		if got, _, err := parseListBuckets([]byte(body)); err == nil {
			t.Errorf("%q: got %+v, want an error", body, got)
		}
	}
}

func TestOpsParseCopyResult(t *testing.T) {
	etag, mod, err := parseCopyResult([]byte(awsCopyXML))
	if err != nil || etag != `"9b2cf535f27731c974343645a3985328"` || !mod.Equal(time.Date(2009, 10, 28, 22, 32, 0, 0, time.UTC)) {
		t.Errorf("object: got %q %v %v", etag, mod, err)
	}
	etag, mod, err = parseCopyResult([]byte(`<CopyPartResult ` + opsNS + `><LastModified>2009-10-28T22:32:00</LastModified>` +
		`<ETag>&quot;p&quot;</ETag></CopyPartResult>`))
	if err != nil || etag != `"p"` || !mod.IsZero() {
		t.Errorf("part: got %q %v %v, want \"p\" and a zero time", etag, mod, err)
	}
	for _, body := range []string{"", awsErrorXML, awsCompleteXML} {
		if etag, _, err := parseCopyResult([]byte(body)); err == nil {
			t.Errorf("%q: got %q, want an error", body, etag)
		}
	}
}

func TestOpsParseInitiateMultipart(t *testing.T) {
	id, err := parseInitiateMultipart([]byte(`<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult ` + opsNS +
		`><Bucket>b</Bucket><Key>k</Key><UploadId>2~abc</UploadId></InitiateMultipartUploadResult>`))
	if err != nil || id != "2~abc" {
		t.Errorf("got %q, %v", id, err)
	}
	if id, err := parseInitiateMultipart([]byte(`<InitiateMultipartUploadResult/>`)); err == nil {
		t.Errorf("no upload id: got %q, want an error", id)
	}
}

func TestOpsEmbeddedError(t *testing.T) {
	h := http.Header{"X-Amz-Request-Id": {"hdr-id"}}
	e := embeddedError("CompleteMultipartUpload", "b", "k", 200, h, []byte(awsErrorXML))
	if e == nil || e.Code != "InternalError" || e.Bucket != "b" || e.Key != "k" || e.StatusCode != 200 || e.RequestID != "hdr-id" ||
		!strings.Contains(e.Message, "internal error") || !retryable(&request{method: http.MethodGet}, e) {
		t.Errorf("aws: got %+v", e)
	}
	e = embeddedError("CopyObject", "b", "k", 200, http.Header{}, []byte(rgwErrorXML))
	if e == nil || e.Code != "NoSuchKey" || e.Message != "" || e.RequestID != "tx0000000000000000000a1-0065-default" ||
		!errors.Is(e, ErrNotFound) || retryable(&request{method: http.MethodGet}, e) {
		t.Errorf("rgw: got %+v", e)
	}
	if e := embeddedError("CopyObject", "b", "k", 200, http.Header{}, []byte(`<Error><Message>m</Message></Error>`)); e == nil || e.Code != "InternalError" {
		t.Errorf("no code: got %+v, want InternalError", e)
	}
	for _, body := range []string{"", "  ", awsCompleteXML, awsCopyXML, "<Errors/>", "not xml"} {
		if e := embeddedError("Op", "b", "k", 200, http.Header{}, []byte(body)); e != nil {
			t.Errorf("%q: got %v, want nil", body, e)
		}
	}
}

func TestOpsCompleteBody(t *testing.T) {
	got := string(completeBody([]CompletedPart{{3, `"c"`}, {1, `"a&<b>"`}, {2, `"b-1"`}}))
	want := `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
		`<Part><PartNumber>1</PartNumber><ETag>"a&amp;&lt;b&gt;"</ETag></Part>` +
		`<Part><PartNumber>2</PartNumber><ETag>"b-1"</ETag></Part>` +
		`<Part><PartNumber>3</PartNumber><ETag>"c"</ETag></Part></CompleteMultipartUpload>`
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestOpsParseListV1(t *testing.T) {
	const enc = "<EncodingType>url</EncodingType>"
	v1 := func(inner string) string {
		return listXML("<Prefix></Prefix><Marker></Marker><MaxKeys>2</MaxKeys>" + inner)
	}
	tests := []struct {
		name         string
		body         string
		wantKeys     []string
		wantPrefixes []string
		wantToken    string
	}{
		{"complete", v1("<IsTruncated>false</IsTruncated>" + object("a")), []string{"a"}, nil, ""},
		{"next marker", v1(enc + "<IsTruncated>true</IsTruncated><NextMarker>b+c%2F</NextMarker>" + object("a") + object("b+c%2F")),
			[]string{"a", "b c/"}, nil, "b c/"},
		{"last key", v1(enc + "<IsTruncated>true</IsTruncated>" + object("a") + object("%C3%A9+x")),
			[]string{"a", "é x"}, nil, "é x"},
		{"last prefix after last key", v1(enc + "<Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>" + object("a") +
			"<CommonPrefixes><Prefix>d%2F</Prefix></CommonPrefixes>"), []string{"a"}, []string{"d/"}, "d/"},
		{"last key after last prefix", v1("<IsTruncated>true</IsTruncated>" + object("z") +
			"<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes>"), []string{"z"}, []string{"d/"}, "z"},
		{"rgw Type", v1("<IsTruncated>true</IsTruncated><Contents><Key>k</Key><Size>1</Size><Type>Normal</Type></Contents>"),
			[]string{"k"}, nil, "k"},
	}
	for _, tt := range tests {
		page, err := parseListV1([]byte(tt.body))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var keys []string
		for _, o := range page.Objects {
			keys = append(keys, o.Key)
		}
		if !reflect.DeepEqual(keys, tt.wantKeys) || !reflect.DeepEqual(page.CommonPrefixes, tt.wantPrefixes) {
			t.Errorf("%s: got %q %q, want %q %q", tt.name, keys, page.CommonPrefixes, tt.wantKeys, tt.wantPrefixes)
		}
		if page.NextContinuationToken != tt.wantToken || page.IsTruncated != (tt.wantToken != "") {
			t.Errorf("%s: got token %q truncated %v, want %q", tt.name, page.NextContinuationToken, page.IsTruncated, tt.wantToken)
		}
	}
	for _, body := range []string{"", awsErrorXML, v1("<IsTruncated>true</IsTruncated>"),
		v1(enc + "<IsTruncated>true</IsTruncated><NextMarker>%zz</NextMarker>" + object("a"))} {
		if page, err := parseListV1([]byte(body)); err == nil {
			t.Errorf("%q: got %+v, want an error", body, page)
		}
	}
}
