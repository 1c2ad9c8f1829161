package fs

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/bucketfs/bucketfs/cache"
	"github.com/bucketfs/bucketfs/s3client"
)

// fakeStore is an in-memory Store for one bucket. It counts requests per
// operation and can be told to fail uploads.
type fakeStore struct {
	t      testing.TB
	bucket string

	mu       sync.Mutex // protects the fields below
	objects  map[string][]byte
	metas    map[string]map[string]string // x-amz-meta-* of each object
	etags    map[string]string            // ETags not the MD5 of the content (multipart)
	uploads  map[string]*fakeUpload       // multipart uploads by id
	mtime    time.Time
	calls    map[string]int
	gotBytes int64         // bytes returned by GetObject
	putErr   error         // returned by PutObject when set
	getErr   error         // returned by ReadObject when set
	putGate  chan struct{} // when set, PutObject waits until it is closed
	// listGate, when set, holds each ListObjects answer, made already,
	// until it is closed (a LIST that sees the bucket before a change and
	// answers after it); listHeld is signalled as each waits.
	listGate chan struct{}
	listHeld chan struct{}
	// listDelay makes every ListObjects answer take this long.
	listDelay time.Duration
	listMeta  bool // listings carry metadata when asked, as MinIO's
	pageSize  int  // when set, the most keys a ListObjects page holds
}

var _ Store = (*fakeStore)(nil)

func newFakeStore(t testing.TB, bucket string, keys ...string) *fakeStore {
	s := &fakeStore{t: t, bucket: bucket, objects: map[string][]byte{}, calls: map[string]int{},
		metas: map[string]map[string]string{}, uploads: map[string]*fakeUpload{}, etags: map[string]string{},
		mtime: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)}
	for _, k := range keys {
		s.objects[k] = []byte("content of " + k)
	}
	return s
}

// set stores an object as another client would.
func (s *fakeStore) set(key string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[key] = bytes.Clone(data)
	delete(s.etags, key)
}

// corrupt flips a bit of key's content at off and keeps its ETag, as a
// disk or a proxy that damaged the stored bytes would.
func (s *fakeStore) corrupt(key string, off int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.etags[key] = s.etag(key)
	s.objects[key][off] ^= 0x20
}

// etag is the ETag of key: the MD5 of its content unless etags says
// otherwise. s.mu must be held.
func (s *fakeStore) etag(key string) string {
	if e, ok := s.etags[key]; ok {
		return e
	}
	sum := md5.Sum(s.objects[key])
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// get returns an object's content and whether it exists.
func (s *fakeStore) get(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.objects[key]
	return bytes.Clone(data), ok
}

func (s *fakeStore) failPuts(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putErr = err
}

func (s *fakeStore) failGets(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.getErr = err
}

// count returns how many requests of op were made.
func (s *fakeStore) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// bytesRead is the number of bytes GetObject returned.
func (s *fakeStore) bytesRead() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gotBytes
}

// resetCounts forgets the requests made so far.
func (s *fakeStore) resetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
	s.gotBytes = 0
}

// begin counts a request of op and checks its bucket. s.mu must be held.
func (s *fakeStore) begin(op, bucket string) error {
	s.calls[op]++
	if bucket != s.bucket {
		return &s3client.Error{Op: op, Bucket: bucket, StatusCode: http.StatusNotFound, Code: "NoSuchBucket"}
	}
	return nil
}

func noSuchKey(op, bucket, key string) error {
	return &s3client.Error{Op: op, Bucket: bucket, Key: key, StatusCode: http.StatusNotFound, Code: "NoSuchKey"}
}

func (s *fakeStore) info(key string) *s3client.ObjectInfo {
	return &s3client.ObjectInfo{Key: key, Size: int64(len(s.objects[key])), LastModified: s.mtime, ETag: s.etag(key), Metadata: s.metas[key]}
}

func (s *fakeStore) HeadObject(ctx context.Context, bucket, key string) (*s3client.ObjectInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin("HeadObject", bucket); err != nil {
		return nil, err
	}
	if _, ok := s.objects[key]; !ok {
		return nil, noSuchKey("HeadObject", bucket, key)
	}
	return s.info(key), nil
}

