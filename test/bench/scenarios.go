package main

import (
	"bytes"
	"context"
	"fmt"
	mrand "math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
)

// Keys the scenarios share: the large file written through the mount is
// the one every read scenario reads; the first directory of small files
// copied through the mount is the one listed.
const (
	bigKey  = "big"
	treeDir = "tree"
)

func smallDir(who string, run int) string { return fmt.Sprintf("small-%s%d", who, run) }

// s3fsOn reports whether s3fs is measured; otherwise it fills the row's note.
func (b *bench) s3fsOn(r *row) bool {
	if b.s3fsPath == "" {
		r.s3fsNote = "-"
		return false
	}
	return true
}

// groupWrite: one large file written sequentially through the mount
// (dd, fsync before close) vs the raw client's multipart upload of the
// same bytes with the mount's part size and parallelism.
func (b *bench) groupWrite() []*row {
	r := &row{name: fmt.Sprintf("write %d MiB (dd bs=1M conv=fsync)", b.opts.bigMiB), bytes: b.bigSize()}
	for i := 1; i <= b.opts.repeat; i++ {
		progress("write run %d/%d", i, b.opts.repeat)
		b.deleteKeys(bigKey)
		r.mount.record(b.onMount(nil, func(dir string) error {
			return sh("dd", "if="+b.bigSrc, "of="+filepath.Join(dir, bigKey), "bs=1M", "conv=fsync", "status=none")
		}))
		b.deleteKeys("big-raw")
		r.raw.record(b.onRaw(func(ctx context.Context) error { return b.rawUpload(ctx, "big-raw") }))
		if b.s3fsOn(r) {
			b.deleteKeys("big-s3fs")
			r.s3fs.record(b.onS3fs(func(dir string) error {
				return sh("dd", "if="+b.bigSrc, "of="+filepath.Join(dir, "big-s3fs"), "bs=1M", "conv=fsync", "status=none")
			}))
		}
	}
	b.checkBig(r)
	return []*row{r}
}

// checkBig notes when the object the mount wrote has the wrong size.
func (b *bench) checkBig(r *row) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	info, err := b.client.HeadObject(ctx, b.bucket, bigKey)
	switch {
	case err != nil:
		r.note("CHECK FAILED: HEAD %s after the writes: %v", bigKey, err)
	case info.Size != b.bigSize():
		r.note("CHECK FAILED: %s is %d bytes, want %d", bigKey, info.Size, b.bigSize())
	}
}

// ensureBig uploads the large file untimed when the write group did not.
func (b *bench) ensureBig() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if info, err := b.client.HeadObject(ctx, b.bucket, bigKey); err == nil && info.Size == b.bigSize() {
		return nil
	}
	progress("uploading %s (untimed)", bigKey)
	return b.rawUpload(ctx, bigKey)
}

// groupRead: the large file read sequentially through a fresh mount
// (cat) vs one streaming GET.
func (b *bench) groupRead() []*row {
	r := &row{name: fmt.Sprintf("read %d MiB (cat, fresh mount)", b.opts.bigMiB), bytes: b.bigSize()}
	if err := b.ensureBig(); err != nil {
		r.mount.record(sample{}, err)
		return []*row{r}
	}
	// One untimed read by each reader first: it warms MinIO's cache, and
	// on a VM the first 256 MiB of page cache a FUSE read fills can cost
	// seconds that have nothing to do with the filesystem.
	if err := b.rawGet(context.Background(), bigKey, b.bigSize()); err != nil {
		b.warn("warm-up read: %v", err)
	}
	if b.opts.warmup {
		progress("read warm-up (untimed)")
		if _, err := b.onMount(nil, func(dir string) error { return sh("cat", filepath.Join(dir, bigKey)) }); err != nil {
			b.warn("warm-up read through bucketfs: %v", err)
		}
		if b.s3fsPath != "" {
			if _, err := b.onS3fs(func(dir string) error { return sh("cat", filepath.Join(dir, bigKey)) }); err != nil {
				b.warn("warm-up read through s3fs: %v", err)
			}
		}
	}
	for i := 1; i <= b.opts.repeat; i++ {
		progress("read run %d/%d", i, b.opts.repeat)
		r.mount.record(b.onMount(nil, func(dir string) error { return sh("cat", filepath.Join(dir, bigKey)) }))
		r.raw.record(b.onRaw(func(ctx context.Context) error { return b.rawGet(ctx, bigKey, b.bigSize()) }))
		if b.s3fsOn(r) {
			r.s3fs.record(b.onS3fs(func(dir string) error { return sh("cat", filepath.Join(dir, bigKey)) }))
		}
	}
	return []*row{r}
}

