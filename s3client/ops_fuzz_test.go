package s3client

import (
	"net/http"
	"testing"
)

// FuzzParseMultipartXML feeds one body to every parser of the multipart,
// copy, bucket-list and V1-list answers: none may panic, each either
// fails or returns a result that keeps its promises, and a body that is an
// <Error> is an error to all of them.
func FuzzParseMultipartXML(f *testing.F) {
	for _, s := range []string{
		awsCompleteXML, rgwCompleteXML, awsErrorXML, rgwErrorXML, awsListPartsXML, awsListBucketsXML, awsCopyXML,
		`<InitiateMultipartUploadResult><UploadId>u</UploadId></InitiateMultipartUploadResult>`,
		`<ListPartsResult><IsTruncated>true</IsTruncated><Part><PartNumber>9</PartNumber></Part></ListPartsResult>`,
		`<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>-1</NextPartNumberMarker></ListPartsResult>`,
		listXML("<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated><NextMarker>a%2F</NextMarker>" + object("a%2F")),
		listXML("<IsTruncated>true</IsTruncated><CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes>"),
		`<Error><Code></Code></Error>`, "", "<", "\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		isError := embeddedError("Op", "b", "k", 200, http.Header{}, body) != nil
		if isError && rootElement(body) != "Error" {
			t.Fatalf("embeddedError on a body whose root is %q", rootElement(body))
		}
		if e := embeddedError("Op", "b", "k", 200, http.Header{}, body); e != nil && (e.Code == "" || e.Bucket != "b" || e.Key != "k") {
			t.Fatalf("embedded error without code or context: %+v", e)
		}

		if etag, err := parseCompleteMultipart(body); err == nil && isError {
			t.Fatalf("complete: error body parsed as ETag %q", etag)
		}
		if id, err := parseInitiateMultipart(body); err == nil && (id == "" || isError) {
			t.Fatalf("initiate: got upload id %q from %q", id, body)
		}
		if etag, _, err := parseCopyResult(body); err == nil && isError {
			t.Fatalf("copy: error body parsed as ETag %q", etag)
		}
		if parts, truncated, next, err := parseListParts(body); err == nil {
			if isError {
				t.Fatal("list parts: error body parsed")
			}
			for _, p := range parts {
				if p.PartNumber < 1 || p.PartNumber > MaxParts {
					t.Fatalf("list parts: part number %d", p.PartNumber)
				}
			}
			if next < 0 || truncated && len(parts) > 0 && next == 0 {
				t.Fatalf("list parts: truncated %v with next marker %d after %d parts", truncated, next, len(parts))
			}
		}
		if buckets, _, err := parseListBuckets(body); err == nil {
			for _, b := range buckets {
				if b.Name == "" || isError {
					t.Fatalf("list buckets: got %+v", buckets)
				}
			}
		}
		page, err := parseListV1(body)
		if err != nil {
			if page != nil {
				t.Fatalf("list v1: page %+v with error %v", page, err)
			}
			return
		}
		if isError || page.IsTruncated != (page.NextContinuationToken != "") {
			t.Fatalf("list v1: truncated %v with token %q", page.IsTruncated, page.NextContinuationToken)
		}
	})
}
