package s3client

import (
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/sirupsen/logrus"
)

// Server-side encryption modes (Encryption.Mode).
const (
	SSENone = ""        // the bucket's default
	SSES3   = "AES256"  // SSE-S3: keys kept by the server
	SSEKMS  = "aws:kms" // SSE-KMS: a key of the server's KMS
	SSEC    = "SSE-C"   // SSE-C: a key of ours, sent with every request
)

// CustomerKeySize is the size of an SSE-C key (AES-256).
const CustomerKeySize = 32

// Encryption says how objects the client writes are encrypted by the
// server.
type Encryption struct {
	Mode string // SSENone, SSES3, SSEKMS or SSEC
	// KMSKeyID names the SSE-KMS key; "" is the server's default key.
	KMSKeyID string
	// CustomerKey is the SSE-C key, CustomerKeySize bytes. It is sent,
	// with its MD5, on every request that writes or reads object data
	// or metadata, and as the copy source's key of a server-side copy:
	// every object the client reads must be encrypted with it.
	CustomerKey []byte
}

// String describes e for logs, never with the key.
func (e Encryption) String() string {
	switch e.Mode {
	case SSENone:
		return "none"
	case SSEKMS:
		if e.KMSKeyID != "" {
			return "SSE-KMS (key " + e.KMSKeyID + ")"
		}
		return "SSE-KMS (the server's default key)"
	case SSES3:
		return "SSE-S3"
	case SSEC:
		return "SSE-C"
	}
	return e.Mode
}

// validate checks e for an endpoint of scheme.
func (e Encryption) validate(scheme string) error {
	switch e.Mode {
	case SSENone, SSES3:
	case SSEKMS:
	case SSEC:
		if len(e.CustomerKey) != CustomerKeySize {
			return fmt.Errorf("SSE-C key is %d bytes: want %d (AES-256)", len(e.CustomerKey), CustomerKeySize)
		}
		if scheme != "https" {
			return fmt.Errorf("SSE-C sends the encryption key with every request: it needs an https:// endpoint, not %s://", scheme)
		}
	default:
		return fmt.Errorf("invalid server-side encryption %q: want %s or %s (or an SSE-C key)", e.Mode, SSES3, SSEKMS)
	}
	if e.KMSKeyID != "" && e.Mode != SSEKMS {
		return fmt.Errorf("a KMS key id is for SSE-KMS (%s) only", SSEKMS)
	}
	return nil
}

// Which operations carry which headers.
var (
	// writesObject: the operations that create an object, which carry
	// SSE-S3/SSE-KMS headers and the storage class.
	writesObject = map[string]bool{"PutObject": true, "CreateMultipartUpload": true, "CopyObject": true}
	// usesCustomerKey: the operations that need the SSE-C key of the
	// object they name.
	usesCustomerKey = map[string]bool{"PutObject": true, "GetObject": true, "HeadObject": true,
		"CreateMultipartUpload": true, "UploadPart": true, "UploadPartCopy": true,
		"CompleteMultipartUpload": true, "CopyObject": true}
	// copiesObject: the operations whose source needs the SSE-C key too.
	copiesObject = map[string]bool{"CopyObject": true, "UploadPartCopy": true}
)

// encryptionHeader returns the headers op carries for e and the storage
// class ("" for the server's default): a pure function of its arguments.
func encryptionHeader(e Encryption, storageClass, op string) http.Header {
	h := http.Header{}
	if writesObject[op] {
		if storageClass != "" {
			h.Set("X-Amz-Storage-Class", storageClass)
		}
		switch e.Mode {
		case SSES3:
			h.Set("X-Amz-Server-Side-Encryption", SSES3)
		case SSEKMS:
			h.Set("X-Amz-Server-Side-Encryption", SSEKMS)
			if e.KMSKeyID != "" {
				h.Set("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", e.KMSKeyID)
			}
		}
	}
	if e.Mode == SSEC && usesCustomerKey[op] {
		key := base64.StdEncoding.EncodeToString(e.CustomerKey)
		sum := md5.Sum(e.CustomerKey)
		keyMD5 := base64.StdEncoding.EncodeToString(sum[:])
		prefixes := []string{"X-Amz-Server-Side-Encryption-Customer-"}
		if copiesObject[op] {
			prefixes = append(prefixes, "X-Amz-Copy-Source-Server-Side-Encryption-Customer-")
		}
		for _, p := range prefixes {
			h.Set(p+"Algorithm", "AES256")
			h.Set(p+"Key", key)
			h.Set(p+"Key-Md5", keyMD5)
		}
	}
	return h
}

// ReadCustomerKeyFile reads an SSE-C key from path, which group and
// others must have no permission on: 32 bytes of key, or the same as
// 32 characters of text or as base64 (44 characters), with or without
// a final newline.
func ReadCustomerKeyFile(path string) ([]byte, error) {
	data, mode, err := readCredentialFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read SSE-C key file: %w", err)
	}
	if mode&0o077 != 0 {
		return nil, fmt.Errorf("SSE-C key file %s is accessible by group or others (mode %04o): chmod 600 it", path, mode)
	}
	if len(data) == CustomerKeySize {
		return data, nil
	}
	text := strings.TrimSpace(string(data))
	if len(text) == CustomerKeySize {
		return []byte(text), nil
	}
	if key, err := base64.StdEncoding.DecodeString(text); err == nil && len(key) == CustomerKeySize {
		return key, nil
	}
	return nil, fmt.Errorf("SSE-C key file %s holds %d bytes: want a %d-byte key, as raw bytes, text or base64", path, len(data), CustomerKeySize)
}

// confirmsEncryption: the operations whose answer says how the object
// they made is encrypted, on every server tested: PutObject alone (MinIO
// does not say it in the answers of a copy or a multipart upload, Ceph
// RGW not in that of a multipart upload's completion).
var confirmsEncryption = map[string]bool{"PutObject": true}

// unconfirmedEncryption returns why the answer h to op does not confirm
// the encryption e asked for, or "" if it does (or says nothing is due).
func unconfirmedEncryption(e Encryption, op string, h http.Header) string {
	if e.Mode == SSENone || !confirmsEncryption[op] {
		return ""
	}
	got := h.Get("X-Amz-Server-Side-Encryption")
	if e.Mode == SSEC {
		got = h.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm")
	}
	if got == "" {
		return "the answer names no server-side encryption"
	}
	if e.Mode != SSEC && got != e.Mode {
		return "the server says " + got
	}
	return ""
}

// checkEncryption warns, once per client, of an object the server may
// have stored without the encryption asked for (Ceph RGW 16 takes
// "x-amz-server-side-encryption: AES256" and stores the object plain).
func (c *Client) checkEncryption(r *request, h http.Header) {
	why := unconfirmedEncryption(c.opts.Encryption, r.op, h)
	if why == "" {
		return
	}
	c.mu.Lock()
	first := !c.encryptionWarned
	c.encryptionWarned = true
	c.mu.Unlock()
	if first {
		c.log.WithFields(logrus.Fields{"op": r.op, "bucket": r.bucket, "key": r.key}).
			Errorf("server-side encryption %s was asked for but not confirmed (%s): the server may store objects unencrypted; "+
				"check with the server's tools (this is said once)", c.opts.Encryption, why)
	}
}
