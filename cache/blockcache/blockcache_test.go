package blockcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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

func TestReadsHitAfterMiss(t *testing.T) {
	src := newFakeSource()
	data := randomBytes(5*testBlock + 1234)
	src.set("k", data, "e1")
	c := openTest(t, t.TempDir(), 1<<20)
	cs := c.Wrap(src)
	for _, r := range ranges(int64(len(data))) {
		read(t, cs, "k", `"e1"`, data, r[0], r[1])
	}
	before := src.count()
	for _, r := range ranges(int64(len(data))) {
		read(t, cs, "k", "e1", data, r[0], r[1])
	}
	if got := src.count() - before; got != 0 {
		t.Errorf("source calls of the second pass: got %v, want 0", got)
	}
}

func TestHitsInOrderStartingEverywhere(t *testing.T) {
	// Blocks cached by one pattern of reads serve any other.
	src := newFakeSource()
	data := randomBytes(7*testBlock + 99)
	src.set("k", data, "e1")
	c := openTest(t, t.TempDir(), 1<<20)
	cs := c.Wrap(src)
	for off := int64(0); off < int64(len(data)); off += 1000 {
		read(t, cs, "k", "e1", data, off, 1000)
	}
	before := src.count()
	for off := int64(0); off < int64(len(data)); off += 3 * testBlock {
		read(t, cs, "k", "e1", data, off, 3*testBlock)
	}
	if got := src.count() - before; got != 0 {
		t.Errorf("source calls: got %v, want 0", got)
	}
}

func TestUnpinnedReadsBypass(t *testing.T) {
	src := newFakeSource()
	data := randomBytes(2 * testBlock)
	src.set("k", data, "e1")
	c := openTest(t, t.TempDir(), 1<<20)
	cs := c.Wrap(src)
	read(t, cs, "k", "", data, 0, int64(len(data)))
	read(t, cs, "k", "", data, 0, int64(len(data)))
	if got := src.count(); got != 2 {
		t.Errorf("source calls: got %v, want 2", got)
	}
	if got := c.Used(); got != fixedCost {
		t.Errorf("used: got %v, want %v (nothing cached)", got, fixedCost)
	}
}