// groupSmall: a directory of small files copied in with cp -r vs the raw
// client putting the same files one after the other.
func (b *bench) groupSmall() []*row {
	r := &row{
		name:  fmt.Sprintf("cp -r %d × %d KiB files", b.opts.files, b.opts.fileKiB),
		bytes: int64(b.opts.files) * int64(b.opts.fileKiB) << 10,
	}
	for i := 1; i <= b.opts.repeat; i++ {
		progress("small files run %d/%d", i, b.opts.repeat)
		r.mount.record(b.onMount(nil, func(dir string) error {
			return sh("cp", "-r", b.smallSrc, filepath.Join(dir, smallDir("m", i)))
		}))
		r.raw.record(b.onRaw(func(ctx context.Context) error { return b.rawPutSmall(ctx, smallDir("r", i)) }))
		if b.s3fsOn(r) {
			r.s3fs.record(b.onS3fs(func(dir string) error {
				return sh("cp", "-r", b.smallSrc, filepath.Join(dir, smallDir("s", i)))
			}))
		}
	}
	if n, err := b.countKeys(smallDir("m", 1) + "/"); err != nil || n < b.opts.files {
		r.note("CHECK FAILED: %s/ holds %d keys (%v), want %d files", smallDir("m", 1), n, err, b.opts.files)
	}
	return []*row{r, b.rowRm()}
}

// rowRm: rm -r of a directory of the small files on a fresh mount (put
// there by the raw client, untimed), vs the raw client deleting the same
// keys one after the other.
func (b *bench) rowRm() *row {
	r := &row{name: fmt.Sprintf("rm -r %d files", b.opts.files)}
	rmDir := func(who string, i int) string { return smallDir("rm-"+who, i) }
	put := func(dir string) func(string) error {
		return func(string) error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			return b.rawPutSmall(ctx, dir)
		}
	}
	for i := 1; i <= b.opts.repeat; i++ {
		progress("rm -r run %d/%d", i, b.opts.repeat)
		r.mount.record(b.onMountAfter(nil, put(rmDir("m", i)), func(dir string) error {
			return sh("rm", "-r", filepath.Join(dir, rmDir("m", i)))
		}))
		if n, err := b.countKeys(rmDir("m", i) + "/"); err != nil || n != 0 {
			r.note("CHECK FAILED: %s/ holds %d keys (%v) after rm -r, want 0", rmDir("m", i), n, err)
		}
		if err := put(rmDir("r", i))(""); err != nil {
			r.raw.record(sample{}, err)
		} else {
			r.raw.record(b.onRaw(func(ctx context.Context) error {
				for j := 0; j < b.opts.files; j++ {
					if err := b.client.DeleteObject(ctx, b.bucket, rmDir("r", i)+"/"+smallName(j)); err != nil {
						return err
					}
				}
				return nil
			}))
		}
		if b.s3fsOn(r) {
			r.s3fs.record(b.onS3fsAfter(put(rmDir("s", i)), func(dir string) error {
				return sh("rm", "-r", filepath.Join(dir, rmDir("s", i)))
			}))
		}
	}
	return r
}

// ensureSmall copies the small files through a mount (untimed) when the
// small-files group did not.
func (b *bench) ensureSmall() error {
	dir := smallDir("m", 1)
	if n, err := b.countKeys(dir + "/"); err == nil && n >= b.opts.files {
		return nil
	}
	progress("copying %d files to %s (untimed)", b.opts.files, dir)
	m, err := b.mountBucketfs()
	if err != nil {
		return err
	}
	defer b.release(m)
	return sh("cp", "-r", b.smallSrc, filepath.Join(m.dir, dir))
}

// statHeads are the two settings of --stat-head measured.
var statHeads = []bool{true, false}

