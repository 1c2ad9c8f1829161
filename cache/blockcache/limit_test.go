package blockcache

// The size limit and the write-behind queue.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/bucketfs/bucketfs/s3client"
)

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
