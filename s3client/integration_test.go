package s3client_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/bucketfs/bucketfs/s3client"
)

const mib = 1 << 20

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// readAll GETs length bytes of bucket/key from offset (length < 0: to the end).
func readAll(t *testing.T, c *s3client.Client, bucket, key string, offset, length int64) ([]byte, *s3client.ObjectInfo) {
	t.Helper()
	rc, info, err := c.GetObject(testCtx(t), bucket, key, offset, length)
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s/%s: %v", bucket, key, err)
	}
	return b, info
}

func TestIntegrationBuckets(t *testing.T) {
	c := newClient(t, "")
	ctx := testCtx(t)
	name := bucketName(t)
	if err := c.CreateBucket(ctx, name); err != nil {
		t.Fatalf("create: %v", err)
	}
	buckets, err := c.ListBuckets(ctx)
	if err != nil {
		t.Fatalf("list buckets: %v", err)
	}
	i := slices.IndexFunc(buckets, func(b s3client.BucketInfo) bool { return b.Name == name })
	if i < 0 || buckets[i].CreationDate.IsZero() {
		t.Fatalf("list buckets: got %+v, want %s with a creation date", buckets, name)
	}
	if err := c.HeadBucket(ctx, name); err != nil {
		t.Errorf("head: %v", err)
	}
	if err := c.CreateBucket(ctx, name); !errors.Is(err, s3client.ErrAlreadyExists) {
		t.Errorf("create twice: got %v, want ErrAlreadyExists", err)
	}
	if err := c.CreateBucket(ctx, "A_b"); !errors.Is(err, s3client.ErrInvalidName) {
		t.Errorf("create A_b: got %v, want ErrInvalidName", err)
	}
	if _, err := c.PutObject(ctx, name, "f", strings.NewReader("x"), 1, s3client.PutOptions{}); err != nil {
		t.Fatalf("put: %v", err)
	}
	err = c.DeleteBucket(ctx, name)
	var e *s3client.Error
	if !errors.Is(err, s3client.ErrBucketNotEmpty) || !errors.As(err, &e) || e.Bucket != name {
		t.Errorf("delete non-empty: got %v, want ErrBucketNotEmpty naming %s", err, name)
	}
	if err := c.DeleteObject(ctx, name, "f"); err != nil {
		t.Fatalf("delete object: %v", err)
	}
	if err := c.DeleteBucket(ctx, name); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := c.HeadBucket(ctx, name); !errors.Is(err, s3client.ErrNotFound) {
		t.Errorf("head deleted: got %v, want ErrNotFound", err)
	}
	if err := c.DeleteBucket(ctx, name); !errors.Is(err, s3client.ErrBucketNotFound) {
		t.Errorf("delete deleted: got %v, want ErrBucketNotFound", err)
	}
	buckets, err = c.ListBuckets(ctx)
	if err != nil || slices.ContainsFunc(buckets, func(b s3client.BucketInfo) bool { return b.Name == name }) {
		t.Errorf("list buckets after delete: got %+v, %v, want no %s", buckets, err, name)
	}
}

func TestIntegrationObjects(t *testing.T) {
	for _, sig := range signatures {
		t.Run(sig, func(t *testing.T) {
			c := newClient(t, sig)
			ctx := testCtx(t)
			bucket := newBucket(t, c)
			key := "dir/a b+c%é?#&=~雪.txt"
			data := []byte("0123456789abcdef")
			etag, err := c.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)),
				s3client.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"mode": "33188", "uid": "1000"}})
			if err != nil {
				t.Fatalf("put: %v", err)
			}
			info, err := c.HeadObject(ctx, bucket, key)
			if err != nil {
				t.Fatalf("head: %v", err)
			}
			if info.Size != 16 || info.ETag != etag || info.ContentType != "text/plain" || info.LastModified.IsZero() ||
				!reflect.DeepEqual(info.Metadata, map[string]string{"mode": "33188", "uid": "1000"}) {
				t.Errorf("head: got %+v, want size 16, ETag %s, the content type and metadata", info, etag)
			}
			got, ginfo := readAll(t, c, bucket, key, 2, 3)
			if string(got) != "234" || ginfo.Size != 16 {
				t.Errorf("get range: got %q, size %d, want \"234\", 16", got, ginfo.Size)
			}
			if got, _ := readAll(t, c, bucket, key, 10, -1); string(got) != "abcdef" {
				t.Errorf("get from 10: got %q", got)
			}
			if got, _ := readAll(t, c, bucket, key, 0, -1); !bytes.Equal(got, data) {
				t.Errorf("get: got %q", got)
			}
			if err := c.DeleteObject(ctx, bucket, key); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if _, err := c.HeadObject(ctx, bucket, key); !errors.Is(err, s3client.ErrNotFound) {
				t.Errorf("head deleted: got %v, want ErrNotFound", err)
			}
			if err := c.DeleteObject(ctx, bucket, key); err != nil {
				t.Errorf("delete missing: got %v, want no error", err)
			}
		})
	}
}

