package fs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/cache"
)

func TestReaddir(t *testing.T) {
	mnt, _ := mountKeys(t, "d/a", "d/b/c")
	checkNames(t, mnt, "d/")
	checkNames(t, filepath.Join(mnt, "d"), "a", "b/")
	checkNames(t, filepath.Join(mnt, "d", "b"), "c")
}

func TestStatAfterReaddirUsesNoHead(t *testing.T) {
	mnt, store := mountKeys(t, "f1", "f2", "g/h")
	store.set("f2", []byte("longer content"))
	checkNames(t, mnt, "f1", "f2", "g/")
	for name, want := range map[string]int64{"f1": int64(len("content of f1")), "f2": 14, "g": 4096} {
		st, err := os.Stat(filepath.Join(mnt, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() != want {
			t.Errorf("size of %s: got %v, want %v", name, st.Size(), want)
		}
		if got, want := st.ModTime(), store.mtime; !got.Equal(want) && name != "g" {
			t.Errorf("mtime of %s: got %v, want %v", name, got, want)
		}
	}
	if got := store.count("HeadObject"); got != 0 {
		t.Errorf("HeadObject calls: got %v, want 0", got)
	}
	if got := store.count("ListObjects"); got != 1 {
		t.Errorf("ListObjects calls: got %v, want 1", got)
	}
}

func TestReaddirPagination(t *testing.T) {
	var keys, want []string
	for i := range 2500 {
		keys = append(keys, fmt.Sprintf("p/k%04d", i))
		want = append(want, fmt.Sprintf("k%04d", i))
	}
	mnt, store := mountKeys(t, keys...)
	if _, err := os.Stat(filepath.Join(mnt, "p")); err != nil {
		t.Fatal(err)
	}
	store.resetCounts()
	checkNames(t, filepath.Join(mnt, "p"), want...)
	if got := store.count("ListObjects"); got != 3 {
		t.Errorf("ListObjects calls for 2500 keys: got %v, want 3", got)
	}
}

func TestInvalidKeysSkipped(t *testing.T) {
	long := strings.Repeat("n", 256)
	store := newFakeStore(t, "b", "a//b", "a/ok", "x/../y", "x/./z", "x/fine", "/lead", "l/"+long, "top")
	mnt, hook := testMount(t, store, Options{}, cache.Options{})
	for range 2 {
		checkNames(t, mnt, "a/", "l/", "top", "x/")
		checkNames(t, filepath.Join(mnt, "a"), "ok")
		checkNames(t, filepath.Join(mnt, "x"), "fine")
		checkNames(t, filepath.Join(mnt, "l"))
	}
	var warned []string
	for _, e := range hook.AllEntries() {
		warned = append(warned, e.Message)
	}
	// One warning per bad key, however often it is listed.
	if len(warned) != 5 {
		t.Errorf("warnings: got %d %q, want 5", len(warned), warned)
	}
}

func TestDirectoryShadowsFile(t *testing.T) {
	for _, first := range []string{"stat", "readdir"} {
		t.Run(first, func(t *testing.T) {
			store := newFakeStore(t, "b", "a", "a/b")
			mnt, hook := testMount(t, store, Options{}, cache.Options{})
			if first == "readdir" {
				checkNames(t, mnt, "a/")
			}
			if st, err := os.Stat(filepath.Join(mnt, "a")); err != nil || !st.IsDir() {
				t.Fatalf("Stat(a): got %v, %v; want a directory", st, err)
			}
			checkNames(t, mnt, "a/")
			checkNames(t, filepath.Join(mnt, "a"), "b")
			if got := len(hook.AllEntries()); got != 1 {
				t.Errorf("warnings: got %v, want 1", got)
			}
		})
	}
}

// TestStatScanHeadsAhead: with StatHead, an ls -l-like scan HEADs every
// file once, most of them ahead of the lookups and in parallel.
func TestStatScanHeadsAhead(t *testing.T) {
	var keys []string
	for i := range 300 {
		keys = append(keys, fmt.Sprintf("d/f%03d", i))
	}
	store := newFakeStore(t, "b", keys...)
	mnt, _ := testMount(t, store, Options{StatHead: true}, cache.Options{})
	entries, err := os.ReadDir(filepath.Join(mnt, "d"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, err := os.Lstat(filepath.Join(mnt, "d", e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if got := store.count("HeadObject"); got < 300 || got > 310 {
		t.Errorf("HEADs for stat of 300 listed files: got %v, want 300 (one each)", got)
	}
}

// On a server that puts metadata in listings (MinIO), stat of every
// listed name — ls -l — costs no HEAD, and modes, owners and mtimes are
// the objects' own.
func TestListingMetadataSparesHeads(t *testing.T) {
	store := newFakeStore(t, "b")
	store.listMeta = true
	for i := range 20 {
		k := fmt.Sprintf("d/f%02d", i)
		store.set(k, []byte("x"))
		store.metas[k] = map[string]string{"mode": "33216", "uid": "1234", "gid": "5678", "mtime": "1600000000"} // 0100700
	}
	mnt, _ := testMount(t, store, Options{StatHead: true}, cache.Options{})
	entries, err := os.ReadDir(filepath.Join(mnt, "d"))
	if err != nil || len(entries) != 20 {
		t.Fatalf("ReadDir: %d entries, %v", len(entries), err)
	}
	store.resetCounts() // the lookup of d itself probed it
	for _, e := range entries {
		st, err := os.Lstat(filepath.Join(mnt, "d", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		if st.Mode().Perm() != 0o700 || sys.Uid != 1234 || sys.Gid != 5678 || st.ModTime().Unix() != 1600000000 {
			t.Errorf("%s: mode %v uid %d gid %d mtime %v; want 0700, 1234, 5678, 1600000000", e.Name(), st.Mode(), sys.Uid, sys.Gid, st.ModTime().Unix())
		}
	}
	if n := store.count("HeadObject"); n != 0 {
		t.Errorf("HEADs for ls -l of 20 files with metadata in the listing: got %d, want 0", n)
	}
}

// A scan of a directory that outlasts the listing's TTL goes on with a
// listing made again once in the background, not with a HEAD and a LIST
// per name once the first listing expired.
func TestScanOutlastingListingTTL(t *testing.T) {
	for _, delay := range []time.Duration{0, 400 * time.Millisecond} {
		t.Run(fmt.Sprintf("LIST takes %v", delay), func(t *testing.T) { testScanOutlastingTTL(t, delay) })
	}
}

// testScanOutlastingTTL: listing again while the scan goes on, LISTs
// taking delay (longer than the TTL: the old listing answers meanwhile).
func testScanOutlastingTTL(t *testing.T, delay time.Duration) {
	const n, ttl = 60, 300 * time.Millisecond
	var keys []string
	for i := 0; i < n; i++ {
		keys = append(keys, fmt.Sprintf("f%03d", i))
	}
	store := newFakeStore(t, "b", keys...)
	mnt, _ := testMount(t, store, Options{}, cache.Options{TTL: ttl})
	dir := mnt // the root: its own attributes need no request
	if got := names(t, dir); len(got) != n {
		t.Fatalf("readdir: %d names, want %d", len(got), n)
	}
	heads, lists := statScan(t, store, dir, n, delay, 4*ttl, nil)
	if heads != 0 || lists > 12 {
		t.Errorf("scan outlasting the listing TTL: %d HEAD and %d LIST, want 0 HEAD and a LIST per half TTL (about 8)", heads, lists)
	}
}

// On a server that lists metadata, a stat scan (ls -l) that outlasts the
// listing's TTL keeps the metadata the first listing learnt for pages
// listed plainly: no HEAD per name once the attribute cache let go, and
// not a listing with metadata of every page per TTL.
func TestMetaScanOutlastingListingTTL(t *testing.T) {
	for _, delay := range []time.Duration{0, 100 * time.Millisecond} {
		t.Run(fmt.Sprintf("LIST page takes %v", delay), func(t *testing.T) { testMetaScanOutlastingTTL(t, delay) })
	}
}

// testMetaScanOutlastingTTL: a stat scan of 10 pages over a 300 ms TTL,
// each page taking delay to list (with 100 ms, a listing outlasts the
// TTL: what the first listing learnt is gone from the attribute cache
// when the next one is in).
func testMetaScanOutlastingTTL(t *testing.T, delay time.Duration) {
	const n, ttl = 100, 300 * time.Millisecond
	store := newFakeStore(t, "b")
	store.listMeta, store.pageSize = true, 10
	for i := range n {
		k := fmt.Sprintf("f%03d", i)
		store.set(k, []byte("x"))
		store.metas[k] = map[string]string{"mode": "33216"} // 0100700
	}
	mnt, _ := testMount(t, store, Options{StatHead: true}, cache.Options{TTL: ttl})
	if got := names(t, mnt); len(got) != n {
		t.Fatalf("readdir: %d names, want %d", len(got), n)
	}
	heads, lists := statScan(t, store, mnt, n, delay, 8*ttl, func(name string, st os.FileInfo) {
		if st.Mode().Perm() != 0o700 {
			t.Fatalf("%s: mode %v, want 0700", name, st.Mode())
		}
	})
	// A listing per half TTL at most (10 pages), the metadata of pages
	// 1-9 once.
	if max := 16*10 + 9; heads != 0 || lists > max {
		t.Errorf("stat scan outlasting the listing TTL: %d HEAD and %d LIST, want 0 HEAD and at most %d LIST", heads, lists, max)
	}
}

// rm -r of a listed directory lists it once: the rmdir at the end
// answers from the listing the unlinks emptied, and asks no HEAD of an
// old-style directory object the parent's listing did not show. A
// directory with a key the listing hides, or a marker holding data, is
// still checked (and kept).
func TestRmTreeListsOnce(t *testing.T) {
	store := newFakeStore(t, "b")
	for i := range 20 {
		store.set(fmt.Sprintf("d/f%02d", i), []byte("x"))
	}
	store.set("keep/f", []byte("x"))
	store.set("keep/", []byte("data in a marker"))
	mnt, _ := testMount(t, store, Options{}, cache.Options{})
	names(t, mnt) // the root's listing, as rm -r's own walk does
	store.resetCounts()
	// As GNU rm -r: read the directory, unlink each name, rmdir it (Go's
	// os.RemoveAll tries the rmdir first).
	d := filepath.Join(mnt, "d")
	for _, n := range names(t, d) {
		if err := os.Remove(filepath.Join(d, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Rmdir(d); err != nil {
		t.Fatal(err)
	}
	if n := store.keysUnder("d/"); n != 0 {
		t.Errorf("%d keys left under d/ after rm -r", n)
	}
	if lists, heads := store.count("ListObjects"), store.count("HeadObject"); lists != 1 || heads != 0 {
		t.Errorf("rm -r of a directory of 20 files: %d LIST and %d HEAD, want 1 LIST (its listing) and 0 HEAD", lists, heads)
	}
	if err := os.Remove(filepath.Join(mnt, "keep", "f")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(mnt, "keep")); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Errorf("rmdir of a directory whose marker holds data: %v, want ENOTEMPTY", err)
	}
}

// A listing made again while we change the directory keeps our changes:
// a file removed after its LIST began stays removed (no ghost once the
// negative entry expires), one created then is listed.
func TestRelistKeepsOurChanges(t *testing.T) {
	const ttl = 2 * time.Second
	store := newFakeStore(t, "b", "f1", "f2")
	mnt, _ := testMount(t, store, Options{}, cache.Options{TTL: ttl, NegativeTTL: 100 * time.Millisecond})
	if got := names(t, mnt); len(got) != 2 {
		t.Fatalf("readdir: %v, want f1 and f2", got)
	}
	start := time.Now()
	time.Sleep(ttl/2 + 50*time.Millisecond)
	gate, held := make(chan struct{}), make(chan struct{}, 1)
	store.mu.Lock()
	store.listGate, store.listHeld = gate, held
	store.mu.Unlock()
	for i := 0; i < 2; i++ { // the second use past half the TTL lists again
		if _, err := os.Lstat(filepath.Join(mnt, "f2")); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-held: // the new LIST has seen f1 and no g
	case <-time.After(5 * time.Second):
		t.Fatal("no listing made again past half the TTL")
	}
	store.mu.Lock()
	store.listGate = nil
	store.mu.Unlock()
	if err := os.Remove(filepath.Join(mnt, "f1")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "g"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	close(gate)
	time.Sleep(time.Until(start.Add(ttl + 100*time.Millisecond))) // the first listing is gone
	store.resetCounts()
	if _, err := os.Lstat(filepath.Join(mnt, "f1")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("stat of f1, removed while the directory was listed again: %v, want ENOENT", err)
	}
	if st, err := os.Lstat(filepath.Join(mnt, "g")); err != nil || st.Size() != 3 {
		t.Errorf("stat of g, created while the directory was listed again: %v, %v; want 3 bytes", st, err)
	}
	if n := store.count("HeadObject"); n != 0 {
		t.Errorf("%d HEADs for stats the fresh listing answers, want 0", n)
	}
}

// A walk down a tree (find, du, rm -r) lists it with one LIST without a
// delimiter, not one LIST per directory; a tree too big for that keeps
// the directories its pages covered whole and lists the rest one by one.
func TestTreeListing(t *testing.T) {
	for _, tt := range []struct {
		name        string
		dirs, files int
		maxLists    int
	}{
		{"10 directories of 10", 10, 10, 3}, // the lookup of tree, its listing, the tree listing at d00
		{"12 directories of 1000 (more than a tree listing reads)", 12, 1000, 3 + treePages + 3 + 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var keys []string
			for d := 0; d < tt.dirs; d++ {
				for i := 0; i < tt.files; i++ {
					keys = append(keys, fmt.Sprintf("tree/d%02d/f%04d", d, i))
				}
			}
			store := newFakeStore(t, "b", keys...)
			mnt, _ := testMount(t, store, Options{StatHead: true}, cache.Options{})
			store.resetCounts()
			var got []string
			err := filepath.WalkDir(filepath.Join(mnt, "tree"), func(p string, e os.DirEntry, err error) error {
				if err == nil && !e.IsDir() {
					rel, _ := filepath.Rel(mnt, p)
					got = append(got, rel)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, " ") != strings.Join(keys, " ") {
				t.Errorf("walk found %d files, want the %d stored", len(got), len(keys))
			}
			lists := store.count("ListObjects")
			t.Logf("walk of %d directories of %d files: %d LIST, %d HEAD", tt.dirs, tt.files, lists, store.count("HeadObject"))
			if lists > tt.maxLists {
				t.Errorf("LISTs for a walk of %d directories: got %d, want at most %d", tt.dirs, lists, tt.maxLists)
			}
			// The directories without markers that a whole tree listing
			// showed need no HEAD for their attributes (du, find -ls).
			store.resetCounts()
			for d := 0; tt.files == 10 && d < tt.dirs; d++ {
				if _, err := os.Lstat(filepath.Join(mnt, "tree", fmt.Sprintf("d%02d", d))); err != nil {
					t.Fatal(err)
				}
			}
			if heads := store.count("HeadObject"); heads > 0 {
				t.Errorf("HEADs for stat of %d directories without markers after a tree listing: %d, want 0", tt.dirs, heads)
			}
		})
	}
}

// statScan makes each LIST of store take delay, then stats the names
// f000 to f(n-1) of dir round and round for d, checking each with check
// if it is not nil, and returns the HEADs and LISTs the scan cost.
func statScan(t *testing.T, store *fakeStore, dir string, n int, delay, d time.Duration, check func(name string, st os.FileInfo)) (heads, lists int) {
	t.Helper()
	store.mu.Lock()
	store.listDelay = delay
	store.mu.Unlock()
	store.resetCounts()
	start := time.Now()
	for i := 0; time.Since(start) < d; i = (i + 1) % n {
		name := fmt.Sprintf("f%03d", i)
		st, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("stat %s: %v", name, err)
		}
		if check != nil {
			check(name, st)
		}
		time.Sleep(2 * time.Millisecond)
	}
	heads, lists = store.count("HeadObject"), store.count("ListObjects")
	t.Logf("scan of %v: %d HEAD, %d LIST", time.Since(start).Round(time.Millisecond), heads, lists)
	return heads, lists
}
