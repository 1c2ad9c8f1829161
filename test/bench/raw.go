package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
)

// The raw side of each scenario: the same work done with package
// s3client directly, and the plain file reads the scenarios share.

// rawUpload sends the large source file as the mount does: one PUT up to
// the part size, else a multipart upload with parts of the part size,
// opts.parallel at a time.
func (b *bench) rawUpload(ctx context.Context, key string) error {
	f, err := os.Open(b.bigSrc)
	if err != nil {
		return err
	}
	defer f.Close()
	size, part := b.bigSize(), int64(b.opts.partMiB)<<20
	if size <= part {
		_, err := b.client.PutObject(ctx, b.bucket, key, f, size, s3client.PutOptions{})
		return err
	}
	return b.rawMultipart(ctx, key, f, size)
}

// rawMultipart uploads size bytes of src as a multipart upload with parts
// of the part size, opts.parallel at a time.
func (b *bench) rawMultipart(ctx context.Context, key string, src io.ReaderAt, size int64) error {
	part := int64(b.opts.partMiB) << 20
	id, err := b.client.CreateMultipartUpload(ctx, b.bucket, key, s3client.PutOptions{})
	if err != nil {
		return err
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex // protects parts and firstErr
		parts    []s3client.CompletedPart
		firstErr error
	)
	slots := make(chan struct{}, b.opts.parallel)
	for n, off := 1, int64(0); off < size; n, off = n+1, off+part {
		slots <- struct{}{}
		wg.Add(1)
		go func(n int, off, sz int64) {
			defer wg.Done()
			defer func() { <-slots }()
			etag, err := b.client.UploadPart(ctx, b.bucket, key, id, n, io.NewSectionReader(src, off, sz), sz)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			parts = append(parts, s3client.CompletedPart{PartNumber: n, ETag: etag})
		}(n, off, min(part, size-off))
	}
	wg.Wait()
	if firstErr == nil {
		slices.SortFunc(parts, func(a, b s3client.CompletedPart) int { return a.PartNumber - b.PartNumber })
		_, firstErr = b.client.CompleteMultipartUpload(ctx, b.bucket, key, id, parts)
	}
	if firstErr != nil {
		b.client.AbortMultipartUpload(context.Background(), b.bucket, key, id)
	}
	return firstErr
}

// rawGet streams the whole object, size bytes, with one GET read into a
// 1 MiB buffer.
func (b *bench) rawGet(ctx context.Context, key string, size int64) error {
	body, _, err := b.client.GetObject(ctx, b.bucket, key, 0, -1)
	if err != nil {
		return err
	}
	defer body.Close()
	buf := make([]byte, 1<<20)
	var n int64
	for {
		k, err := body.Read(buf)
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if n != size {
		return fmt.Errorf("GET %s: %d bytes, want %d", key, n, size)
	}
	return nil
}

// rawPutSmall puts every small source file under prefix, one at a time.
func (b *bench) rawPutSmall(ctx context.Context, prefix string) error {
	for i := 0; i < b.opts.files; i++ {
		data, err := os.ReadFile(filepath.Join(b.smallSrc, smallName(i)))
		if err != nil {
			return err
		}
		key := prefix + "/" + smallName(i)
		if _, err := b.client.PutObject(ctx, b.bucket, key, bytes.NewReader(data), int64(len(data)), s3client.PutOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// countKeys counts the keys under prefix (untimed).
func (b *bench) countKeys(prefix string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := 0
	err := b.rawList(ctx, prefix, "", func(p *s3client.ListPage) { n += len(p.Objects) })
	return n, err
}

// rawList reads every page of a listing.
func (b *bench) rawList(ctx context.Context, prefix, delimiter string, each func(*s3client.ListPage)) error {
	return b.rawListIn(ctx, s3client.ListInput{Prefix: prefix, Delimiter: delimiter}, each)
}

// rawListIn lists every page of in, handing each to each.
func (b *bench) rawListIn(ctx context.Context, in s3client.ListInput, each func(*s3client.ListPage)) error {
	for {
		page, err := b.client.ListObjects(ctx, b.bucket, in)
		if err != nil {
			return err
		}
		each(page)
		if !page.IsTruncated {
			return nil
		}
		in.ContinuationToken = page.NextContinuationToken
	}
}

// readOffsets opens path and reads size bytes at each offset with ReadAt.
func readOffsets(path string, offs []int64, size int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make([]byte, int64(len(offs))*size)
	for i, off := range offs {
		if _, err := f.ReadAt(out[int64(i)*size:int64(i+1)*size], off); err != nil {
			return out, fmt.Errorf("read %s at %d: %w", path, off, err)
		}
	}
	return out, nil
}

// rawRanged reads size bytes at each offset with one ranged GET each.
func (b *bench) rawRanged(ctx context.Context, offs []int64, size int64) ([]byte, error) {
	out := make([]byte, int64(len(offs))*size)
	for i, off := range offs {
		body, _, err := b.client.GetObject(ctx, b.bucket, bigKey, off, size)
		if err != nil {
			return out, err
		}
		_, err = io.ReadFull(body, out[int64(i)*size:int64(i+1)*size])
		body.Close()
		if err != nil {
			return out, fmt.Errorf("GET %s at %d: %w", bigKey, off, err)
		}
	}
	return out, nil
}