// ReadObject is one ranged GET (counted as GetObject), with If-Match.
func (s *fakeStore) ReadObject(ctx context.Context, bucket, key string, off int64, p []byte, opts s3client.GetOptions) (int, *s3client.ObjectInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin("GetObject", bucket); err != nil {
		return 0, nil, err
	}
	if s.getErr != nil {
		return 0, nil, s.getErr
	}
	data, ok := s.objects[key]
	if !ok {
		return 0, nil, noSuchKey("GetObject", bucket, key)
	}
	if opts.IfMatch != "" && strings.Trim(opts.IfMatch, `"`) != strings.Trim(s.etag(key), `"`) {
		return 0, nil, &s3client.Error{Op: "GetObject", Bucket: bucket, Key: key, StatusCode: http.StatusPreconditionFailed, Code: "PreconditionFailed"}
	}
	if off >= int64(len(data)) {
		return 0, nil, nil
	}
	n := copy(p, data[off:])
	s.gotBytes += int64(n)
	return n, s.info(key), nil
}

// PutObject stores exactly size bytes of body; reading fewer fails the
// test, as the real client would send a short body.
func (s *fakeStore) PutObject(ctx context.Context, bucket, key string, body io.ReaderAt, size int64, opts s3client.PutOptions) (string, error) {
	data, err := io.ReadAll(io.NewSectionReader(body, 0, size))
	if err != nil || int64(len(data)) != size {
		s.t.Errorf("PutObject(%q): read %d of %d bytes: %v", key, len(data), size, err)
	}
	s.mu.Lock()
	gate := s.putGate
	s.mu.Unlock()
	if gate != nil {
		<-gate // an upload that takes its time
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin("PutObject", bucket); err != nil {
		return "", err
	}
	if s.putErr != nil {
		return "", s.putErr
	}
	s.objects[key] = data
	s.metas[key] = opts.Metadata
	delete(s.etags, key)
	return s.etag(key), nil
}

func (s *fakeStore) DeleteObject(ctx context.Context, bucket, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin("DeleteObject", bucket); err != nil {
		return err
	}
	delete(s.objects, key) // S3 deletes of missing keys succeed
	delete(s.etags, key)
	delete(s.metas, key)
	return nil
}

// ListObjects pages through the keys in order like S3: at most MaxKeys
// (default 1000) objects and common prefixes per page; the continuation
// token is the last entry of the previous page.
func (s *fakeStore) ListObjects(ctx context.Context, bucket string, in s3client.ListInput) (*s3client.ListPage, error) {
	page, err := s.listObjects(bucket, in)
	s.mu.Lock()
	gate, held, delay := s.listGate, s.listHeld, s.listDelay
	s.mu.Unlock()
	time.Sleep(delay)
	if gate != nil {
		held <- struct{}{}
		<-gate
	}
	return page, err
}

func (s *fakeStore) listObjects(bucket string, in s3client.ListInput) (*s3client.ListPage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin("ListObjects", bucket); err != nil {
		return nil, err
	}
	maxKeys := in.MaxKeys
	if maxKeys <= 0 {
		maxKeys = 1000
	}
	if s.pageSize > 0 {
		maxKeys = min(maxKeys, s.pageSize)
	}
	keys := make([]string, 0, len(s.objects))
	for k := range s.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	after := in.StartAfter
	if in.ContinuationToken != "" {
		after = in.ContinuationToken
	}
	page := &s3client.ListPage{}
	n := 0
	for _, k := range keys {
		if !strings.HasPrefix(k, in.Prefix) || k <= after {
			continue
		}
		if cp, ok := commonPrefix(after, in.Prefix, in.Delimiter); ok && strings.HasPrefix(k, cp) {
			continue // inside the common prefix that ended the last page
		}
		cp, isPrefix := commonPrefix(k, in.Prefix, in.Delimiter)
		if n == maxKeys {
			page.IsTruncated = true
			page.NextContinuationToken = after
			break
		}
		n++
		if isPrefix {
			page.CommonPrefixes = append(page.CommonPrefixes, cp)
			after = cp
		} else {
			o := s3client.ListedObject{Key: k, Size: int64(len(s.objects[k])), LastModified: s.mtime, ETag: s.etag(k)}
			if in.Metadata && s.listMeta {
				o.Metadata = map[string]string{}
				for n, v := range s.metas[k] {
					o.Metadata[n] = v
				}
			}
			page.Objects = append(page.Objects, o)
			after = k
		}
	}
	return page, nil
}

// commonPrefix is the common prefix key rolls up into when listed under
// prefix with delimiter, and false if it is listed as an object.
func commonPrefix(key, prefix, delimiter string) (string, bool) {
	if delimiter == "" || !strings.HasPrefix(key, prefix) {
		return "", false
	}
	i := strings.Index(key[len(prefix):], delimiter)
	if i < 0 {
		return "", false
	}
	return key[:len(prefix)+i+len(delimiter)], true
}

// testMount mounts store (bucket "b") with opts into a temporary
// directory, unmounted when the test ends. It returns the mount point and
// the hook that holds what the filesystem logged.
func testMount(t *testing.T, store *fakeStore, opts Options, copts cache.Options) (string, *logtest.Hook) {
	t.Helper()
	logger, hook := logtest.NewNullLogger()
	opts.Bucket = "b"
	_, root := New(store, copts, opts, logger.WithField("component", "fs"))
	dir := t.TempDir()
	server, err := fuse.NewServer(NewRawFS(root, &gofs.Options{}), dir, nil)
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	go server.Serve()
	if err := server.WaitMount(); err != nil {
		t.Fatalf("mount: %v", err)
	}
	t.Cleanup(func() {
		if err := server.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return dir, hook
}

// mountKeys mounts a fresh store holding keys, with default options.
func mountKeys(t *testing.T, keys ...string) (string, *fakeStore) {
	t.Helper()
	store := newFakeStore(t, "b", keys...)
	mnt, _ := testMount(t, store, Options{}, cache.Options{})
	return mnt, store
}

// names lists dir as sorted names, directories with a trailing "/".
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("ReadDir(%s): %v", dir, err)
	}
	out := []string{}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() {
			n += "/"
		}
		out = append(out, n)
	}
	return out
}

