package faultproxy_test

import (
	"net/http/httptest"
	"testing"

	"github.com/bucketfs/bucketfs/test/faultproxy"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		method, target string
		copySource     bool
		op             faultproxy.Op
		bucket, key    string
	}{
		{"GET", "/b/k", false, faultproxy.GetObject, "b", "k"},
		{"GET", "/b/dir/a%20b%2Bc", false, faultproxy.GetObject, "b", "dir/a b+c"},
		{"GET", "/b/k?versionId=3&partNumber=2", false, faultproxy.GetObject, "b", "k"},
		{"HEAD", "/b/k", false, faultproxy.HeadObject, "b", "k"},
		{"PUT", "/b/k", false, faultproxy.PutObject, "b", "k"},
		{"PUT", "/b/k?x-id=PutObject", false, faultproxy.PutObject, "b", "k"},
		{"PUT", "/b/k?partNumber=3&uploadId=u", false, faultproxy.UploadPart, "b", "k"},
		{"PUT", "/b/k?partNumber=3&uploadId=u", true, faultproxy.UploadPart, "b", "k"},
		{"PUT", "/b/k", true, faultproxy.CopyObject, "b", "k"},
		{"POST", "/b/k?uploads", false, faultproxy.CreateMultipartUpload, "b", "k"},
		{"POST", "/b/k?uploads=", false, faultproxy.CreateMultipartUpload, "b", "k"},
		{"POST", "/b/k?uploadId=u", false, faultproxy.CompleteMultipartUpload, "b", "k"},
		{"DELETE", "/b/k?uploadId=u", false, faultproxy.AbortMultipartUpload, "b", "k"},
		{"DELETE", "/b/k", false, faultproxy.DeleteObject, "b", "k"},
		{"GET", "/b", false, faultproxy.ListObjects, "b", ""},
		{"GET", "/b/", false, faultproxy.ListObjects, "b", ""},
		{"GET", "/b?list-type=2&prefix=a%2F&delimiter=%2F&continuation-token=x", false, faultproxy.ListObjects, "b", ""},
		{"GET", "/b/?prefix=a/&marker=m&max-keys=10&encoding-type=url", false, faultproxy.ListObjects, "b", ""},
		{"HEAD", "/b", false, faultproxy.HeadBucket, "b", ""},
		{"HEAD", "/b/", false, faultproxy.HeadBucket, "b", ""},
		{"GET", "/", false, faultproxy.Other, "", ""},                 // ListBuckets
		{"PUT", "/b", false, faultproxy.Other, "b", ""},               // CreateBucket
		{"DELETE", "/b", false, faultproxy.Other, "b", ""},            // DeleteBucket
		{"POST", "/b?delete", false, faultproxy.Other, "b", ""},       // DeleteObjects
		{"GET", "/b?location", false, faultproxy.Other, "b", ""},      // GetBucketLocation
		{"GET", "/b?uploads", false, faultproxy.Other, "b", ""},       // ListMultipartUploads
		{"GET", "/b?versions", false, faultproxy.Other, "b", ""},      // ListObjectVersions
		{"GET", "/b/k?uploadId=u", false, faultproxy.Other, "b", "k"}, // ListParts
		{"GET", "/b/k?acl", false, faultproxy.Other, "b", "k"},        // GetObjectAcl
		{"PUT", "/b/k?tagging", false, faultproxy.Other, "b", "k"},    // PutObjectTagging
		{"DELETE", "/b/k?tagging", false, faultproxy.Other, "b", "k"}, // DeleteObjectTagging
		{"PUT", "/b/k?uploadId=u", false, faultproxy.Other, "b", "k"}, // malformed part
		{"POST", "/b/k?restore", false, faultproxy.Other, "b", "k"},   // RestoreObject
		{"OPTIONS", "/b/k", false, faultproxy.Other, "b", "k"},        // CORS preflight
	} {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		if tc.copySource {
			r.Header.Set("X-Amz-Copy-Source", "/b/src")
		}
		op, bucket, key := faultproxy.Classify(r)
		if op != tc.op || bucket != tc.bucket || key != tc.key {
			t.Errorf("%s %s (copy %v): got %s %q %q, want %s %q %q",
				tc.method, tc.target, tc.copySource, op, bucket, key, tc.op, tc.bucket, tc.key)
		}
	}
}