// groupLs: ls -l of the directory of small files on a fresh mount, with
// and without a HEAD per file, vs listing it with the raw client.
func (b *bench) groupLs() []*row {
	dir := smallDir("m", 1)
	var rows []*row
	if err := b.ensureSmall(); err != nil {
		r := &row{name: "ls -l"}
		r.mount.record(sample{}, err)
		return []*row{r}
	}
	for _, head := range statHeads {
		r := &row{name: fmt.Sprintf("ls -l %d files (stat-head=%v)", b.opts.files, head)}
		want := b.opts.files + 1 // and the "total" line
		for i := 1; i <= b.opts.repeat; i++ {
			progress("ls -l stat-head=%v run %d/%d", head, i, b.opts.repeat)
			r.mount.record(b.onMount([]string{fmt.Sprintf("--stat-head=%v", head)}, func(mnt string) error {
				return lsLines(filepath.Join(mnt, dir), want)
			}))
			r.raw.record(b.onRaw(func(ctx context.Context) error {
				return b.rawList(ctx, dir+"/", "/", func(*s3client.ListPage) {})
			}))
			if !head {
				r.s3fsNote = "as above"
			} else if b.s3fsOn(r) {
				r.s3fs.record(b.onS3fs(func(mnt string) error { return lsLines(filepath.Join(mnt, dir), want) }))
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// lsLines runs ls -l on dir and checks it printed want lines.
func lsLines(dir string, want int) error {
	out, err := shOut("ls", "-l", dir)
	if err != nil {
		return err
	}
	if n := strings.Count(out, "\n"); n != want {
		return fmt.Errorf("ls -l %s printed %d lines, want %d", dir, n, want)
	}
	return nil
}

// treeKey is the key of object i of the find/du tree.
func (b *bench) treeKey(i int) string {
	return fmt.Sprintf("%s/d%02d/%s", treeDir, i%b.opts.treeDirs, smallName(i))
}

// ensureTree puts the find/du tree (untimed): opts.files objects of
// opts.fileKiB over opts.treeDirs directories, without metadata or
// directory markers, as another S3 tool would have left them.
func (b *bench) ensureTree() error {
	if n, err := b.countKeys(treeDir + "/"); err == nil && n == b.opts.files {
		return nil
	}
	progress("putting %d objects under %s/ (untimed)", b.opts.files, treeDir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	data := make([]byte, b.opts.fileKiB<<10)
	return inPool(b.opts.files, 8, func(i int) error {
		_, err := b.client.PutObject(ctx, b.bucket, b.treeKey(i), bytes.NewReader(data), int64(len(data)), s3client.PutOptions{})
		return err
	})
}

// groupTree: find and du -s over the tree, with and without a HEAD per
// file, vs one recursive listing with the raw client.
func (b *bench) groupTree() []*row {
	if err := b.ensureTree(); err != nil {
		r := &row{name: "find/du"}
		r.mount.record(sample{}, err)
		return []*row{r}
	}
	tools := []struct {
		name string
		run  func(dir string) (string, error)
	}{
		{"find", func(dir string) (string, error) {
			out, err := shOut("find", dir)
			if err == nil {
				if n, want := strings.Count(out, "\n"), b.opts.files+b.opts.treeDirs+1; n != want {
					err = fmt.Errorf("find %s printed %d lines, want %d", dir, n, want)
				}
			}
			return "", err
		}},
		{"du -s", func(dir string) (string, error) {
			out, err := shOut("du", "-s", dir)
			return strings.Fields(out + " ?")[0], err
		}},
	}
	var rows []*row
	for _, tool := range tools {
		for _, head := range statHeads {
			r := &row{name: fmt.Sprintf("%s %d dirs/%d files (stat-head=%v)", tool.name, b.opts.treeDirs, b.opts.files, head)}
			said := map[string]bool{}
			for i := 1; i <= b.opts.repeat; i++ {
				progress("%s stat-head=%v run %d/%d", tool.name, head, i, b.opts.repeat)
				r.mount.record(b.onMount([]string{fmt.Sprintf("--stat-head=%v", head)}, func(mnt string) error {
					out, err := tool.run(filepath.Join(mnt, treeDir))
					said[out] = true
					return err
				}))
				r.raw.record(b.onRaw(func(ctx context.Context) error {
					return b.rawList(ctx, treeDir+"/", "", func(*s3client.ListPage) {})
				}))
				if !head {
					r.s3fsNote = "as above"
				} else if b.s3fsOn(r) {
					r.s3fs.record(b.onS3fs(func(mnt string) error {
						out, err := tool.run(filepath.Join(mnt, treeDir))
						said["s3fs:"+out] = true
						return err
					}))
				}
			}
			if tool.name == "du -s" {
				var outs []string
				for o := range said {
					outs = append(outs, o)
				}
				slices.Sort(outs)
				r.note("du -s printed (KiB): %s", strings.Join(outs, ", "))
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// groupRandom: reads of a few KiB at random offsets of the large file,
// through a fresh mount (os.File.ReadAt) vs ranged GETs of the same bytes.
func (b *bench) groupRandom() []*row {
	size := int64(b.opts.randomKiB) << 10
	r := &row{
		name:  fmt.Sprintf("%d random %d KiB reads (ReadAt)", b.opts.randomReads, b.opts.randomKiB),
		bytes: int64(b.opts.randomReads) * size,
	}
	if err := b.ensureBig(); err != nil {
		r.mount.record(sample{}, err)
		return []*row{r}
	}
	rng := mrand.New(mrand.NewPCG(42, 42))
	offs := make([]int64, b.opts.randomReads)
	for i := range offs {
		offs[i] = rng.Int64N(b.bigSize()/size) * size
	}
	want, err := readOffsets(b.bigSrc, offs, size)
	if err != nil {
		r.mount.record(sample{}, err)
		return []*row{r}
	}
	check := func(who string, got []byte) {
		if !bytes.Equal(got, want) {
			r.note("CHECK FAILED: %s read different bytes than the source file", who)
		}
	}
	for i := 1; i <= b.opts.repeat; i++ {
		progress("random reads run %d/%d", i, b.opts.repeat)
		r.mount.record(b.onMount(nil, func(dir string) error {
			got, err := readOffsets(filepath.Join(dir, bigKey), offs, size)
			check("bucketfs", got)
			return err
		}))
		r.raw.record(b.onRaw(func(ctx context.Context) error {
			got, err := b.rawRanged(ctx, offs, size)
			check("raw", got)
			return err
		}))
		if b.s3fsOn(r) {
			r.s3fs.record(b.onS3fs(func(dir string) error {
				got, err := readOffsets(filepath.Join(dir, bigKey), offs, size)
				check("s3fs", got)
				return err
			}))
		}
	}
	return []*row{r}
}