func TestIntegrationCopy(t *testing.T) {
	for _, sig := range signatures {
		t.Run(sig, func(t *testing.T) {
			c := newClient(t, sig)
			ctx := testCtx(t)
			bucket := newBucket(t, c)
			key := "src dir/ä+b%.bin"
			data := randomBytes(t, 1000)
			etag, err := c.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)),
				s3client.PutOptions{Metadata: map[string]string{"mode": "33188", "mtime": "1"}})
			if err != nil {
				t.Fatalf("put: %v", err)
			}

			// chmod: a copy onto itself with new metadata.
			if _, err := c.CopyObject(ctx, bucket, key, bucket, key, s3client.CopyOptions{ReplaceMetadata: true,
				ContentType: "text/plain", IfMatch: etag, Metadata: map[string]string{"mode": "33261", "uid": "7"}}); err != nil {
				t.Fatalf("copy onto itself: %v", err)
			}
			info, err := c.HeadObject(ctx, bucket, key)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]string{"mode": "33261", "uid": "7"}; !reflect.DeepEqual(info.Metadata, want) ||
				info.ContentType != "text/plain" || info.Size != 1000 {
				t.Errorf("after REPLACE: got %+v, want metadata %v, text/plain, 1000 bytes", info, want)
			}

			// rename's first half: a copy under another key keeps the metadata.
			dst := "dst/#1 é"
			if _, err := c.CopyObject(ctx, bucket, dst, bucket, key, s3client.CopyOptions{}); err != nil {
				t.Fatalf("copy: %v", err)
			}
			dinfo, err := c.HeadObject(ctx, bucket, dst)
			if err != nil || !reflect.DeepEqual(dinfo.Metadata, info.Metadata) {
				t.Errorf("copy keeps metadata: got %+v, %v, want %v", dinfo, err, info.Metadata)
			}
			if got, _ := readAll(t, c, bucket, dst, 0, -1); !bytes.Equal(got, data) {
				t.Error("copy: content differs")
			}

			_, err = c.CopyObject(ctx, bucket, dst, bucket, key, s3client.CopyOptions{IfMatch: `"0123456789abcdef0123456789abcdef"`})
			if !errors.Is(err, s3client.ErrPreconditionFailed) {
				t.Errorf("copy if-match mismatch: got %v, want ErrPreconditionFailed", err)
			}
			_, err = c.CopyObject(ctx, bucket, "x", bucket, "no such key", s3client.CopyOptions{})
			var e *s3client.Error
			if !errors.Is(err, s3client.ErrNotFound) || !errors.As(err, &e) || e.Bucket != bucket || e.Key != "x" {
				t.Errorf("copy missing source: got %v, want ErrNotFound for %s/x", err, bucket)
			}
		})
	}
}

func TestIntegrationMultipart(t *testing.T) {
	for _, sig := range signatures {
		t.Run(sig, func(t *testing.T) {
			c := newClient(t, sig)
			ctx := testCtx(t)
			bucket := newBucket(t, c)
			key := "big dir/file+1%.bin"
			data := randomBytes(t, 10*mib+1234)
			chunks := [][]byte{data[:5*mib], data[5*mib : 10*mib], data[10*mib:]}

			id, err := c.CreateMultipartUpload(ctx, bucket, key, s3client.PutOptions{Metadata: map[string]string{"mode": "33188"}})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			var parts []s3client.CompletedPart
			for _, n := range []int{3, 1, 2} { // any order
				chunk := chunks[n-1]
				etag, err := c.UploadPart(ctx, bucket, key, id, n, bytes.NewReader(chunk), int64(len(chunk)))
				if err != nil {
					t.Fatalf("upload part %d: %v", n, err)
				}
				parts = append(parts, s3client.CompletedPart{PartNumber: n, ETag: etag})
			}
			listed, err := c.ListParts(ctx, bucket, key, id)
			if err != nil {
				t.Fatalf("list parts: %v", err)
			}
			var got []s3client.CompletedPart
			var sizes []int64
			for _, p := range listed {
				got = append(got, s3client.CompletedPart{PartNumber: p.PartNumber, ETag: p.ETag})
				sizes = append(sizes, p.Size)
			}
			want := []s3client.CompletedPart{parts[1], parts[2], parts[0]}
			if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(sizes, []int64{5 * mib, 5 * mib, 1234}) {
				t.Errorf("list parts: got %+v sizes %v, want %+v sizes 5MiB, 5MiB, 1234", got, sizes, want)
			}
			etag, err := c.CompleteMultipartUpload(ctx, bucket, key, id, parts)
			if err != nil {
				t.Fatalf("complete: %v", err)
			}
			info, err := c.HeadObject(ctx, bucket, key)
			if err != nil {
				t.Fatalf("head: %v", err)
			}
			if info.Size != int64(len(data)) || info.ETag != etag || info.Metadata["mode"] != "33188" {
				t.Errorf("head: got %+v, want %d bytes, ETag %s, mode 33188", info, len(data), etag)
			}
			if back, _ := readAll(t, c, bucket, key, 0, -1); !bytes.Equal(back, data) {
				t.Errorf("content differs: got %d bytes, want %d", len(back), len(data))
			}
		})
	}
}

