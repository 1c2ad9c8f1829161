package fs

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
)

// Attr is what the filesystem knows about a name.
type Attr struct {
	Dir   bool
	Size  int64
	Mtime time.Time // the object's LastModified
	// ETag names the object's version (as the server sent it, quoted or
	// not); "" when not known, e.g. after a multipart upload on Ceph RGW.
	ETag string
	// Meta is the object's metadata once a HEAD has been made (for a
	// directory, of its marker); nil when only a listing was seen.
	Meta *Meta
}

// sameVersion reports whether a and b describe the same version of an
// object, as far as both know it.
func (a Attr) sameVersion(b Attr) bool {
	return a.Dir == b.Dir && a.Size == b.Size && a.Mtime.Equal(b.Mtime) &&
		(a.ETag == "" || b.ETag == "" || sameETag(a.ETag, b.ETag))
}

// sameETag compares ETags, which servers send quoted or not.
func sameETag(a, b string) bool { return strings.Trim(a, `"`) == strings.Trim(b, `"`) }

// kind is the file type bits of a.
func (a Attr) kind() uint32 {
	switch {
	case a.Dir:
		return syscall.S_IFDIR
	case a.Meta != nil && a.Meta.Mode&syscall.S_IFMT == syscall.S_IFLNK:
		return syscall.S_IFLNK
	}
	return syscall.S_IFREG
}

// Meta is the s3fs-compatible metadata of an object. A *Meta is shared
// by the cache and nodes once made, so it is never changed: clone it.
// It holds x-amz-meta-mode
// (decimal st_mode with type bits), -uid, -gid and -mtime (Unix seconds).
// Absent values are 0 (Mode), -1 (UID, GID) and the zero time (Mtime).
type Meta struct {
	Mode     uint32
	UID, GID int64
	Mtime    time.Time
	// Ctime (x-amz-meta-ctime, as s3fs) moves with every change of
	// content or metadata; Atime (x-amz-meta-atime) is set only by an
	// explicit utimensat (reads do not move it: noatime). Stored in whole
	// seconds as s3fs does; a fraction is read too.
	Ctime, Atime time.Time
	// ContentType is kept so metadata updates do not lose it.
	ContentType string
}

// noMeta is the metadata of an object that has none.
func noMeta() *Meta { return &Meta{UID: -1, GID: -1} }

// parseMeta reads metadata from HEAD's x-amz-meta-* headers.
func parseMeta(info *s3client.ObjectInfo) *Meta {
	m := noMeta()
	m.ContentType = info.ContentType
	if v, err := strconv.ParseUint(info.Metadata["mode"], 10, 32); err == nil {
		m.Mode = uint32(v)
	}
	if v, err := strconv.ParseInt(info.Metadata["uid"], 10, 64); err == nil && v >= 0 {
		m.UID = v
	}
	if v, err := strconv.ParseInt(info.Metadata["gid"], 10, 64); err == nil && v >= 0 {
		m.GID = v
	}
	m.Mtime = parseTime(info.Metadata["mtime"])
	m.Ctime = parseTime(info.Metadata["ctime"])
	m.Atime = parseTime(info.Metadata["atime"])
	return m
}

// parseTime reads a time stored as Unix seconds, as s3fs writes them, or
// with a fraction ("1700000000.25"); the zero time if absent or not one.
func parseTime(v string) time.Time {
	secs, frac, _ := strings.Cut(v, ".")
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || sec <= 0 {
		return time.Time{}
	}
	var nsec int64
	if frac != "" {
		frac = (frac + "000000000")[:9]
		if nsec, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}
		}
	}
	return time.Unix(sec, nsec)
}

// headers returns the x-amz-meta-* values for m.
func (m *Meta) headers() map[string]string {
	h := map[string]string{}
	if m.Mode != 0 {
		h["mode"] = strconv.FormatUint(uint64(m.Mode), 10)
	}
	if m.UID >= 0 {
		h["uid"] = strconv.FormatInt(m.UID, 10)
	}
	if m.GID >= 0 {
		h["gid"] = strconv.FormatInt(m.GID, 10)
	}
	if !m.Mtime.IsZero() {
		h["mtime"] = strconv.FormatInt(m.Mtime.Unix(), 10)
	}
	if !m.Ctime.IsZero() {
		h["ctime"] = strconv.FormatInt(m.Ctime.Unix(), 10)
	}
	if !m.Atime.IsZero() {
		h["atime"] = strconv.FormatInt(m.Atime.Unix(), 10)
	}
	return h
}

// clone returns a copy of m (noMeta for nil).
func (m *Meta) clone() *Meta {
	if m == nil {
		return noMeta()
	}
	c := *m
	return &c
}

// putOptions are the upload options carrying m for an object named key.
func (m *Meta) putOptions(key string) s3client.PutOptions {
	ct := m.ContentType
	if ct == "" {
		ct = contentType(key)
	}
	return s3client.PutOptions{ContentType: ct, Metadata: m.headers()}
}

// dirContentType is the type s3fs gives directory markers.
const dirContentType = "application/x-directory"

// oldStyleDir reports whether m, the metadata of a key without a
// trailing "/", makes it a directory: s3fs before 1.86 stored a
// directory "a" as an object "a" of type application/x-directory (or
// with S_IFDIR in its mode), as s3fs still reads it.
func (m *Meta) oldStyleDir() bool {
	return m != nil && (strings.HasPrefix(m.ContentType, dirContentType) || m.Mode&syscall.S_IFMT == syscall.S_IFDIR)
}

// asOldStyleDir is a with a the directory an old-style object makes it,
// if it does.
func (a Attr) asOldStyleDir() Attr {
	if !a.Dir && a.Meta.oldStyleDir() {
		return Attr{Dir: true, Meta: a.Meta}
	}
	return a
}

// rewriteMeta replaces the metadata of object l with m by copying the
// object onto itself (x-amz-metadata-directive: REPLACE). REPLACE keeps
// only what the copy sends, so a HEAD first learns what the object has
// now, and everything m does not change is sent again: other clients'
// x-amz-meta-* values, Content-Type, Content-Encoding,
// Content-Disposition, Cache-Control and Expires. A missing object is
// s3client.ErrNotFound.
func (f *FS) rewriteMeta(ctx context.Context, l loc, m *Meta) (etag string, err error) {
	info, err := f.store.HeadObject(ctx, l.bucket, l.key)
	if err != nil {
		return "", err
	}
	po := m.putOptions(l.key)
	opts := s3client.CopyOptions{ReplaceMetadata: true, Metadata: map[string]string{},
		ContentType: po.ContentType, ContentHeaders: info.ContentHeaders}
	if m.ContentType == "" && info.ContentType != "" {
		opts.ContentType = info.ContentType
	}
	for k, v := range info.Metadata {
		opts.Metadata[k] = v
	}
	for k, v := range po.Metadata {
		opts.Metadata[k] = v
	}
	return f.store.CopyObject(ctx, l.bucket, l.key, l.bucket, l.key, opts)
}
