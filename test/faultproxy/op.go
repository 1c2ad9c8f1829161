package faultproxy

import (
	"net/http"
	"net/url"
	"strings"
)

// Op is the S3 operation a request performs, as Classify names it.
type Op string

// The operations Classify tells apart. Requests it does not recognise
// (ListBuckets, CreateBucket, ?acl, ?tagging, ListParts, …) are Other.
const (
	GetObject               Op = "GetObject"
	HeadObject              Op = "HeadObject"
	PutObject               Op = "PutObject"
	CopyObject              Op = "CopyObject"
	DeleteObject            Op = "DeleteObject"
	CreateMultipartUpload   Op = "CreateMultipartUpload"
	UploadPart              Op = "UploadPart"
	CompleteMultipartUpload Op = "CompleteMultipartUpload"
	AbortMultipartUpload    Op = "AbortMultipartUpload"
	ListObjects             Op = "ListObjects"
	HeadBucket              Op = "HeadBucket"
	Other                   Op = "Other"
)

// isListParam reports whether p is a query parameter of ListObjects (v1
// or v2); a GET on a bucket with any other parameter asks for a
// sub-resource (?location, ?versions, ?uploads, …) and is Other.
func isListParam(p string) bool {
	switch p {
	case "list-type", "prefix", "delimiter", "marker", "max-keys",
		"continuation-token", "start-after", "encoding-type", "fetch-owner", "x-id":
		return true
	}
	return false
}

// isObjectSubresource reports whether the query parameter p turns a
// request on a key into something other than the plain object operation.
func isObjectSubresource(p string) bool {
	switch p {
	case "acl", "tagging", "retention", "legal-hold", "attributes", "torrent", "restore", "select":
		return true
	}
	return false
}

// Classify names the S3 operation of a path-style request (/bucket or
// /bucket/ is the bucket, /bucket/key an object) from its method, query
// and the x-amz-copy-source header, and returns the decoded bucket and
// key. Virtual-hosted requests are not recognised: their bucket is in
// the Host header, which Classify does not read.
//
// UploadPartCopy (PUT with partNumber, uploadId and x-amz-copy-source)
// is UploadPart.
func Classify(r *http.Request) (op Op, bucket, key string) {
	bucket, key, _ = strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	q := r.URL.Query()
	if bucket == "" {
		return Other, "", ""
	}
	if key == "" {
		return classifyBucket(r.Method, q), bucket, ""
	}
	return classifyObject(r.Method, q, r.Header), bucket, key
}

// classifyBucket names a request on a bucket.
func classifyBucket(method string, q url.Values) Op {
	switch method {
	case http.MethodHead:
		return HeadBucket
	case http.MethodGet:
		for p := range q {
			if !isListParam(p) {
				return Other
			}
		}
		return ListObjects
	}
	return Other
}

// classifyObject names a request on a key.
func classifyObject(method string, q url.Values, h http.Header) Op {
	for p := range q {
		if isObjectSubresource(p) {
			return Other
		}
	}
	switch method {
	case http.MethodGet:
		if q.Has("uploadId") {
			return Other // ListParts
		}
		return GetObject
	case http.MethodHead:
		return HeadObject
	case http.MethodPut:
		switch {
		case q.Has("partNumber") && q.Has("uploadId"):
			return UploadPart
		case q.Has("partNumber") || q.Has("uploadId"):
			return Other
		case h.Get("X-Amz-Copy-Source") != "":
			return CopyObject
		}
		return PutObject
	case http.MethodPost:
		switch {
		case q.Has("uploads"):
			return CreateMultipartUpload
		case q.Has("uploadId"):
			return CompleteMultipartUpload
		}
		return Other
	case http.MethodDelete:
		if q.Has("uploadId") {
			return AbortMultipartUpload
		}
		return DeleteObject
	}
	return Other
}