func TestIntegrationMultipartAbort(t *testing.T) {
	c := newClient(t, "")
	ctx := testCtx(t)
	bucket := newBucket(t, c)
	id, err := c.CreateMultipartUpload(ctx, bucket, "k", s3client.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadPart(ctx, bucket, "k", id, 1, strings.NewReader("part"), 4); err != nil {
		t.Fatal(err)
	}
	if err := c.AbortMultipartUpload(ctx, bucket, "k", id); err != nil {
		t.Fatalf("abort: %v", err)
	}
	if _, err := c.HeadObject(ctx, bucket, "k"); !errors.Is(err, s3client.ErrNotFound) {
		t.Errorf("head after abort: got %v, want ErrNotFound", err)
	}
	if _, err := c.ListParts(ctx, bucket, "k", id); !errors.Is(err, s3client.ErrNotFound) {
		t.Errorf("list parts after abort: got %v, want ErrNotFound (NoSuchUpload)", err)
	}
	if _, err := c.CompleteMultipartUpload(ctx, bucket, "k", id, []s3client.CompletedPart{{PartNumber: 1, ETag: `"x"`}}); !errors.Is(err, s3client.ErrNotFound) {
		t.Errorf("complete after abort: got %v, want ErrNotFound (NoSuchUpload)", err)
	}
	if page, err := c.ListObjectsV2(ctx, bucket, s3client.ListInput{}); err != nil || len(page.Objects) != 0 {
		t.Errorf("list after abort: got %+v, %v, want no objects", page, err)
	}
}

func TestIntegrationUploadPartCopy(t *testing.T) {
	for _, sig := range signatures {
		t.Run(sig, func(t *testing.T) {
			c := newClient(t, sig)
			ctx := testCtx(t)
			bucket := newBucket(t, c)
			src := randomBytes(t, 6*mib+10)
			if _, err := c.PutObject(ctx, bucket, "src key+é", bytes.NewReader(src), int64(len(src)), s3client.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			id, err := c.CreateMultipartUpload(ctx, bucket, "dst", s3client.PutOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// The destination is src[1MiB:6MiB] followed by src[100:200].
			e1, err := c.UploadPartCopy(ctx, bucket, "dst", id, 1, bucket, "src key+é", 1*mib, 6*mib-1)
			if err != nil {
				t.Fatalf("part copy 1: %v", err)
			}
			e2, err := c.UploadPartCopy(ctx, bucket, "dst", id, 2, bucket, "src key+é", 100, 199)
			if err != nil {
				t.Fatalf("part copy 2: %v", err)
			}
			if _, err := c.CompleteMultipartUpload(ctx, bucket, "dst", id,
				[]s3client.CompletedPart{{PartNumber: 1, ETag: e1}, {PartNumber: 2, ETag: e2}}); err != nil {
				t.Fatalf("complete: %v", err)
			}
			want := append(append([]byte(nil), src[1*mib:6*mib]...), src[100:200]...)
			if got, _ := readAll(t, c, bucket, "dst", 0, -1); !bytes.Equal(got, want) {
				t.Errorf("content differs: got %d bytes, want %d", len(got), len(want))
			}
			if _, err := c.UploadPartCopy(ctx, bucket, "dst2", "no-such-upload", 1, bucket, "src key+é", 0, 9); !errors.Is(err, s3client.ErrNotFound) {
				t.Errorf("part copy to a missing upload: got %v, want ErrNotFound", err)
			}
		})
	}
}
