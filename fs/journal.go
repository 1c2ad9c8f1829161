package fs

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A journal file records the multipart uploads one run of bucketfs
// started and has not finished. It is a file of JSON lines in the state
// directory, named uploads-<endpoint host>-<bucket>-<pid>-<random>.jsonl
// (the name is for people; the header line says what the file is for):
//
//	{"endpoint":"s3.example.com:9000","bucket":"photos","pid":1234}
//	{"op":"start","bucket":"photos","key":"a/b","upload":"ID","time":"2024-05-06T07:08:09Z"}
//	{"op":"done","upload":"ID"}
//
// Lines are only appended, each with its own write and fsync. The run
// that writes a journal holds an exclusive flock on it for as long as it
// lives; a journal whose lock another process can take belongs to a run
// that is gone, and its uploads to no one.

// journalLine is one line of a journal file: the header (Endpoint set) or
// an entry (Op set).
type journalLine struct {
	Endpoint string    `json:"endpoint,omitempty"`
	PID      int       `json:"pid,omitempty"`
	Op       string    `json:"op,omitempty"` // "start" or "done"
	Bucket   string    `json:"bucket"`       // the header's: "" for a whole-endpoint mount
	Key      string    `json:"key,omitempty"`
	Upload   string    `json:"upload,omitempty"`
	Time     time.Time `json:"time,omitzero"`
}

// journalEntry is an upload recorded as started and not yet done.
type journalEntry struct {
	Bucket, Key, Upload string
	Start               time.Time
}

// journalFile is one open journal file.
type journalFile struct {
	f    *os.File
	path string
}

// journalPattern matches every journal file in a state directory.
const journalPattern = "uploads-*.jsonl"

// createJournal creates a new journal file for this run in dir, locked,
// with its header written.
func createJournal(dir, endpoint, bucket string) (*journalFile, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	b := bucket
	if b == "" {
		b = "all-buckets"
	}
	name := fmt.Sprintf("uploads-%s-%s-%d-%s.jsonl", fileSafe(endpoint), fileSafe(b), os.Getpid(), hex.EncodeToString(suffix))
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	j := &journalFile{f: f, path: path}
	if err := j.append(journalLine{Endpoint: endpoint, Bucket: bucket, PID: os.Getpid()}); err != nil {
		j.remove()
		return nil, err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // the new name survives a power loss
		d.Close()
	}
	return j, nil
}

// fileSafe is s with every byte but letters, digits, '.' and '_' turned
// into '_', for a file name.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

// errJournalBusy is lockDeadJournal's answer for a journal of a live run
// (or one another sweep holds).
var errJournalBusy = errors.New("journal in use")

// lockDeadJournal opens the journal at path and takes its lock, which
// only works if the run that wrote it is gone. It fails with
// errJournalBusy if the lock is held, and with an error matching
// fs.ErrNotExist if the file was removed meanwhile (by another sweep).
func lockDeadJournal(path string) (*journalFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errJournalBusy
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// Another sweep may have removed the file between our open and our
	// lock: then the name is gone, or names another file.
	held, err1 := f.Stat()
	now, err2 := os.Stat(path)
	if err1 != nil || err2 != nil || !os.SameFile(held, now) {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, os.ErrNotExist)
	}
	return &journalFile{f: f, path: path}, nil
}

// read returns the journal's header and the uploads it records as
// started and not done, in the order they started. A last line cut short
// by a crash is skipped.
func (j *journalFile) read() (journalLine, []journalEntry, error) {
	if _, err := j.f.Seek(0, 0); err != nil {
		return journalLine{}, nil, err
	}
	var header journalLine
	var order []string
	open := map[string]journalEntry{}
	sc := bufio.NewScanner(j.f)
	sc.Buffer(nil, 1<<20)
	first := true
	for sc.Scan() {
		var l journalLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch {
		case first:
			header, first = l, false
		case l.Op == "start":
			if _, ok := open[l.Upload]; !ok {
				order = append(order, l.Upload)
			}
			open[l.Upload] = journalEntry{Bucket: l.Bucket, Key: l.Key, Upload: l.Upload, Start: l.Time}
		case l.Op == "done":
			delete(open, l.Upload)
		}
	}
	if err := sc.Err(); err != nil {
		return header, nil, fmt.Errorf("read %s: %w", j.path, err)
	}
	if first {
		return header, nil, fmt.Errorf("%s: no header", j.path)
	}
	var entries []journalEntry
	for _, id := range order {
		if e, ok := open[id]; ok {
			entries = append(entries, e)
		}
	}
	return header, entries, nil
}

// append writes one line and syncs it to disk.
func (j *journalFile) append(l journalLine) error {
	data, err := json.Marshal(l)
	if err != nil {
		return err
	}
	if _, err := j.f.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", j.path, err)
	}
	return nil
}

// start records an upload as started.
func (j *journalFile) start(e journalEntry) error {
	return j.append(journalLine{Op: "start", Bucket: e.Bucket, Key: e.Key, Upload: e.Upload, Time: e.Start.UTC()})
}

// done records an upload as finished: completed or aborted.
func (j *journalFile) done(uploadID string) error {
	return j.append(journalLine{Op: "done", Upload: uploadID})
}

// remove deletes the journal file, then closes it (which lets go of the
// lock): a sweep that opened it meanwhile finds the name gone.
func (j *journalFile) remove() error {
	err := os.Remove(j.path)
	if errors.Is(err, syscall.ENOENT) {
		err = nil
	}
	j.f.Close()
	return err
}

// close closes the journal file and lets go of its lock.
func (j *journalFile) close() { j.f.Close() }
