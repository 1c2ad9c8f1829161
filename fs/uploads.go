package fs

// Uploads left behind. A multipart upload that bucketfs starts and never
// completes or aborts (the process was killed, crashed, or the machine
// lost power in the middle of a cp) stays on the server for ever, its
// parts stored and, on AWS, billed. When Options.AbortStaleUploads and
// Options.StateDir are set, New wraps the store in journaled, which
// records every upload this run starts in a journal file of its own in
// the state directory (journal.go) and marks it done when it completes
// or is aborted. A sweep, at mount and then every sweepInterval, aborts
// the uploads older than AbortStaleUploads that are recorded in the
// journals of runs that are gone (for the same endpoint, and the same
// bucket unless this mount is of the whole endpoint), and those of this
// run's own journal that no file of this run is still writing.
//
// What it promises: an upload no journal records is never aborted, so
// another client's uploads (or another live bucketfs's) are safe; an
// upload is aborted only once it is older than AbortStaleUploads. What
// it costs: one small append and fsync when an upload starts and when it
// ends, and a directory listing per sweep. An upload started in the
// moment between the server's answer and the journal's fsync is not
// recorded, and is left behind as before.

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/bucketfs/bucketfs/s3client"
)

// DefaultAbortStaleUploads is the age past which an upload left by an
// earlier run is aborted, unless the mount says otherwise.
const DefaultAbortStaleUploads = 24 * time.Hour

// sweepInterval is how often a mount sweeps after the sweep at mount.
const sweepInterval = 24 * time.Hour

// DefaultStateDir is where upload journals live unless the mount says
// otherwise: /var/lib/bucketfs for root, else $XDG_STATE_HOME/bucketfs,
// else ~/.local/state/bucketfs.
func DefaultStateDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/bucketfs"
	}
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "bucketfs")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "bucketfs")
	}
	return filepath.Join(os.TempDir(), "bucketfs-state")
}

// endpointHost is the host (and port) of an endpoint URL, which names
// the server in journals; the URL itself if it has none.
func endpointHost(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		return strings.ToLower(u.Host)
	}
	return endpoint
}

// journaled is the Store wrapper that records multipart uploads in an
// uploadJournal.
type journaled struct {
	Store
	j *uploadJournal
}

func (s journaled) CreateMultipartUpload(ctx context.Context, bucket, key string, opts s3client.PutOptions) (string, error) {
	id, err := s.Store.CreateMultipartUpload(ctx, bucket, key, opts)
	if err == nil {
		s.j.started(bucket, key, id)
	}
	return id, err
}

func (s journaled) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []s3client.CompletedPart) (string, error) {
	etag, err := s.Store.CompleteMultipartUpload(ctx, bucket, key, uploadID, parts)
	if err == nil {
		s.j.finished(uploadID)
	}
	return etag, err
}

func (s journaled) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	err := s.Store.AbortMultipartUpload(ctx, bucket, key, uploadID)
	if err == nil || errors.Is(err, s3client.ErrNotFound) {
		s.j.finished(uploadID)
	} else {
		// No file writes it any more: the next sweep retries the abort.
		s.j.abandoned(uploadID)
	}
	return err
}

// uploadJournal is this run's record of its multipart uploads, and the
// sweep of those that runs before it left.
type uploadJournal struct {
	dir      string // the state directory
	endpoint string // endpointHost of the mount's endpoint
	bucket   string // the mounted bucket, "" for the whole endpoint
	maxAge   time.Duration
	store    Store // the store below journaled: the sweep's aborts are not recorded
	log      *logrus.Entry
	now      func() time.Time

	// mu protects the fields below. It is held across appends to the
	// journal file (a local write and fsync), never across a store call.
	mu         sync.Mutex
	file       *journalFile            // this run's journal; nil while it records nothing
	open       map[string]journalEntry // uploads recorded and not done, by id
	inProgress map[string]bool         // ids of uploads a file of this run is writing
	warned     bool                    // a journal error was logged
}

func newUploadJournal(store Store, opts Options, log *logrus.Entry) *uploadJournal {
	return &uploadJournal{
		dir: opts.StateDir, endpoint: endpointHost(opts.Endpoint), bucket: opts.Bucket,
		maxAge: opts.AbortStaleUploads, store: store, log: log, now: time.Now,
		open: map[string]journalEntry{}, inProgress: map[string]bool{},
	}
}

// warn logs a journal error, once per run.
func (u *uploadJournal) warn(err error) {
	if !u.warned {
		u.warned = true
		u.log.Warnf("multipart uploads are not recorded, and will not be aborted if bucketfs dies: %v", err)
	}
}

