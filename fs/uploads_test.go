package fs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	logtest "github.com/sirupsen/logrus/hooks/test"
	"golang.org/x/sys/unix"

	"github.com/bucketfs/bucketfs/cache"
	"github.com/bucketfs/bucketfs/s3client"
)

const testEndpoint = "http://s3.test:9000"

// newTestJournal is the upload journal of a mount of bucket on store,
// with journals in dir, and the hook that holds what it logged.
func newTestJournal(store Store, dir, bucket string, maxAge time.Duration) (*uploadJournal, *logtest.Hook) {
	logger, hook := logtest.NewNullLogger()
	j := newUploadJournal(store, Options{Bucket: bucket, StateDir: dir, Endpoint: testEndpoint, AbortStaleUploads: maxAge},
		logger.WithField("component", "fs"))
	return j, hook
}

// startUpload starts an upload of key on store as another client (or an
// earlier run) would, with nothing recorded.
func startUpload(t *testing.T, store Store, key string) string {
	t.Helper()
	id, err := store.CreateMultipartUpload(context.Background(), "b", key, s3client.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// writeJournal writes a journal file into dir as a run of bucketfs on
// endpoint would have left it, and holds no lock on it.
func writeJournal(t *testing.T, dir, endpoint, bucket string, entries ...journalEntry) string {
	t.Helper()
	j, err := createJournal(dir, endpointHost(endpoint), bucket)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := j.start(e); err != nil {
			t.Fatal(err)
		}
	}
	j.close()
	return j.path
}

// journalEntries reads what the journal at path records as open.
func journalEntries(t *testing.T, path string) []journalEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, entries, err := (&journalFile{f: f, path: path}).read()
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func journals(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, journalPattern))
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

