package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
)

// The big-directory group (-only bigdir, opt-in): one directory of
// -bigdir-files objects (100 000 by default) put by another client with
// s3fs metadata (mode 0640), then ls, ls -l, find and du -s on fresh mounts,
// and ls -l once more with a metadata TTL shorter than the scan (the
// listing must be made again, not replaced by a HEAD per name). The raw
// client lists the directory once, plainly, and for one ls -l row with
// metadata (MinIO's listing extension), what modes cost at the least.

const bigDir = "bigdir"

func bigDirKey(i int) string { return fmt.Sprintf("%s/n%06d", bigDir, i) }

// ensureBigDir puts the objects of the big directory (untimed) unless
// they are there, 32 at a time.
func (b *bench) ensureBigDir() error {
	n := b.opts.bigdirFiles
	if have, err := b.countKeys(bigDir + "/"); err == nil && have == n {
		return nil
	}
	progress("putting %d objects under %s/ (untimed)", n, bigDir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	meta := map[string]string{"mode": "33184", "uid": "0", "gid": "0", "mtime": "1700000000"}
	return inPool(n, 32, func(i int) error {
		body := []byte(bigDirKey(i))
		_, err := b.client.PutObject(ctx, b.bucket, bigDirKey(i), bytes.NewReader(body), int64(len(body)),
			s3client.PutOptions{Metadata: meta})
		return err
	})
}

// groupBigDir: the big-directory rows.
func (b *bench) groupBigDir() []*row {
	n := b.opts.bigdirFiles
	if err := b.ensureBigDir(); err != nil {
		r := &row{name: "big directory"}
		r.mount.record(sample{}, err)
		return []*row{r}
	}
	rawList := func(ctx context.Context) error {
		return b.rawList(ctx, bigDir+"/", "/", func(*s3client.ListPage) {})
	}
	// rawMetaList is the listing that carries every object's mode
	// (MinIO's metadata=true), the least a client showing modes needs.
	rawMetaList := func(ctx context.Context) error {
		in := s3client.ListInput{Prefix: bigDir + "/", Delimiter: "/", Metadata: true}
		return b.rawListIn(ctx, in, func(*s3client.ListPage) {})
	}
	lsl := func(dir string) error { return lsModes(filepath.Join(dir, bigDir), n, "-rw-r-----") }
	type run struct {
		name  string
		flags []string
		work  func(dir string) error
		raw   func(ctx context.Context) error
	}
	runs := []run{
		{fmt.Sprintf("ls of %d files", n), nil, func(dir string) error { return lsCount(filepath.Join(dir, bigDir), n) }, rawList},
		{fmt.Sprintf("ls -l of %d files", n), nil, lsl, rawList},
		{fmt.Sprintf("ls -l of %d files, raw with metadata", n), nil, lsl, rawMetaList},
		{fmt.Sprintf("ls -l of %d files, --cache-ttl 3s", n), []string{"--cache-ttl", "3s"}, lsl, rawList},
		{fmt.Sprintf("find of %d files", n), nil, func(dir string) error { return findCount(filepath.Join(dir, bigDir), n+1) }, rawList},
		{fmt.Sprintf("du -s of %d files", n), nil, func(dir string) error { return sh("du", "-s", filepath.Join(dir, bigDir)) }, rawList},
	}
	var rows []*row
	for _, rn := range runs {
		r := &row{name: rn.name}
		for i := 1; i <= b.opts.repeat; i++ {
			progress("%s run %d/%d", rn.name, i, b.opts.repeat)
			r.mount.record(b.onMount(rn.flags, rn.work))
			r.raw.record(b.onRaw(rn.raw))
		}
		rows = append(rows, r)
	}
	return rows
}

// lsModes runs ls -l on dir and checks it lists n entries, each with
// the permission string mode.
func lsModes(dir string, n int, mode string) error {
	out, err := shOut("ls", "-l", dir)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != n+1 {
		return fmt.Errorf("ls -l %s printed %d lines, want %d", dir, len(lines), n+1)
	}
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, mode+" ") {
			return fmt.Errorf("ls -l %s: %q, want mode %s", dir, l, mode)
		}
	}
	return nil
}

// lsCount runs ls (names only) on dir and checks it printed n names.
func lsCount(dir string, n int) error {
	out, err := shOut("ls", dir)
	if err != nil {
		return err
	}
	if got := strings.Count(out, "\n"); got != n {
		return fmt.Errorf("ls %s printed %d names, want %d", dir, got, n)
	}
	return nil
}

// findCount runs find on dir and checks it printed want paths.
func findCount(dir string, want int) error {
	out, err := shOut("find", dir)
	if err != nil {
		return err
	}
	if got := strings.Count(out, "\n"); got != want {
		return fmt.Errorf("find %s printed %d paths, want %d", dir, got, want)
	}
	return nil
}
