package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// The parallel-write group (-only parwrite, opt-in): many cp at once into
// one mount, the row issue 11 sets its memory target for: peak RSS of
// the mount within its memory budget (--max-memory, 512 MiB by default)
// plus 64 MiB, every object whole.

// groupParWrite: opts.pwFiles cp of one opts.pwMiB file at once through
// a fresh mount vs as many raw multipart uploads at once.
func (b *bench) groupParWrite() []*row {
	n, size := b.opts.pwFiles, mib(b.opts.pwMiB)
	r := &row{name: fmt.Sprintf("write %d × %d MiB at once (%d cp, fresh mount)", n, b.opts.pwMiB, n),
		bytes: int64(n) * size, target: "peak RSS ≤ --max-memory (512 MiB) + 64 MiB, every object whole",
		measured: rssMeasured}
	src := filepath.Join(b.tmp, "parwrite-src")
	g := genFor("parwrite", size)
	if err := os.WriteFile(src, g.bytes(), 0o644); err != nil {
		r.mount.record(sample{}, err)
		return []*row{r}
	}
	key := func(i int) string { return fmt.Sprintf("parwrite/f%02d", i) }
	cps := func(dir string) error {
		if err := os.MkdirAll(filepath.Join(dir, "parwrite"), 0o755); err != nil {
			return err
		}
		return inParallel(n, func(i int) error { return sh("cp", src, filepath.Join(dir, key(i))) })
	}
	// check: every object has the size, and the ETag of the others
	// (the same bytes cut into the same parts).
	check := func() {
		var first string
		for i := range n {
			info, err := b.client.HeadObject(context.Background(), b.bucket, key(i))
			switch {
			case err != nil:
				r.note("CHECK FAILED: %s: %v", key(i), err)
			case info.Size != size:
				r.note("CHECK FAILED: %s has %d bytes, want %d", key(i), info.Size, size)
			case first == "":
				first = info.ETag
			case info.ETag != first:
				r.note("CHECK FAILED: %s has ETag %s, the others %s", key(i), info.ETag, first)
			}
		}
	}
	for run := 1; run <= b.opts.repeat; run++ {
		progress("write %d × %d MiB run %d/%d", n, b.opts.pwMiB, run, b.opts.repeat)
		r.mount.record(b.onMount(nil, cps))
		check()
		r.raw.record(b.onRaw(func(ctx context.Context) error {
			return inParallel(n, func(i int) error { return b.rawMultipart(ctx, key(i), g, size) })
		}))
	}
	return []*row{r}
}
