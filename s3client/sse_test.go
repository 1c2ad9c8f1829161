package s3client

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCustomerKey is 32 bytes: "0123456789abcdef0123456789abcdef".
var testCustomerKey = []byte("0123456789abcdef0123456789abcdef")

// Golden values: base64 of testCustomerKey and of its MD5
// (echo -n 0123456789abcdef0123456789abcdef | openssl md5 -binary | base64).
const (
	testCustomerKeyB64    = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	testCustomerKeyMD5B64 = "hRasmdxgYDKV3nvbahU1MA=="
)

func TestEncryptionHeaderGolden(t *testing.T) {
	ssec := map[string]string{
		"X-Amz-Server-Side-Encryption-Customer-Algorithm": "AES256",
		"X-Amz-Server-Side-Encryption-Customer-Key":       testCustomerKeyB64,
		"X-Amz-Server-Side-Encryption-Customer-Key-Md5":   testCustomerKeyMD5B64,
	}
	ssecCopy := map[string]string{
		"X-Amz-Copy-Source-Server-Side-Encryption-Customer-Algorithm": "AES256",
		"X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key":       testCustomerKeyB64,
		"X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key-Md5":   testCustomerKeyMD5B64,
	}
	merge := func(ms ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	kms := Encryption{Mode: SSEKMS, KMSKeyID: "my-key"}
	c := Encryption{Mode: SSEC, CustomerKey: testCustomerKey}
	for _, tc := range []struct {
		enc   Encryption
		class string
		op    string
		want  map[string]string
	}{
		{Encryption{}, "", "PutObject", map[string]string{}},
		{Encryption{}, "STANDARD_IA", "PutObject", map[string]string{"X-Amz-Storage-Class": "STANDARD_IA"}},
		{Encryption{}, "STANDARD_IA", "GetObject", map[string]string{}},
		{Encryption{}, "STANDARD_IA", "UploadPart", map[string]string{}},
		{Encryption{Mode: SSES3}, "", "PutObject", map[string]string{"X-Amz-Server-Side-Encryption": "AES256"}},
		{Encryption{Mode: SSES3}, "", "CreateMultipartUpload", map[string]string{"X-Amz-Server-Side-Encryption": "AES256"}},
		{Encryption{Mode: SSES3}, "", "CopyObject", map[string]string{"X-Amz-Server-Side-Encryption": "AES256"}},
		{Encryption{Mode: SSES3}, "", "UploadPart", map[string]string{}},
		{Encryption{Mode: SSES3}, "", "HeadObject", map[string]string{}},
		{Encryption{Mode: SSEKMS}, "", "PutObject", map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms"}},
		{kms, "GLACIER_IR", "CreateMultipartUpload", map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms",
			"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "my-key", "X-Amz-Storage-Class": "GLACIER_IR"}},
		{kms, "", "GetObject", map[string]string{}},
		{c, "", "PutObject", ssec},
		{c, "", "GetObject", ssec},
		{c, "", "HeadObject", ssec},
		{c, "", "CreateMultipartUpload", ssec},
		{c, "", "UploadPart", ssec},
		{c, "", "CompleteMultipartUpload", ssec},
		{c, "", "CopyObject", merge(ssec, ssecCopy)},
		{c, "", "UploadPartCopy", merge(ssec, ssecCopy)},
		{c, "", "DeleteObject", map[string]string{}},
		{c, "", "ListObjectsV2", map[string]string{}},
		{c, "", "AbortMultipartUpload", map[string]string{}},
		{c, "", "HeadBucket", map[string]string{}},
	} {
		h := encryptionHeader(tc.enc, tc.class, tc.op)
		got := map[string]string{}
		for k := range h {
			got[k] = h.Get(k)
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s %s %q: got %v, want %v", tc.enc, tc.class, tc.op, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s %s %q: %s = %q, want %q", tc.enc, tc.class, tc.op, k, got[k], v)
			}
		}
	}
}

func TestEncryptionValidate(t *testing.T) {
	for _, tc := range []struct {
		enc    Encryption
		scheme string
		errHas string // "" is valid
	}{
		{Encryption{}, "http", ""},
		{Encryption{Mode: SSES3}, "http", ""},
		{Encryption{Mode: SSEKMS, KMSKeyID: "k"}, "http", ""},
		{Encryption{Mode: SSEC, CustomerKey: testCustomerKey}, "https", ""},
		{Encryption{Mode: SSEC, CustomerKey: testCustomerKey}, "http", "needs an https:// endpoint"},
		{Encryption{Mode: SSEC, CustomerKey: testCustomerKey[:16]}, "https", "16 bytes: want 32"},
		{Encryption{Mode: SSES3, KMSKeyID: "k"}, "http", "SSE-KMS (aws:kms) only"},
		{Encryption{Mode: "aes"}, "http", `invalid server-side encryption "aes"`},
	} {
		err := tc.enc.validate(tc.scheme)
		switch {
		case tc.errHas == "" && err != nil:
			t.Errorf("%+v over %s: %v", tc.enc.Mode, tc.scheme, err)
		case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
			t.Errorf("%+v over %s: got %v, want an error with %q", tc.enc.Mode, tc.scheme, err, tc.errHas)
		}
	}
	// New refuses what validate refuses.
	if _, err := New(Options{Endpoint: "http://127.0.0.1:1", Encryption: Encryption{Mode: SSEC, CustomerKey: testCustomerKey}}); err == nil ||
		!strings.Contains(err.Error(), "https") {
		t.Errorf("New: SSE-C over http: got %v", err)
	}
	if s := (Encryption{Mode: SSEC, CustomerKey: testCustomerKey}).String(); strings.Contains(s, string(testCustomerKey)) ||
		strings.Contains(s, testCustomerKeyB64) {
		t.Errorf("String shows the key: %q", s)
	}
}

// TestEncryptionHeadersSent: the headers reach the server, signed, on the
// operations they belong to, and only on those.
func TestEncryptionHeadersSent(t *testing.T) {
	var log opsLog
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		switch {
		case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
			io.WriteString(w, awsCopyXML)
		case r.Method == http.MethodGet:
			w.Header().Set("Content-Range", "bytes 0-2/3")
			w.WriteHeader(http.StatusPartialContent)
			io.WriteString(w, "abc")
		}
	}))
	t.Cleanup(srv.Close)
	for _, sig := range []string{SignatureV4, SignatureV2} {
		log = opsLog{}
		c, err := New(Options{Endpoint: srv.URL, Signature: sig, RetryBase: time.Millisecond,
			HTTPClient:   &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}},
			Credentials:  Credentials{AccessKey: "AKIDEXAMPLE", SecretKey: "secret"},
			Encryption:   Encryption{Mode: SSEC, CustomerKey: testCustomerKey},
			StorageClass: "STANDARD_IA"})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := c.PutObject(ctx, "b", "k", strings.NewReader("abc"), 3, PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadObject(ctx, "b", "k", 0, make([]byte, 3), GetOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CopyObject(ctx, "b", "k2", "b", "k", CopyOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteObject(ctx, "b", "k"); err != nil {
			t.Fatal(err)
		}
		if log.n() != 4 {
			t.Fatalf("%s: %d requests, want 4", sig, log.n())
		}
		for i, want := range []struct {
			key, copyKey, class bool
		}{{true, false, true}, {true, false, false}, {true, true, true}, {false, false, false}} {
			r := log.reqs[i]
			if got := r.Header.Get("X-Amz-Server-Side-Encryption-Customer-Key") == testCustomerKeyB64; got != want.key {
				t.Errorf("%s %s: customer key sent %v, want %v", sig, r.Method, got, want.key)
			}
			if got := r.Header.Get("X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key") == testCustomerKeyB64; got != want.copyKey {
				t.Errorf("%s %s: copy-source key sent %v, want %v", sig, r.Method, got, want.copyKey)
			}
			if got := r.Header.Get("X-Amz-Storage-Class") == "STANDARD_IA"; got != want.class {
				t.Errorf("%s %s: storage class sent %v, want %v", sig, r.Method, got, want.class)
			}
			auth := r.Header.Get("Authorization")
			if sig == SignatureV4 && want.key && !strings.Contains(auth, "x-amz-server-side-encryption-customer-key") {
				t.Errorf("%s %s: the customer key header is not signed: %s", sig, r.Method, auth)
			}
		}
	}
}

func TestReadCustomerKeyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	raw := []byte("\n\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d ")
	for _, tc := range []struct {
		name string
		data []byte
		mode os.FileMode
		want []byte // nil: an error
	}{
		{"raw", raw, 0o600, raw},
		{"text", testCustomerKey, 0o400, testCustomerKey},
		{"text-nl", append(append([]byte{}, testCustomerKey...), '\n'), 0o600, testCustomerKey},
		{"b64", []byte(testCustomerKeyB64 + "\n"), 0o600, testCustomerKey},
		{"short", []byte("0123456789abcdef\n"), 0o600, nil},
		{"open", testCustomerKey, 0o644, nil},
	} {
		key, err := ReadCustomerKeyFile(write(tc.name, tc.data, tc.mode))
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("%s: no error", tc.name)
		case tc.want != nil && (err != nil || string(key) != string(tc.want)):
			t.Errorf("%s: got %q, %v", tc.name, key, err)
		case err != nil && strings.Contains(err.Error(), string(testCustomerKey)):
			t.Errorf("%s: the error shows the key: %v", tc.name, err)
		}
	}
	if _, err := ReadCustomerKeyFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestObjectInfoEncryption(t *testing.T) {
	for _, tc := range []struct {
		header map[string]string
		mode   string
		kmsKey string
		class  string
	}{
		{map[string]string{}, SSENone, "", ""},
		{map[string]string{"X-Amz-Server-Side-Encryption": "AES256"}, SSES3, "", ""},
		{map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms", "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "arn:k",
			"X-Amz-Storage-Class": "STANDARD_IA"}, SSEKMS, "arn:k", "STANDARD_IA"},
		{map[string]string{"X-Amz-Server-Side-Encryption-Customer-Algorithm": "AES256",
			"X-Amz-Server-Side-Encryption-Customer-Key-Md5": testCustomerKeyMD5B64}, SSEC, "", ""},
	} {
		resp := &http.Response{Header: http.Header{}}
		for k, v := range tc.header {
			resp.Header.Set(k, v)
		}
		info := objectInfo("k", resp)
		if info.Encryption != tc.mode || info.KMSKeyID != tc.kmsKey || info.StorageClass != tc.class ||
			info.Encrypted() != (tc.mode != SSENone) {
			t.Errorf("%v: got %q %q %q encrypted %v", tc.header, info.Encryption, info.KMSKeyID, info.StorageClass, info.Encrypted())
		}
	}
}