// started records a new upload as in progress. A journal that cannot be
// written does not fail the upload.
func (u *uploadJournal) started(bucket, key, id string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.inProgress[id] = true
	if u.file == nil {
		f, err := createJournal(u.dir, u.endpoint, u.bucket)
		if err != nil {
			u.warn(err)
			return
		}
		u.file = f
	}
	e := journalEntry{Bucket: bucket, Key: key, Upload: id, Start: u.now()}
	if err := u.file.start(e); err != nil {
		u.warn(err)
		return
	}
	u.open[id] = e
}

// abandoned marks an upload as no longer written by this run, though it
// stays recorded until it is aborted.
func (u *uploadJournal) abandoned(id string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.inProgress, id)
}

// finished records an upload as gone (completed or aborted). The journal
// file is removed once it records nothing.
func (u *uploadJournal) finished(id string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.inProgress, id)
	if _, ok := u.open[id]; !ok {
		return
	}
	delete(u.open, id)
	if err := u.file.done(id); err != nil {
		u.warn(err)
	}
	if len(u.open) == 0 {
		if err := u.file.remove(); err != nil {
			u.warn(err)
		}
		u.file = nil
	}
}

// sweepLoop sweeps now and then every sweepInterval, for the life of the
// process.
func (u *uploadJournal) sweepLoop() {
	for {
		u.sweep(context.Background())
		time.Sleep(sweepInterval)
	}
}

// sweep aborts the stale uploads of this run's journal that no file is
// writing, then those of the journals of runs that are gone.
func (u *uploadJournal) sweep(ctx context.Context) {
	u.mu.Lock()
	var own string
	if u.file != nil {
		own = u.file.path
	}
	var stale []journalEntry
	for id, e := range u.open {
		if !u.inProgress[id] && u.isStale(e) {
			stale = append(stale, e)
		}
	}
	u.mu.Unlock()
	for _, e := range stale {
		if u.abort(ctx, e, "this run") {
			u.finished(e.Upload)
		}
	}

	paths, err := filepath.Glob(filepath.Join(u.dir, journalPattern))
	if err != nil {
		u.log.Warnf("sweep of multipart uploads left behind: %v", err)
		return
	}
	for _, p := range paths {
		if p != own {
			u.sweepDead(ctx, p)
		}
	}
}

// sweepDead aborts the stale uploads of the journal at path if the run
// that wrote it is gone, and removes the journal once it records nothing.
func (u *uploadJournal) sweepDead(ctx context.Context, path string) {
	j, err := lockDeadJournal(path)
	switch {
	case errors.Is(err, errJournalBusy) || errors.Is(err, fs.ErrNotExist):
		return
	case err != nil:
		u.log.Warnf("sweep of multipart uploads left behind: %v", err)
		return
	}
	header, entries, err := j.read()
	if err != nil || header.Endpoint != u.endpoint {
		if err != nil {
			u.log.Warnf("sweep of multipart uploads left behind: %v", err)
		}
		j.close()
		return
	}
	left := 0
	for _, e := range entries {
		if u.bucket != "" && e.Bucket != u.bucket || !u.isStale(e) || !u.abort(ctx, e, "an earlier run") {
			left++
			continue
		}
		if err := j.done(e.Upload); err != nil {
			u.log.Warnf("sweep of multipart uploads left behind: %v", err)
			left++
		}
	}
	if left > 0 {
		j.close()
		return
	}
	if err := j.remove(); err != nil {
		u.log.Warnf("sweep of multipart uploads left behind: %v", err)
	}
}

// isStale reports whether e started more than maxAge ago.
func (u *uploadJournal) isStale(e journalEntry) bool {
	return u.now().Sub(e.Start) > u.maxAge
}

// abort aborts upload e, left by whom, and reports whether it is gone
// (aborted now, or already).
func (u *uploadJournal) abort(ctx context.Context, e journalEntry, whom string) bool {
	err := u.store.AbortMultipartUpload(ctx, e.Bucket, e.Key, e.Upload)
	switch {
	case err == nil:
		u.log.Infof("aborted a multipart upload left by %s: %s/%s (upload id %s, started %s)",
			whom, e.Bucket, e.Key, e.Upload, e.Start.Format(time.RFC3339))
		return true
	case errors.Is(err, s3client.ErrNotFound):
		u.log.Debugf("multipart upload left by %s already gone: %s/%s (upload id %s): %v", whom, e.Bucket, e.Key, e.Upload, err)
		return true
	default:
		u.log.Warnf("could not abort a multipart upload left by %s: %s/%s (upload id %s, started %s): %v; the next sweep tries again",
			whom, e.Bucket, e.Key, e.Upload, e.Start.Format(time.RFC3339), err)
		return false
	}
}
