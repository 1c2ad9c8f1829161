package fs

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"hash"
	"regexp"
	"strconv"
	"strings"

	"github.com/bucketfs/bucketfs/s3client"
)

// partSizeMeta is the metadata (x-amz-meta-bucketfs-part-size) bucketfs
// gives its multipart uploads: the base part size, from which the size
// of every part follows (partSizeOf), so that a later reader can compute
// the upload's ETag from the bytes.
const partSizeMeta = "bucketfs-part-size"

// partSizeOf is the size of part n (1-based) of an upload with base part
// size base: it doubles every 1000 parts (up to 512 times), so that
// 10000 parts reach far past 5 TiB.
func partSizeOf(base int64, n int) int64 {
	return base << min((n-1)/1000, 9)
}

// etagSum computes an object's ETag from its bytes, read in order, where
// the ETag is a digest of them: the MD5 of an object stored in one PUT,
// or, for a multipart upload whose part size bucketfs recorded, the MD5
// of the parts' MD5s followed by "-" and the number of parts.
type etagSum struct {
	want string // the ETag, lower case, unquoted

	whole hash.Hash // one PUT

	base     int64     // multipart: the base part size
	part     hash.Hash // the current part
	n        int       // its number
	left     int64     // its bytes still to come
	digests  []byte    // the MD5s of the parts before it
	lastPart int       // the number of parts the ETag says
}

var (
	md5ETag       = regexp.MustCompile(`^[0-9a-f]{32}$`)
	multipartETag = regexp.MustCompile(`^[0-9a-f]{32}-([0-9]+)$`)
)

// newETagSum returns the check of an object of size bytes described by
// info, or nil when its ETag is not a digest of its bytes (encrypted,
// another client's multipart upload, another server's scheme) or the
// part sizes do not account for the ETag's number of parts.
func newETagSum(info *s3client.ObjectInfo, size int64) *etagSum {
	if info == nil || info.Encrypted() {
		return nil
	}
	etag := strings.ToLower(strings.Trim(info.ETag, `"`))
	if md5ETag.MatchString(etag) {
		return &etagSum{want: etag, whole: md5.New()}
	}
	m := multipartETag.FindStringSubmatch(etag)
	if m == nil {
		return nil
	}
	parts, _ := strconv.Atoi(m[1])
	base, err := strconv.ParseInt(info.Metadata[partSizeMeta], 10, 64)
	if err != nil || base <= 0 || parts <= 0 {
		return nil
	}
	n := 0 // the parts the recorded size makes of size bytes
	for off := int64(0); off < size; n++ {
		off += partSizeOf(base, n+1)
	}
	if n != parts {
		return nil // not split as we split (a multipart copy, say)
	}
	return &etagSum{want: etag, base: base, part: md5.New(), n: 1, left: partSizeOf(base, 1), lastPart: parts}
}

// Write adds the next bytes of the object.
func (s *etagSum) Write(p []byte) {
	if s.whole != nil {
		s.whole.Write(p)
		return
	}
	for len(p) > 0 {
		k := min(int64(len(p)), s.left)
		s.part.Write(p[:k])
		p, s.left = p[k:], s.left-k
		if s.left == 0 {
			s.digests = s.part.Sum(s.digests)
			s.part.Reset()
			s.n++
			s.left = partSizeOf(s.base, s.n)
		}
	}
}

// check compares the sum of everything written with the ETag; it
// returns a description of the two when they differ.
func (s *etagSum) check() (got string, ok bool) {
	if s.whole != nil {
		got = hex.EncodeToString(s.whole.Sum(nil))
		return got, got == s.want
	}
	d := s.digests
	if s.left != partSizeOf(s.base, s.n) { // a last, shorter part
		d = s.part.Sum(d)
	}
	all := md5.Sum(d)
	got = fmt.Sprintf("%s-%d", hex.EncodeToString(all[:]), len(d)/md5.Size)
	return got, got == s.want
}