func checkNames(t *testing.T, dir string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := names(t, dir); !slices.Equal(got, want) {
		t.Errorf("ReadDir(%s): got %q, want %q", dir, got, want)
	}
}

func checkObject(t *testing.T, store *fakeStore, key string, want []byte) {
	t.Helper()
	got, ok := store.get(key)
	switch {
	case !ok:
		t.Errorf("object %q missing, want %d bytes", key, len(want))
	case !bytes.Equal(got, want):
		t.Errorf("object %q: got %q, want %q", key, abbrev(got), abbrev(want))
	}
}

func abbrev(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%s...(%d bytes)", b[:40], len(b))
	}
	return string(b)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(b)
	return b
}

func TestFakeStoreList(t *testing.T) {
	s := newFakeStore(t, "b", "a", "a/1", "a/2", "b/x/y", "c", "d/")
	listAll := func(in s3client.ListInput) (pages [][]string) {
		for {
			p, err := s.ListObjects(context.Background(), "b", in)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, o := range p.Objects {
				names = append(names, o.Key)
			}
			// Each page shows its objects, then its common prefixes.
			pages = append(pages, append(names, p.CommonPrefixes...))
			if !p.IsTruncated {
				return pages
			}
			in.ContinuationToken = p.NextContinuationToken
		}
	}
	tests := []struct {
		in   s3client.ListInput
		want string
	}{
		{s3client.ListInput{}, "[[a a/1 a/2 b/x/y c d/]]"},
		{s3client.ListInput{Delimiter: "/"}, "[[a c a/ b/ d/]]"},
		{s3client.ListInput{Delimiter: "/", MaxKeys: 2}, "[[a a/] [c b/] [d/]]"},
		{s3client.ListInput{Prefix: "a/", MaxKeys: 1}, "[[a/1] [a/2]]"},
		{s3client.ListInput{Prefix: "b/", Delimiter: "/"}, "[[b/x/]]"},
		{s3client.ListInput{Prefix: "zz"}, "[[]]"},
		{s3client.ListInput{Prefix: "d/", Delimiter: "/"}, "[[d/]]"},
		{s3client.ListInput{Delimiter: "/", MaxKeys: 1}, "[[a] [a/] [b/] [c] [d/]]"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(listAll(tt.in)); got != tt.want {
			t.Errorf("pages of %+v: got %v, want %v", tt.in, got, tt.want)
		}
	}
}

// keysUnder counts the objects whose key starts with prefix.
func (s *fakeStore) keysUnder(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k := range s.objects {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}