func TestUnconfirmedEncryption(t *testing.T) {
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	s3, kms, c := Encryption{Mode: SSES3}, Encryption{Mode: SSEKMS}, Encryption{Mode: SSEC, CustomerKey: testCustomerKey}
	for _, tc := range []struct {
		enc     Encryption
		op      string
		h       http.Header
		warning bool
	}{
		{Encryption{}, "PutObject", h(), false},
		{s3, "PutObject", h("X-Amz-Server-Side-Encryption", "AES256"), false},
		{s3, "PutObject", h(), true}, // Ceph RGW 16
		{s3, "PutObject", h("X-Amz-Server-Side-Encryption", "aws:kms"), true},
		{kms, "PutObject", h("X-Amz-Server-Side-Encryption", "aws:kms"), false},
		{kms, "CopyObject", h(), false}, // not said by MinIO
		{kms, "CompleteMultipartUpload", h(), false},
		{c, "PutObject", h("X-Amz-Server-Side-Encryption-Customer-Algorithm", "AES256"), false},
		{c, "PutObject", h(), true},
		{c, "GetObject", h(), false},
	} {
		if got := unconfirmedEncryption(tc.enc, tc.op, tc.h) != ""; got != tc.warning {
			t.Errorf("%s %s %v: warning %v, want %v", tc.enc, tc.op, tc.h, got, tc.warning)
		}
	}
}