func TestChangedETagNeverServesOldBlocks(t *testing.T) {
	src := newFakeSource()
	old := randomBytes(3 * testBlock)
	src.set("k", old, "e1")
	c := openTest(t, t.TempDir(), 1<<20)
	cs := c.Wrap(src)
	read(t, cs, "k", "e1", old, 0, int64(len(old)))
	now := bytes.Repeat([]byte("new!"), 3*testBlock/4)
	src.set("k", now, "e2")
	before := src.count()
	read(t, cs, "k", "e2", now, 0, int64(len(now)))
	if got := src.count() - before; got != 1 {
		t.Errorf("source calls for the new ETag: got %v, want 1", got)
	}
	// A read pinned to the old ETag: the source says it changed, and
	// the cache, which has the old blocks, serves them only for "e1".
	_, _, err := cs.ReadObject(context.Background(), "b", "k", 0, make([]byte, 10), s3client.GetOptions{IfMatch: "e3"})
	if !errors.Is(err, s3client.ErrPreconditionFailed) {
		t.Errorf("read pinned to an unknown ETag: got %v, want ErrPreconditionFailed", err)
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

func TestCorruptBlockIsRefetched(t *testing.T) {
	for _, how := range []string{"flip a byte", "truncate", "flip a header byte", "empty"} {
		t.Run(how, func(t *testing.T) {
			src := newFakeSource()
			data := randomBytes(testBlock)
			src.set("k", data, "e1")
			dir := t.TempDir()
			c := openTest(t, dir, 1<<20)
			cs := c.Wrap(src)
			read(t, cs, "k", "e1", data, 0, testBlock)
			c.Flush()
			files := blockFiles(t, dir)
			if len(files) != 1 {
				t.Fatalf("block files: got %v, want 1", files)
			}
			b, _ := os.ReadFile(files[0])
			switch how {
			case "flip a byte":
				b[headerSize+100] ^= 1
			case "truncate":
				b = b[:len(b)-1]
			case "flip a header byte":
				b[20] ^= 1
			case "empty":
				b = nil
			}
			if err := os.WriteFile(files[0], b, 0o600); err != nil {
				t.Fatal(err)
			}
			before := src.count()
			read(t, cs, "k", "e1", data, 0, testBlock)
			if got := src.count() - before; got != 1 {
				t.Errorf("source calls after corruption: got %v, want 1", got)
			}
			// Fetched again and cached again, intact.
			read(t, cs, "k", "e1", data, 0, testBlock)
			if got := src.count() - before; got != 1 {
				t.Errorf("source calls after the refetch: got %v, want 1", got)
			}
		})
	}
}

func TestRestartReusesBlocks(t *testing.T) {
	src := newFakeSource()
	data := randomBytes(10*testBlock + 7)
	src.set("k", data, "e1")
	dir := t.TempDir()
	log, _ := testLog(t)
	c, err := Open(Options{Dir: dir, MaxSize: 1 << 20, BlockSize: testBlock}, log)
	if err != nil {
		t.Fatal(err)
	}
	read(t, c.Wrap(src), "k", "e1", data, 0, int64(len(data)))
	c.Flush()
	used := c.Used()
	c.Close()
	// A torn temp file, as a crash in the middle of a write leaves.
	if err := os.WriteFile(filepath.Join(dir, blocksName, tmpPrefix+"123"), []byte("torn"), 0o600); err != nil {
		t.Fatal(err)
	}
	c2 := openTest(t, dir, 1<<20)
	if got := c2.Used(); got != used {
		t.Errorf("used after restart: got %v, want %v", got, used)
	}
	if _, err := os.Stat(filepath.Join(dir, blocksName, tmpPrefix+"123")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("torn temp file after Open: %v, want it removed", err)
	}
	before := src.count()
	read(t, c2.Wrap(src), "k", "e1", data, 0, int64(len(data)))
	if got := src.count() - before; got != 0 {
		t.Errorf("source calls after restart: got %v, want 0", got)
	}
}

func TestRestartKeepsLRUOrderAndLimit(t *testing.T) {
	src := newFakeSource()
	dir := t.TempDir()
	c := openTest(t, dir, 1<<20)
	cs := c.Wrap(src)
	var datas [][]byte
	for i := range 4 {
		d := randomBytes(testBlock + i)
		datas = append(datas, d[:testBlock])
		src.set(fmt.Sprint(i), d[:testBlock], "e")
		read(t, cs, fmt.Sprint(i), "e", d[:testBlock], 0, testBlock)
	}
	c.Flush()
	// Make block 0 the oldest by far, 3 the newest.
	for i := range 4 {
		name := blockName(newObjectID("", "b", fmt.Sprint(i), "e"), 0)
		tm := time.Now().Add(time.Duration(i-10) * time.Hour)
		if err := os.Chtimes(filepath.Join(dir, blocksName, name), tm, tm); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	// Room for two blocks only: the two newest stay.
	c2 := openTest(t, dir, fixedCost+2*cost(testBlock))
	if got := len(blockFiles(t, dir)); got != 2 {
		t.Errorf("blocks after reopening with a smaller limit: got %v, want 2", got)
	}
	before := src.count()
	cs2 := c2.Wrap(src)
	for i := 2; i < 4; i++ {
		read(t, cs2, fmt.Sprint(i), "e", datas[i], 0, testBlock)
	}
	if got := src.count() - before; got != 0 {
		t.Errorf("source calls for the newest blocks: got %v, want 0", got)
	}
}

func TestLayoutVersion(t *testing.T) {
	log, _ := testLog(t)
	t.Run("other layout is emptied", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, versionName), []byte(versionPrefix+", layout 0\n"), 0o600)
		os.MkdirAll(filepath.Join(dir, blocksName), 0o700)
		os.WriteFile(filepath.Join(dir, blocksName, "old-format-block"), []byte("x"), 0o600)
		c, err := Open(Options{Dir: dir, BlockSize: testBlock}, log)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := blockFiles(t, dir); len(got) != 0 {
			t.Errorf("blocks of the old layout: got %v, want none", got)
		}
		v, _ := os.ReadFile(filepath.Join(dir, versionName))
		if string(v) != layout(testBlock) {
			t.Errorf("VERSION: got %q, want %q", v, layout(testBlock))
		}
	})
	t.Run("another block size is another layout", func(t *testing.T) {
		dir := t.TempDir()
		src := newFakeSource()
		data := randomBytes(testBlock)
		src.set("k", data, "e")
		c := openTest(t, dir, 1<<20)
		read(t, c.Wrap(src), "k", "e", data, 0, testBlock)
		c.Close()
		if got := blockFiles(t, dir); len(got) != 1 {
			t.Fatalf("blocks written by Close: got %v, want 1", got)
		}
		c2, err := Open(Options{Dir: dir, BlockSize: 2 * testBlock}, log)
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		if got := blockFiles(t, dir); len(got) != 0 {
			t.Errorf("blocks of another block size: got %v, want none", got)
		}
	})
	t.Run("foreign directory is refused", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("mine"), 0o600)
		if c, err := Open(Options{Dir: dir}, log); err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Errorf("Open of a foreign directory: got %v, want a refusal", err)
			if c != nil {
				c.Close()
			}
		}
		if b, err := os.ReadFile(filepath.Join(dir, "precious.txt")); err != nil || string(b) != "mine" {
			t.Errorf("foreign file: got %q, %v", b, err)
		}
	})
	t.Run("foreign VERSION is refused", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, versionName), []byte("1.2.3\n"), 0o600)
		if c, err := Open(Options{Dir: dir}, log); err == nil {
			t.Errorf("Open of a directory with a foreign VERSION: got no error")
			c.Close()
		}
	})
}

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	c := openTest(t, dir, 1<<20)
	log, _ := testLog(t)
	_, err := Open(Options{Dir: dir}, log)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Fatalf("second Open: got %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
	c.Close()
	c2, err := Open(Options{Dir: dir}, log)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	c2.Close()
}

func TestPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	src := newFakeSource()
	data := randomBytes(testBlock)
	src.set("k", data, "e")
	c := openTest(t, dir, 1<<20)
	read(t, c.Wrap(src), "k", "e", data, 0, testBlock)
	c.Flush()
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		info, _ := d.Info()
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("mode of %s: got %v, want %v", path, got, want)
		}
		return nil
	})
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

func TestLimitUnder16Readers(t *testing.T) {
	src := newFakeSource()
	const objects, size = 64, 6*testBlock + 100
	datas := map[string][]byte{}
	for i := range objects {
		k := fmt.Sprint("obj", i)
		datas[k] = randomBytes(size + i)
		src.set(k, datas[k], "e")
	}
	dir := t.TempDir()
	limit := int64(fixedCost + 20*cost(testBlock))
	c := openTest(t, dir, limit)
	cs := c.Wrap(src)
	base := diskUsage(dir) // the directories as created, before any block

	stop := make(chan struct{})
	var maxUsed, maxDisk atomic.Int64
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if u := c.Used(); u > maxUsed.Load() {
				maxUsed.Store(u)
			}
			if d := diskUsage(dir); d > maxDisk.Load() {
				maxDisk.Store(d)
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(g)))
			for range 200 {
				k := fmt.Sprint("obj", r.Intn(objects))
				d := datas[k]
				off := r.Int63n(int64(len(d)))
				n := 1 + r.Int63n(3*testBlock)
				p := make([]byte, n)
				got, _, err := cs.ReadObject(context.Background(), "b", k, off, p, s3client.GetOptions{IfMatch: "e"})
				if err != nil || !bytes.Equal(p[:got], d[off:min(off+n, int64(len(d)))]) {
					t.Errorf("read %s at %d: %v, or wrong bytes", k, off, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	sampler.Wait()
	if got := maxUsed.Load(); got > limit {
		t.Errorf("most bytes counted: got %v, want at most %v", got, limit)
	}
	if got := maxDisk.Load(); got > limit || got <= base {
		t.Errorf("most bytes on disk (du): got %v, want in (%v, %v]", got, base, limit)
	}
	if n := len(blockFiles(t, dir)); n == 0 {
		t.Errorf("block files at the end: got %v, want some", n)
	}
	t.Logf("limit %d, most counted %d, most on disk %d", limit, maxUsed.Load(), maxDisk.Load())
}

func TestUploadedIsReadBackWithoutFetching(t *testing.T) {
	src := newFakeSource()
	data := randomBytes(3*testBlock + 17)
	src.set("k", data, "e9")
	c := openTest(t, t.TempDir(), 1<<20)
	cs := c.Wrap(src)
	u, ok := cs.(interface {
		Uploaded(ctx context.Context, bucket, key, etag string, body io.ReaderAt, size int64)
	})
	if !ok {
		t.Fatal("the cache's Source has no Uploaded")
	}
	u.Uploaded(context.Background(), "b", "k", `"e9"`, bytes.NewReader(data), int64(len(data)))
	for _, r := range ranges(int64(len(data))) {
		read(t, cs, "k", "e9", data, r[0], r[1])
	}
	if got := src.count(); got != 0 {
		t.Errorf("source calls after write-through: got %v, want 0", got)
	}
}

// TestWriteBehindFull: a block that finds the write-behind queue full is
// written by the reader itself (or, with waitWhenFull off, dropped:
// reads stay exact and go to the source); an upload's write-through
// waits for the disk too.
func TestWriteBehindFull(t *testing.T) {
	src := newFakeSource()
	data := randomBytes(3 * testBlock)
	src.set("k", data, "e")
	src.set("up", data, "u")
	dir := t.TempDir()
	log, _ := testLog(t)
	c, err := Open(Options{Dir: dir, MaxSize: 1 << 20, BlockSize: testBlock, WriteBehind: 1}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cs := c.Wrap(src)
	read(t, cs, "k", "e", data, 0, int64(len(data)))
	if got := len(blockFiles(t, dir)); got != 3 {
		t.Errorf("block files right after a read with a full queue: got %v, want 3", got)
	}
	read(t, cs, "k", "e", data, 0, int64(len(data)))
	if got := src.count(); got != 1 {
		t.Errorf("source calls with a full queue: got %v, want 1", got)
	}

	c.waitWhenFull = false
	src.set("k2", data, "e")
	read(t, cs, "k2", "e", data, 0, int64(len(data)))
	c.Flush()
	read(t, cs, "k2", "e", data, 0, int64(len(data)))
	if got := src.count(); got != 3 {
		t.Errorf("source calls after dropped blocks: got %v, want 3 (k2 twice: nothing of it cached)", got)
	}
	if got := c.stats.dropped.Load(); got != 6 {
		t.Errorf("blocks dropped: got %v, want 6", got)
	}
	cs.(*cached).Uploaded(context.Background(), "b", "up", "u", bytes.NewReader(data), int64(len(data)))
	if got := len(blockFiles(t, dir)); got != 6 {
		t.Errorf("block files right after write-through with a full queue: got %v, want 6", got)
	}
}

// TestCloseWritesQueuedBlocks: a block read is served again at once
// (from the queue or the disk), and on disk once Close returns.
func TestCloseWritesQueuedBlocks(t *testing.T) {
	src := newFakeSource()
	data := randomBytes(2 * testBlock)
	src.set("k", data, "e")
	dir := t.TempDir()
	c := openTest(t, dir, 1<<20)
	cs := c.Wrap(src)
	read(t, cs, "k", "e", data, 0, int64(len(data)))
	read(t, cs, "k", "e", data, 0, int64(len(data)))
	if got := src.count(); got != 1 {
		t.Errorf("source calls: got %v, want 1", got)
	}
	c.Close()
	if got := len(blockFiles(t, dir)); got != 2 {
		t.Errorf("block files after Close: got %v, want 2", got)
	}
}

func TestMaxPercentOfFreeSpace(t *testing.T) {
	dir := t.TempDir()
	log, _ := testLog(t)
	c, err := Open(Options{Dir: dir, MaxPercent: 10, BlockSize: testBlock}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	// Free space moves as other programs write: allow 1% of it either way.
	if got, want := c.Limit(), (free+fixedCost)/10; got < want-free/100 || got > want+free/100 {
		t.Errorf("limit at 10%% of %d free bytes: got %d, want about %d", free, got, want)
	}
}

// TestNamespacesDoNotShareBlocks: the same bucket, key and ETag on two
// servers are two objects.
func TestNamespacesDoNotShareBlocks(t *testing.T) {
	src := newFakeSource()
	data := randomBytes(testBlock)
	src.set("k", data, "e")
	dir := t.TempDir()
	log, _ := testLog(t)
	for i, ns := range []string{"http://a:9000", "http://b:9000", "http://a:9000"} {
		c, err := Open(Options{Dir: dir, BlockSize: testBlock, Namespace: ns}, log)
		if err != nil {
			t.Fatal(err)
		}
		read(t, c.Wrap(src), "k", "e", data, 0, testBlock)
		c.Close()
		if want := []int{1, 2, 2}[i]; src.count() != want {
			t.Errorf("source calls after namespace %s: got %v, want %v", ns, src.count(), want)
		}
	}
}
