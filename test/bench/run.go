package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// sample is one timed run of one way of doing a scenario.
type sample struct {
	d time.Duration
	// counts are the S3 requests of the run: bucketfs's from its
	// --debug-s3 log, the raw client's from its own log entries, s3fs's
	// from MinIO's counters.
	counts   opCounts
	server   opCounts // MinIO's counters over the same window; nil if unknown
	rssKiB   int64    // peak RSS of the mount process (bucketfs, s3fs)
	getBytes int64    // bucketfs: Content-Length of its GET answers summed
}

// side collects the runs of one way of doing a scenario.
type side struct {
	runs []sample
	errs []string
}

func (s *side) record(smp sample, err error) {
	if err != nil {
		s.errs = append(s.errs, err.Error())
		progress("  error: %v", firstLine(err.Error()))
		return
	}
	s.runs = append(s.runs, smp)
}

// row is one scenario: the mount, the raw client and s3fs side by side.
type row struct {
	name  string
	bytes int64 // payload per run, for MiB/s; 0 when a rate means nothing
	mount side
	raw   side
	s3fs  side
	// s3fsNote replaces the s3fs column when s3fs was not run for this row.
	s3fsNote string
	notes    []string
	// refs are further ways of doing it: another client, other mount flags.
	refs []*ref
	// target is what issue 10 asks of the row, measured what the run
	// measured against it; "" and nil for the rows without one.
	target   string
	measured func(*row) string
}

// ref is one more way of doing a row's work, printed under "other readers".
type ref struct {
	name string
	side
}

// addRef adds a way of doing r's work named name.
func (r *row) addRef(name string) *ref {
	o := &ref{name: name}
	r.refs = append(r.refs, o)
	return o
}

func (r *row) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// onMount times work on a fresh bucketfs mount given extra options. The
// mount is ready before the clock starts; requests are counted in its log
// from the offset noted just before work, read once it has exited.
func (b *bench) onMount(extra []string, work func(dir string) error) (sample, error) {
	return b.onMountAfter(extra, nil, work)
}

// onMountAfter is onMount with prep (if not nil) done on the mount first,
// untimed and not counted: the state work starts from.
func (b *bench) onMountAfter(extra []string, prep, work func(dir string) error) (sample, error) {
	m, err := b.mountBucketfs(extra...)
	if err != nil {
		return sample{}, err
	}
	defer b.release(m)
	if prep != nil {
		if err := prep(m.dir); err != nil {
			return sample{}, fmt.Errorf("bucketfs (before the clock): %w", err)
		}
	}
	mark := m.logSize()
	settle()
	before := b.serverSnapshot()
	start := time.Now()
	err = work(m.dir)
	d := time.Since(start)
	rss := m.peakRSSKiB()
	if uerr := b.release(m); uerr != nil && err == nil {
		err = uerr
	}
	server := b.serverSince(before)
	if err != nil {
		return sample{}, fmt.Errorf("bucketfs: %w\nbucketfs log (%s):\n%s", err, m.logPath, m.tail())
	}
	counts, getBytes, err := logCounts(m.logPath, mark)
	if err != nil {
		return sample{}, fmt.Errorf("bucketfs log: %w", err)
	}
	return sample{d: d, counts: counts, server: server, rssKiB: rss, getBytes: getBytes}, nil
}

// onRaw times work done with the raw client.
func (b *bench) onRaw(work func(ctx context.Context) error) (sample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	settle()
	mine := b.counter.snapshot()
	before := b.serverSnapshot()
	start := time.Now()
	err := work(ctx)
	d := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("raw: %w", err)
	}
	counts := b.counter.snapshot().minus(mine)
	// MinIO counts a request when its handler returns, which may be a
	// moment after the client has read the whole answer.
	server := b.serverSince(before)
	for try := 0; try < 20 && server != nil && server.total() < counts.total(); try++ {
		time.Sleep(10 * time.Millisecond)
		server = b.serverSince(before)
	}
	return sample{d: d, counts: counts, server: server}, nil
}

// onS3fs times work on a fresh s3fs mount; its requests are what MinIO
// counted meanwhile.
func (b *bench) onS3fs(work func(dir string) error) (sample, error) {
	return b.onS3fsAfter(nil, work)
}

// onS3fsAfter is onS3fs with prep (if not nil) done on the mount first,
// untimed and not counted.
func (b *bench) onS3fsAfter(prep, work func(dir string) error) (sample, error) {
	m, err := b.mountS3fs()
	if err != nil {
		return sample{}, err
	}
	defer b.release(m)
	if prep != nil {
		if err := prep(m.dir); err != nil {
			return sample{}, fmt.Errorf("s3fs (before the clock): %w", err)
		}
	}
	settle()
	before := b.serverSnapshot()
	start := time.Now()
	err = work(m.dir)
	d := time.Since(start)
	rss := m.peakRSSKiB()
	if uerr := b.release(m); uerr != nil && err == nil {
		err = uerr
	}
	server := b.serverSince(before)
	if err != nil {
		return sample{}, fmt.Errorf("s3fs: %w\ns3fs log (%s):\n%s", err, m.logPath, m.tail())
	}
	return sample{d: d, counts: server, server: server, rssKiB: rss}, nil
}

// onCommand times work, a client other than bucketfs and the raw client
// (rclone) that returns its peak RSS; its requests are what MinIO counted
// meanwhile.
func (b *bench) onCommand(who string, work func() (rssKiB int64, err error)) (sample, error) {
	settle()
	before := b.serverSnapshot()
	start := time.Now()
	rss, err := work()
	d := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w", who, err)
	}
	server := b.serverSince(before)
	return sample{d: d, counts: server, server: server, rssKiB: rss}, nil
}

// settle writes dirty pages out (untimed) so that the writeback of what
// MinIO stored in the previous run does not slow down the next one.
func settle() { syscall.Sync() }

// serverSnapshot reads MinIO's counters, or nil if they do not answer.
func (b *bench) serverSnapshot() opCounts {
	if !b.metricsOK {
		return nil
	}
	c, err := b.serverCounts()
	if err != nil {
		b.warn("MinIO's request counters: %v", err)
		return nil
	}
	return c
}

// serverSince is what MinIO counted since before.
func (b *bench) serverSince(before opCounts) opCounts {
	if before == nil {
		return nil
	}
	after := b.serverSnapshot()
	if after == nil {
		return nil
	}
	return after.minus(before)
}

// sh runs a command, its output discarded unless it fails.
func sh(name string, args ...string) error {
	_, err := shOut(name, args...)
	return err
}

// shOut runs a command and returns its standard output.
func shOut(name string, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, firstLine(errOut.String()))
	}
	return out.String(), nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}
