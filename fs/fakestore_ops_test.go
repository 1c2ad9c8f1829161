package fs

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"net/http"
	"sort"

	"github.com/bucketfs/bucketfs/s3client"
)

// fakeUpload is a multipart upload in progress.
type fakeUpload struct {
	key   string
	meta  map[string]string
	parts map[int][]byte
}

func (s *fakeStore) CopyObject(ctx context.Context, bucket, key, srcBucket, srcKey string, opts s3client.CopyOptions) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin("CopyObject", bucket); err != nil {
		return "", err
	}
	data, ok := s.objects[srcKey]
	if !ok {
		return "", noSuchKey("CopyObject", srcBucket, srcKey)
	}
	meta := s.metas[srcKey]
	if opts.ReplaceMetadata {
		meta = opts.Metadata
	}
	s.objects[key], s.metas[key] = bytes.Clone(data), meta
	if e, ok := s.etags[srcKey]; ok {
		s.etags[key] = e
	} else {
		delete(s.etags, key)
	}
	return s.etag(key), nil
}

// CopyObjectAnySize is CopyObject (and counted as one) whatever the size:
// the fake has no limit on a single copy.
func (s *fakeStore) CopyObjectAnySize(ctx context.Context, bucket, key, srcBucket, srcKey string, size int64, opts s3client.CopyOptions) (string, error) {
	return s.CopyObject(ctx, bucket, key, srcBucket, srcKey, opts)
}

func (s *fakeStore) CreateMultipartUpload(ctx context.Context, bucket, key string, opts s3client.PutOptions) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin("CreateMultipartUpload", bucket); err != nil {
		return "", err
	}
	if s.putErr != nil {
		return "", s.putErr
	}
	id := fmt.Sprintf("upload-%d", s.calls["CreateMultipartUpload"])
	s.uploads[id] = &fakeUpload{key: key, meta: opts.Metadata, parts: map[int][]byte{}}
	return id, nil
}

func (s *fakeStore) UploadPart(ctx context.Context, bucket, key, uploadID string, n int, body io.ReaderAt, size int64) (string, error) {
	data, err := io.ReadAll(io.NewSectionReader(body, 0, size))
	if err != nil || int64(len(data)) != size {
		s.t.Errorf("UploadPart(%q, %d): read %d of %d bytes: %v", key, n, len(data), size, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin("UploadPart", bucket); err != nil {
		return "", err
	}
	if s.putErr != nil {
		return "", s.putErr
	}
	u, ok := s.uploads[uploadID]
	if !ok || u.key != key {
		return "", &s3client.Error{Op: "UploadPart", Bucket: bucket, Key: key, StatusCode: http.StatusNotFound, Code: "NoSuchUpload"}
	}
	u.parts[n] = data
	return fmt.Sprintf(`"part-%d"`, n), nil
}

func (s *fakeStore) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []s3client.CompletedPart) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin("CompleteMultipartUpload", bucket); err != nil {
		return "", err
	}
	u, ok := s.uploads[uploadID]
	if !ok {
		return "", &s3client.Error{Op: "CompleteMultipartUpload", Bucket: bucket, Key: key, StatusCode: http.StatusNotFound, Code: "NoSuchUpload"}
	}
	if !sort.SliceIsSorted(parts, func(i, j int) bool { return parts[i].PartNumber < parts[j].PartNumber }) {
		return "", &s3client.Error{Op: "CompleteMultipartUpload", Bucket: bucket, Key: key, StatusCode: http.StatusBadRequest, Code: "InvalidPartOrder"}
	}
	var all, digests []byte
	for i, p := range parts {
		data, ok := u.parts[p.PartNumber]
		if !ok || p.PartNumber != i+1 {
			return "", &s3client.Error{Op: "CompleteMultipartUpload", Bucket: bucket, Key: key, StatusCode: http.StatusBadRequest, Code: "InvalidPart"}
		}
		if i < len(parts)-1 && len(data) < 5<<20 {
			return "", &s3client.Error{Op: "CompleteMultipartUpload", Bucket: bucket, Key: key, StatusCode: http.StatusBadRequest, Code: "EntityTooSmall"}
		}
		all = append(all, data...)
		sum := md5.Sum(data)
		digests = append(digests, sum[:]...)
	}
	delete(s.uploads, uploadID)
	s.objects[key], s.metas[key] = all, u.meta
	sum := md5.Sum(digests) // S3's: the MD5 of the parts' MD5s, and their number
	s.etags[key] = fmt.Sprintf(`"%x-%d"`, sum, len(parts))
	return s.etags[key], nil
}

func (s *fakeStore) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin("AbortMultipartUpload", bucket); err != nil {
		return err
	}
	delete(s.uploads, uploadID)
	return nil
}

// openUploads is the number of multipart uploads neither completed nor aborted.
func (s *fakeStore) openUploads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.uploads)
}

func (s *fakeStore) ListBuckets(ctx context.Context) ([]s3client.BucketInfo, error) {
	return []s3client.BucketInfo{{Name: s.bucket}}, nil
}

func (s *fakeStore) HeadBucket(ctx context.Context, bucket string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.begin("HeadBucket", bucket)
}

func (s *fakeStore) CreateBucket(ctx context.Context, bucket string) error {
	return &s3client.Error{Op: "CreateBucket", Bucket: bucket, StatusCode: http.StatusConflict, Code: "BucketAlreadyOwnedByYou"}
}

func (s *fakeStore) DeleteBucket(ctx context.Context, bucket string) error {
	return &s3client.Error{Op: "DeleteBucket", Bucket: bucket, StatusCode: http.StatusConflict, Code: "BucketNotEmpty"}
}
