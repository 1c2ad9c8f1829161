package fs

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/bucketfs/bucketfs/cache"
)

// A part waits for room in the budget while others are in flight, and
// goes when nothing is in flight, however full the budget.
func TestBudgetBackPressure(t *testing.T) {
	b := newBudget(10)
	b.charge(8)
	b.startFlight() // nothing in flight: goes
	b.charge(8)     // over the budget now
	started := make(chan struct{})
	go func() {
		b.startFlight()
		close(started)
	}()
	select {
	case <-started:
		t.Fatal("a second part went while the budget was exceeded and one was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	b.endFlight()
	b.release(8) // the first part was sent and its buffer given back
	select {
	case <-started:
	case <-time.After(time.Second):
		t.Fatal("the waiting part did not go once there was room")
	}
	if b.tryCharge(3) {
		t.Errorf("tryCharge of 3 with 8 of 10 used: got room")
	}
	if !b.tryCharge(2) {
		t.Errorf("tryCharge of 2 with 8 of 10 used: got no room")
	}
}

// Every buffer a streaming upload, a staged rewrite and a read take from
// the budget goes back: nothing is charged once the files are closed.
func TestBudgetGivesEverythingBack(t *testing.T) {
	store := newFakeStore(t, "b")
	logger, _ := logtest.NewNullLogger()
	fsys, root := New(store, cache.Options{}, Options{Bucket: "b", MaxMemory: 3 * testPart,
		Write: WriteOptions{PartSize: testPart, Parallel: 2}, Read: ReadOptions{ChunkSize: 1 << 20}}, logger.WithField("component", "fs"))
	mnt := t.TempDir()
	server, err := gofs.Mount(mnt, root, &gofs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Unmount()
	data := randomBytes(4*testPart + 777)
	p := filepath.Join(mnt, "big")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	checkObject(t, store, "big", data)
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v, equal %v", err, bytes.Equal(got, data))
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("x"), 100); err != nil { // staged: downloads through a part buffer
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for fsys.parts.mem.inUse() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // reads ahead still finishing
	}
	if n := fsys.parts.mem.inUse(); n != 0 {
		t.Errorf("bytes still charged to the budget after every file was closed: %d", n)
	}
}

// The pool keeps what it is given back across garbage collections
// (unlike a sync.Pool), never more than the budget, and a trim gives
// back what was not needed since the last one.
func TestBufPoolKeepsAndTrims(t *testing.T) {
	b := &bufPool{size: 1024, mem: newBudget(3 * 1024)}
	var bufs [][]byte
	for i := 0; i < 4; i++ {
		bufs = append(bufs, b.get(1024))
	}
	for _, buf := range bufs {
		b.put(buf)
	}
	if len(b.free) != 3 {
		t.Fatalf("free buffers: %d, want 3 (the budget's worth)", len(b.free))
	}
	runtime.GC()
	runtime.GC()
	same := 0
	for i := 0; i < 3; i++ {
		got := b.get(1024)
		for _, old := range bufs {
			if &got[:1][0] == &old[:1][0] {
				same++
			}
		}
		defer b.put(got)
	}
	if same != 3 {
		t.Errorf("after two collections %d of 3 buffers were reused", same)
	}
	if b.held.Load() != 3*1024 {
		t.Errorf("held: %d", b.held.Load())
	}
}

func TestBufPoolTrim(t *testing.T) {
	b := &bufPool{size: 1024}
	x, y, z := b.get(1024), b.get(1024), b.get(1024)
	b.put(x) // the first free buffer: its interval starts
	b.put(y)
	b.put(z)
	b.trim() // x was free all along; y and z came later
	if len(b.free) != 2 {
		t.Fatalf("after the first trim: %d free, want 2", len(b.free))
	}
	// One buffer in use during the next interval: one stayed free.
	b.put(b.get(1024))
	b.trim()
	if len(b.free) != 1 {
		t.Fatalf("after the second trim: %d free, want 1 (the one used)", len(b.free))
	}
	b.trim() // unused for a whole interval
	if len(b.free) != 0 || b.trimming {
		t.Fatalf("after a third trim: %d free, trimming %v", len(b.free), b.trimming)
	}
}

// Reads ahead share aheadMax: past it tryGet refuses, get does not.
func TestBufPoolAheadMax(t *testing.T) {
	b := &bufPool{size: 1024, mem: newBudget(1 << 20), aheadMax: 3 * 1024}
	var held [][]byte
	for i := 0; i < 3; i++ {
		buf := b.tryGet(1024)
		if buf == nil {
			t.Fatalf("tryGet %d of 3: refused", i+1)
		}
		held = append(held, buf)
	}
	if b.tryGet(1024) != nil {
		t.Fatal("tryGet past aheadMax: granted")
	}
	held = append(held, b.get(1024)) // a chunk being read cannot wait
	b.put(held[0])
	b.put(held[1])
	if b.tryGet(1024) == nil {
		t.Error("tryGet with room again: refused")
	}
}
