package blockcache

import (
	"context"
	"io"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/bucketfs/bucketfs/s3client"
)

// Source is where bytes of objects come from (fs.Source has the same
// method): ReadObject fills p from off, n < len(p) only where the object
// ends; with opts.IfMatch set, the bytes are those of that version.
type Source interface {
	ReadObject(ctx context.Context, bucket, key string, off int64, p []byte, opts s3client.GetOptions) (int, *s3client.ObjectInfo, error)
}

// Wrap returns src with the cache in front of it. Only reads pinned to
// an ETag (opts.IfMatch) use the cache; others go to src untouched.
func (c *Cache) Wrap(src Source) Source { return &cached{c: c, src: src} }

type cached struct {
	c   *Cache
	src Source
}

// normETag is an ETag without W/ and quotes, as blocks are keyed.
func normETag(etag string) string {
	return strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)
}

// ReadObject serves the blocks of [off, off+len(p)) from the cache, and
// fetches each run of missing blocks with one call of the source, which
// then go into the cache.
func (s *cached) ReadObject(ctx context.Context, bucket, key string, off int64, p []byte, opts s3client.GetOptions) (int, *s3client.ObjectInfo, error) {
	if opts.IfMatch == "" || len(p) == 0 || off < 0 {
		return s.src.ReadObject(ctx, bucket, key, off, p, opts)
	}
	c := s.c
	id := newObjectID(c.namespace, bucket, key, normETag(opts.IfMatch))
	bs := c.blockSize
	end := off + int64(len(p))
	var info *s3client.ObjectInfo // the source's answer, if it was asked
	objSize := int64(-1)
	result := func(pos int64) (int, *s3client.ObjectInfo, error) {
		if info == nil {
			info = &s3client.ObjectInfo{Key: key, ETag: opts.IfMatch, Size: objSize}
		}
		return int(max(min(pos, end)-off, 0)), info, nil
	}
	for pos := off; pos < end; {
		if objSize >= 0 && pos >= objSize {
			return result(pos)
		}
		idx := pos / bs
		bstart := idx * bs
		// A hit: straight into p when the block lies inside it.
		var dst []byte
		var scratch *[]byte
		if bstart >= off && bstart+bs <= end {
			dst = p[bstart-off : bstart-off+bs]
		} else {
			scratch = c.getScratch()
			dst = *scratch
		}
		n, size, ok := c.get(id, idx, dst)
		if ok {
			if size >= 0 {
				objSize = size
			}
			if lo := pos - bstart; lo >= int64(n) {
				if scratch != nil {
					c.putScratch(scratch)
				}
				return result(pos) // the object ends before pos
			}
			if scratch != nil {
				copy(p[pos-off:], dst[pos-bstart:n])
				c.putScratch(scratch)
			}
			if int64(n) < bs {
				return result(bstart + int64(n)) // the object ends in this block
			}
			pos = bstart + bs
			continue
		}
		if scratch != nil {
			c.putScratch(scratch)
			scratch = nil
		}
		// A miss: fetch the run of missing blocks from here.
		last := idx
		for (last+1)*bs < end && !c.has(id, last+1) {
			last++
		}
		runEnd := (last + 1) * bs
		var buf []byte
		own := false // buf is not part of p
		switch {
		case bstart >= off && runEnd <= end:
			buf = p[bstart-off : runEnd-off]
		case bstart >= off && end-bstart >= bs:
			buf = p[bstart-off:] // the last block is cached if the object ends with p
		case runEnd-bstart <= bs:
			scratch = c.getScratch() // a random read inside one block
			buf, own = *scratch, true
		default:
			buf, own = make([]byte, runEnd-bstart), true
		}
		got, inf, err := s.src.ReadObject(ctx, bucket, key, bstart, buf, opts)
		if err != nil {
			return int(max(pos, off) - off), inf, err
		}
		if inf != nil {
			info = inf
			if inf.Size >= 0 {
				objSize = inf.Size
			}
		}
		fetchedEnd := bstart + int64(got)
		short := got < len(buf)
		if short && objSize < 0 {
			objSize = fetchedEnd
		}
		for b := idx; b*bs < fetchedEnd; b++ {
			blockEnd := min((b+1)*bs, fetchedEnd)
			if (b+1)*bs <= fetchedEnd || short || blockEnd == objSize {
				c.put(id, b, buf[b*bs-bstart:blockEnd-bstart], objSize, s.c.waitWhenFull)
			}
		}
		if own {
			// Copy the part p wants.
			if lo, hi := max(pos, bstart), min(fetchedEnd, end); hi > lo {
				copy(p[lo-off:hi-off], buf[lo-bstart:hi-bstart])
			}
		}
		if scratch != nil {
			c.putScratch(scratch) // put has copied or written what it keeps
		}
		if short {
			return result(fetchedEnd)
		}
		pos = fetchedEnd
	}
	return result(end)
}

// Uploaded stores the content of an object just uploaded as version
// etag (write-through): reading it back costs no request. body is read
// only during the call; a read error stops it (what was stored is
// right, the rest is fetched when read).
func (s *cached) Uploaded(ctx context.Context, bucket, key, etag string, body io.ReaderAt, size int64) {
	c := s.c
	if etag == "" {
		return
	}
	id := newObjectID(c.namespace, bucket, key, normETag(etag))
	buf := c.getScratch()
	defer c.putScratch(buf)
	for idx := int64(0); idx*c.blockSize < size; idx++ {
		n := min(c.blockSize, size-idx*c.blockSize)
		got, err := body.ReadAt((*buf)[:n], idx*c.blockSize)
		if int64(got) < n {
			if err != nil {
				c.log.WithFields(logrus.Fields{"bucket": bucket, "key": key}).Debugf("data cache: write-through stopped: %v", err)
			}
			return
		}
		c.put(id, idx, (*buf)[:n], size, true)
	}
}

// has reports whether block idx of id is held.
func (c *Cache) has(id objectID, idx int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	name := blockName(id, idx)
	return c.entries[name] != nil || c.pending[name] != nil
}

func (c *Cache) getScratch() *[]byte {
	if b, ok := c.scratch.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, c.blockSize)
	return &b
}

func (c *Cache) putScratch(b *[]byte) { c.scratch.Put(b) }