func TestJournalRecordsAndRemoves(t *testing.T) {
	store := newFakeStore(t, "b")
	dir := filepath.Join(t.TempDir(), "state")
	j, _ := newTestJournal(store, dir, "b", time.Hour)
	s := journaled{store, j}
	ctx := context.Background()
	id, err := s.CreateMultipartUpload(ctx, "b", "big", s3client.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	paths := journals(t, dir)
	if len(paths) != 1 {
		t.Fatalf("journals after an upload started: got %v, want one", paths)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("state directory: got %v %v, want mode 0700", st.Mode(), err)
	}
	got := journalEntries(t, paths[0])
	if len(got) != 1 || got[0].Upload != id || got[0].Bucket != "b" || got[0].Key != "big" || time.Since(got[0].Start) > time.Minute {
		t.Fatalf("journal: got %+v, want upload %s of b/big started now", got, id)
	}
	id2, _ := s.CreateMultipartUpload(ctx, "b", "other", s3client.PutOptions{})
	if _, err := s.UploadPart(ctx, "b", "big", id, 1, strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteMultipartUpload(ctx, "b", "big", id, []s3client.CompletedPart{{PartNumber: 1, ETag: `"part-1"`}}); err != nil {
		t.Fatal(err)
	}
	if got := journalEntries(t, paths[0]); len(got) != 1 || got[0].Upload != id2 {
		t.Fatalf("journal after one upload completed: got %+v, want only %s", got, id2)
	}
	if err := s.AbortMultipartUpload(ctx, "b", "other", id2); err != nil {
		t.Fatal(err)
	}
	if got := journals(t, dir); len(got) != 0 {
		t.Errorf("journals once every upload is done: got %v, want none", got)
	}
}

// failingAborts is a store whose aborts fail while fail is set.
type failingAborts struct {
	*fakeStore
	fail bool
}

func (s *failingAborts) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	if s.fail {
		return errors.New("connection refused")
	}
	return s.fakeStore.AbortMultipartUpload(ctx, bucket, key, uploadID)
}

func TestSweepOwnJournal(t *testing.T) {
	store := &failingAborts{fakeStore: newFakeStore(t, "b"), fail: true}
	dir := t.TempDir()
	j, hook := newTestJournal(store, dir, "b", time.Hour)
	s := journaled{store, j}
	ctx := context.Background()
	writing, _ := s.CreateMultipartUpload(ctx, "b", "writing", s3client.PutOptions{})
	given, _ := s.CreateMultipartUpload(ctx, "b", "given-up", s3client.PutOptions{})
	if err := s.AbortMultipartUpload(ctx, "b", "given-up", given); err == nil {
		t.Fatal("abort: want the store's error")
	}
	store.fail = false
	j.sweep(ctx)
	if got := store.openUploads(); got != 2 {
		t.Fatalf("uploads after a sweep while they are recent: got %v, want 2", got)
	}
	j.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	j.sweep(ctx)
	if _, ok := store.uploads[writing]; !ok || store.openUploads() != 1 {
		t.Errorf("uploads after a sweep: got %v, want only %s (in progress)", store.uploads, writing)
	}
	if !logged(hook, "aborted a multipart upload left by this run: b/given-up") {
		t.Errorf("log does not name the aborted upload: %v", hook.AllEntries())
	}
	paths := journals(t, dir)
	if len(paths) != 1 {
		t.Fatalf("journals: got %v, want this run's", paths)
	}
	if got := journalEntries(t, paths[0]); len(got) != 1 || got[0].Upload != writing {
		t.Errorf("journal: got %+v, want only %s", got, writing)
	}
}

func TestSweepDeadJournal(t *testing.T) {
	store := newFakeStore(t, "b")
	dir := t.TempDir()
	now := time.Now()
	old, recent := startUpload(t, store, "old"), startUpload(t, store, "recent")
	gone := "upload-gone" // aborted by someone else meanwhile: NoSuchUpload
	path := writeJournal(t, dir, testEndpoint, "b",
		journalEntry{Bucket: "b", Key: "old", Upload: old, Start: now.Add(-48 * time.Hour)},
		journalEntry{Bucket: "b", Key: "recent", Upload: recent, Start: now.Add(-time.Hour)},
		journalEntry{Bucket: "b", Key: "gone", Upload: gone, Start: now.Add(-48 * time.Hour)})
	j, hook := newTestJournal(store, dir, "b", 24*time.Hour)
	j.sweep(context.Background())
	if _, ok := store.uploads[recent]; !ok || store.openUploads() != 1 {
		t.Errorf("uploads after the sweep: got %v, want only %s (recent)", store.uploads, recent)
	}
	if !logged(hook, "aborted a multipart upload left by an earlier run: b/old (upload id "+old) {
		t.Errorf("log does not name the aborted upload: %v", hook.AllEntries())
	}
	if got := journalEntries(t, path); len(got) != 1 || got[0].Upload != recent {
		t.Fatalf("dead journal after the sweep: got %+v, want only %s", got, recent)
	}
	j.now = func() time.Time { return now.Add(24 * time.Hour) }
	j.sweep(context.Background())
	if got := store.openUploads(); got != 0 {
		t.Errorf("uploads after the second sweep: got %v, want 0", got)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dead journal once every upload is aborted: got %v, want it removed", err)
	}
}

func TestSweepSparesLiveJournal(t *testing.T) {
	store := newFakeStore(t, "b")
	dir := t.TempDir()
	id := startUpload(t, store, "live")
	path := writeJournal(t, dir, testEndpoint, "b",
		journalEntry{Bucket: "b", Key: "live", Upload: id, Start: time.Now().Add(-48 * time.Hour)})
	// The run that writes it is alive: it holds the lock.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	j, _ := newTestJournal(store, dir, "b", time.Hour)
	j.sweep(context.Background())
	if got := store.openUploads(); got != 1 || store.count("AbortMultipartUpload") != 0 {
		t.Errorf("uploads of a live run after a sweep: got %v (%d aborts), want 1 (none)", got, store.count("AbortMultipartUpload"))
	}
	if got := journalEntries(t, path); len(got) != 1 {
		t.Errorf("live journal after a sweep: got %+v, want it as it was", got)
	}
}

func TestSweepSparesUnrecorded(t *testing.T) {
	store := newFakeStore(t, "b")
	dir := t.TempDir()
	startUpload(t, store, "another-client")
	old := time.Now().Add(-48 * time.Hour)
	other := startUpload(t, store, "other-endpoint")
	otherPath := writeJournal(t, dir, "http://elsewhere:9000", "b", journalEntry{Bucket: "b", Key: "other-endpoint", Upload: other, Start: old})
	wholePath := writeJournal(t, dir, testEndpoint, "",
		journalEntry{Bucket: "c", Key: "other-bucket", Upload: "upload-c", Start: old})
	j, _ := newTestJournal(store, dir, "b", time.Hour)
	j.sweep(context.Background())
	if got := store.openUploads(); got != 2 || store.count("AbortMultipartUpload") != 0 {
		t.Errorf("uploads no journal of this endpoint and bucket records: got %v (%d aborts), want 2 (none)", got, store.count("AbortMultipartUpload"))
	}
	for _, p := range []string{otherPath, wholePath} {
		if got := journalEntries(t, p); len(got) != 1 {
			t.Errorf("%s after a sweep: got %+v, want it as it was", filepath.Base(p), got)
		}
	}
}

// mountJournaled mounts store with 5 MiB parts and journals in dir,
// aborting uploads older than maxAge.
func mountJournaled(t *testing.T, store *fakeStore, dir string, maxAge time.Duration) (string, *logtest.Hook) {
	t.Helper()
	return testMount(t, store, Options{Write: WriteOptions{PartSize: testPart, Parallel: 2},
		StateDir: dir, AbortStaleUploads: maxAge, Endpoint: testEndpoint}, cache.Options{})
}

// writeOpen writes two parts into a new file of mnt and waits until the
// upload started; the file stays open until the test ends.
func writeOpen(t *testing.T, store *fakeStore, mnt, name string) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(mnt, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(randomBytes(2 * testPart)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); store.count("CreateMultipartUpload") == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no multipart upload started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return f
}

func TestNoJournalWhenOff(t *testing.T) {
	store := newFakeStore(t, "b")
	dir := filepath.Join(t.TempDir(), "state")
	mnt, _ := mountJournaled(t, store, dir, 0)
	f := writeOpen(t, store, mnt, "big")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state directory with --abort-stale-uploads 0: got %v, want none", err)
	}
}

func TestMountRecordsAndSweeps(t *testing.T) {
	store := newFakeStore(t, "b")
	dir := t.TempDir()
	left := startUpload(t, store, "left")
	dead := writeJournal(t, dir, testEndpoint, "b",
		journalEntry{Bucket: "b", Key: "left", Upload: left, Start: time.Now().Add(-2 * time.Second)})
	mnt, hook := mountJournaled(t, store, dir, time.Second)
	for deadline := time.Now().Add(5 * time.Second); store.openUploads() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("upload of a dead run still there 5s after mount: %d open", store.openUploads())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !logged(hook, "aborted a multipart upload left by an earlier run: b/left") {
		t.Errorf("log does not name the aborted upload: %v", hook.AllEntries())
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(dead); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("journal of a dead run still there 5s after its upload was aborted")
		}
	}

	f := writeOpen(t, store, mnt, "big")
	paths := journals(t, dir)
	if len(paths) != 1 || len(journalEntries(t, paths[0])) != 1 {
		t.Fatalf("journals while a file is written: got %v, want one recording its upload", paths)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := journals(t, dir); len(got) != 0 {
		t.Errorf("journals once the file is uploaded: got %v, want none", got)
	}
}
