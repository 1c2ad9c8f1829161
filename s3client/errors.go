package s3client

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors for errors.Is on an *Error.
var (
	ErrNotFound           = errors.New("not found")
	errBucketNotFound     = errors.New("bucket not found")
	ErrAccessDenied       = errors.New("access denied")
	ErrBucketNotEmpty     = errors.New("bucket not empty")
	ErrAlreadyExists      = errors.New("already exists")
	ErrInvalidName        = errors.New("invalid name")
	ErrKeyTooLong         = errors.New("key too long")
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrBucketNameRefused is a HEAD bucket answered 400 Bad Request. A
	// HEAD answer has no body to say InvalidBucketName: this is how a
	// server refuses a name no bucket can have, so no such bucket exists.
	ErrBucketNameRefused = errors.New("bucket name refused")
)

// Error is an S3 error response, with the request it answered.
type Error struct {
	Op         string // operation, e.g. "PutObject"
	Bucket     string
	Key        string
	StatusCode int
	Code       string // S3 error code, e.g. "NoSuchKey"
	Message    string
	RequestID  string
}

func (e *Error) Error() string {
	where := e.Bucket
	if e.Key != "" {
		where += "/" + e.Key
	}
	msg := fmt.Sprintf("s3 %s %q: %s (HTTP %d", e.Op, where, e.Code, e.StatusCode)
	if e.RequestID != "" {
		msg += ", request id " + e.RequestID
	}
	msg += ")"
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Is reports whether e is of the kind named by one of the sentinel errors.
func (e *Error) Is(target error) bool {
	switch target {
	case errBucketNotFound:
		return e.Code == "NoSuchBucket"
	case ErrNotFound:
		switch e.Code {
		case "NoSuchKey", "NoSuchBucket", "NotFound", "NoSuchUpload":
			return true
		}
		return e.StatusCode == http.StatusNotFound
	case ErrAccessDenied:
		return e.Code == "AccessDenied" || e.Code == "InvalidAccessKeyId" ||
			e.Code == "SignatureDoesNotMatch" || e.StatusCode == http.StatusForbidden
	case ErrBucketNotEmpty:
		return e.Code == "BucketNotEmpty"
	case ErrAlreadyExists:
		return e.Code == "BucketAlreadyExists" || e.Code == "BucketAlreadyOwnedByYou"
	case ErrInvalidName:
		return e.Code == "InvalidBucketName"
	case ErrKeyTooLong:
		return e.Code == "KeyTooLongError"
	case ErrPreconditionFailed:
		return e.Code == "PreconditionFailed" || e.StatusCode == http.StatusPreconditionFailed
	case ErrBucketNameRefused:
		return e.Op == "HeadBucket" && e.StatusCode == http.StatusBadRequest
	}
	return false
}

// xmlError is the body of an S3 error response.
type xmlError struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId"`
}

// parseError builds an *Error from a response; body may be empty (HEAD).
func parseError(op, bucket, key string, status int, header http.Header, body []byte) *Error {
	e := &Error{Op: op, Bucket: bucket, Key: key, StatusCode: status, RequestID: header.Get("x-amz-request-id")}
	var x xmlError
	if len(body) > 0 && xml.Unmarshal(body, &x) == nil {
		e.Code, e.Message = x.Code, x.Message
		if e.RequestID == "" {
			e.RequestID = x.RequestID
		}
	}
	if e.Code == "" {
		e.Code = codeForStatus(status, key)
	}
	return e
}

// codeForStatus names the error of a response without a body.
func codeForStatus(status int, key string) string {
	switch status {
	case http.StatusNotFound:
		if key == "" {
			return "NoSuchBucket"
		}
		return "NoSuchKey"
	case http.StatusForbidden:
		return "AccessDenied"
	case http.StatusPreconditionFailed:
		return "PreconditionFailed"
	case http.StatusNotModified:
		return "NotModified"
	case http.StatusBadRequest:
		return "BadRequest"
	case http.StatusConflict:
		return "Conflict"
	}
	return http.StatusText(status)
}
