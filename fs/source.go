package fs

import (
	"context"
	"io"

	"github.com/bucketfs/bucketfs/s3client"
)

// Source is where the bytes of objects come from: every byte of an
// object that fs reads (read-ahead chunks, random blocks, the staging of
// a file for a partial rewrite, readlink) goes through FS.data, one
// Source. Store.ReadObject is the default; a data cache (Options.Cache)
// is a decorator in front of it, so read-ahead policy stays in the
// reader and the cache knows nothing of FUSE.
type Source interface {
	// ReadObject fills p from off: n < len(p) only where the object
	// ends, info (when not nil) gives its ETag and size. With
	// opts.IfMatch set, the bytes are those of that version or the read
	// fails with s3client.ErrPreconditionFailed.
	ReadObject(ctx context.Context, bucket, key string, off int64, p []byte, opts s3client.GetOptions) (int, *s3client.ObjectInfo, error)
}

// DataCache is a local cache of object data (package blockcache).
type DataCache interface {
	// Wrap returns src with the cache in front of it.
	Wrap(src Source) Source
}

// Uploaded is what the Source of a data cache also does: it takes the
// content of an object this mount has just uploaded, as version etag,
// so that reading it back costs no request (write-through). The body
// is only read during the call.
type Uploaded interface {
	Uploaded(ctx context.Context, bucket, key, etag string, body io.ReaderAt, size int64)
}
