package fs

import (
	"crypto/md5"
	"encoding/hex"
	"testing"

	"github.com/bucketfs/bucketfs/s3client"
)

// TestETagSumEncrypted: an encrypted object's ETag is not checked (SSE-KMS
// and SSE-C ETags are not the MD5 of the content), a plain one is.
func TestETagSumEncrypted(t *testing.T) {
	data := []byte("some bytes")
	sum := md5.Sum(data)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	for _, mode := range []string{s3client.SSES3, s3client.SSEKMS, s3client.SSEC} {
		if s := newETagSum(&s3client.ObjectInfo{ETag: etag, Encryption: mode}, int64(len(data))); s != nil {
			t.Errorf("%s: the ETag of an encrypted object is checked", mode)
		}
	}
	s := newETagSum(&s3client.ObjectInfo{ETag: etag}, int64(len(data)))
	if s == nil {
		t.Fatal("the ETag of a plain single-PUT object is not checked")
	}
	s.Write(data)
	if got, ok := s.check(); !ok {
		t.Errorf("check: got %s, want %s", got, etag)
	}
}
