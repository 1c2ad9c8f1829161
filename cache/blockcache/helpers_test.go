package blockcache

// Shared by the tests of this package: a fake source that counts its
// calls, a cache opened on a test directory, and what they look at.

import (
	"bytes"
	"context"
	"io/fs"
	"math/rand"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/bucketfs/bucketfs/s3client"
)

const testBlock = 4096

// fakeSource holds objects in memory and counts its calls.
type fakeSource struct {
	mu      sync.Mutex // protects the fields below
	objects map[string][]byte
	etags   map[string]string
	calls   int
	bytes   int64
}

func newFakeSource() *fakeSource {
	return &fakeSource{objects: map[string][]byte{}, etags: map[string]string{}}
}

func (s *fakeSource) set(key string, data []byte, etag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[key], s.etags[key] = data, etag
}

func (s *fakeSource) ReadObject(ctx context.Context, bucket, key string, off int64, p []byte, opts s3client.GetOptions) (int, *s3client.ObjectInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	data, ok := s.objects[key]
	if !ok {
		return 0, nil, s3client.ErrNotFound
	}
	if opts.IfMatch != "" && normETag(opts.IfMatch) != s.etags[key] {
		return 0, nil, s3client.ErrPreconditionFailed
	}
	info := &s3client.ObjectInfo{Key: key, ETag: `"` + s.etags[key] + `"`, Size: int64(len(data))}
	if off >= int64(len(data)) {
		return 0, info, nil
	}
	n := copy(p, data[off:])
	s.bytes += int64(n)
	return n, info, nil
}

func (s *fakeSource) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func testLog(t *testing.T) (*logrus.Entry, *logtest.Hook) {
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	return logger.WithField("component", "cache"), hook
}

func openTest(t *testing.T, dir string, max int64) *Cache {
	t.Helper()
	log, _ := testLog(t)
	c, err := Open(Options{Dir: dir, MaxSize: max, BlockSize: testBlock}, log)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(b)
	return b
}

// read reads [off, off+n) of key at etag through src and checks it.
func read(t *testing.T, src Source, key, etag string, data []byte, off, n int64) {
	t.Helper()
	p := make([]byte, n)
	got, info, err := src.ReadObject(context.Background(), "b", key, off, p, s3client.GetOptions{IfMatch: etag})
	if err != nil {
		t.Fatalf("ReadObject(%s, %d, %d): %v", key, off, n, err)
	}
	want := data[min(off, int64(len(data))):min(off+n, int64(len(data)))]
	if !bytes.Equal(p[:got], want) {
		t.Fatalf("ReadObject(%s, %d, %d): got %d bytes, want %d (equal prefix: %v)", key, off, n, got, len(want), bytes.Equal(p[:min(got, len(want))], want[:min(got, len(want))]))
	}
	if int64(got) < n && (info == nil || info.Size != int64(len(data))) {
		t.Errorf("ReadObject(%s, %d, %d): short read with info %+v, want size %d", key, off, n, info, len(data))
	}
}

// ranges are reads of every shape: aligned, unaligned, across blocks,
// the tail, past the end.
func ranges(size int64) [][2]int64 {
	return [][2]int64{
		{0, testBlock}, {0, 3 * testBlock}, {17, 100}, {testBlock - 5, 10}, {2*testBlock + 1, 2 * testBlock},
		{size - 10, 10}, {size - 10, 100}, {size - testBlock/2, testBlock}, {0, size}, {0, size + 5000}, {size, 10}, {size + 3, 10},
	}
}

// blockFiles lists the block files of a cache directory.
func blockFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, blocksName, "[0-9a-f]*-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// diskUsage is what du would say of dir: the allocated bytes of every
// file and directory in it.
func diskUsage(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // removed meanwhile
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		}
		return nil
	})
	return total
}
