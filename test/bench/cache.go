package main

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
)

// The data-cache group (-only cache): the rows issue 13 sets targets
// for, each run on a cache directory of its own that starts empty.

// Keys of the cache group's objects.
const (
	cacheDir    = "cache"
	cacheBigKey = cacheDir + "/big"
	cacheSmall  = "cachesmall"
)

func cacheDistinctKey(i int) string { return fmt.Sprintf("%s/d%02d", cacheDir, i) }
func cacheSmallKey(i int) string    { return cacheSmall + "/" + smallName(i) }

// ensureCacheObjects uploads what the cache rows read (untimed).
func (b *bench) ensureCacheObjects() error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	o := b.opts
	if err := b.ensureGen(ctx, cacheBigKey, mib(o.cacheMiB), true); err != nil {
		return err
	}
	for i := 0; i < o.cacheDistinct; i++ {
		if err := b.ensureGen(ctx, cacheDistinctKey(i), mib(o.cacheDistinctMiB), true); err != nil {
			return err
		}
	}
	if n, err := b.countKeys(cacheSmall + "/"); err == nil && n == o.files {
		return nil
	}
	progress("putting %d files of %d KiB under %s/ (untimed)", o.files, o.fileKiB, cacheSmall)
	return inPool(o.files, 16, func(i int) error {
		g := genFor(cacheSmallKey(i), int64(o.fileKiB)<<10)
		_, err := b.client.PutObject(ctx, b.bucket, cacheSmallKey(i), g, g.size, s3client.PutOptions{})
		return err
	})
}

// newCacheDir is an empty directory for one run's data cache. The
// directories stay until the bench ends (b.tmp goes then): deleting a
// run's block files just before the next cold read would make ext4 walk
// past the inodes it has just freed (it does not reuse an inode freed
// less than a minute ago) at each create, a cost a cache does not pay
// on its first mount.
func (b *bench) newCacheDir() (string, error) {
	b.mu.Lock()
	b.seq++
	n := b.seq
	b.mu.Unlock()
	dir := filepath.Join(b.tmp, fmt.Sprintf("cache-%03d", n))
	return dir, os.Mkdir(dir, 0o700)
}

// groupCache: the data-cache rows, each on fresh mounts.
func (b *bench) groupCache() []*row {
	if err := b.ensureCacheObjects(); err != nil {
		r := &row{name: "data cache"}
		r.mount.record(sample{}, err)
		return []*row{r}
	}
	warm, cold := b.rowsCacheBig()
	rows := []*row{warm, cold}
	if b.opts.cacheSlowMiB > 0 {
		rows = append(rows, b.rowCacheColdSlow())
	}
	return append(rows, b.rowCacheSmall(), b.rowCacheDistinct())
}

// rowsCacheBig: cat of one large object on a fresh mount with an empty
// cache (cold, cache on), then again after a remount (warm), and on a
// mount without the cache (cold, cache off), interleaved.
func (b *bench) rowsCacheBig() (warm, cold *row) {
	size := mib(b.opts.cacheMiB)
	warm = &row{name: fmt.Sprintf("re-read %d MiB after a remount, warm cache", b.opts.cacheMiB), bytes: size,
		target: "0 GET, ≥ 1.5× the cold read's MiB/s", measured: cacheWarmMeasured, s3fsNote: "not run"}
	warmCold := warm.addRef("cold read, cache on")
	cold = &row{name: fmt.Sprintf("read %d MiB cold, cache on", b.opts.cacheMiB), bytes: size,
		target: "≥ 0.9× the MiB/s of the cold read with the cache off", measured: cacheColdMeasured, s3fsNote: "not run"}
	off := cold.addRef("cold read, cache off")
	cat := func(dir string) error { return catNull(filepath.Join(dir, cacheBigKey), size) }
	if err := b.rawGet(context.Background(), cacheBigKey, size); err != nil {
		b.warn("warm-up read of %s: %v", cacheBigKey, err)
	}
	for i := 1; i <= b.opts.repeat; i++ {
		progress("cache: read %d MiB cold, warm, without cache, run %d/%d", b.opts.cacheMiB, i, b.opts.repeat)
		dir, err := b.newCacheDir()
		if err != nil {
			warm.mount.record(sample{}, err)
			continue
		}
		flags := []string{"--cache-dir", dir, "--cache-max-size", fmt.Sprint(2 * size)}
		smp, err := b.onMount(flags, cat)
		cold.mount.record(smp, err)
		warmCold.record(smp, err)
		warm.mount.record(b.onMount(flags, cat))
		off.record(b.onMount(nil, cat))
		raw, err := b.onRaw(func(ctx context.Context) error { return b.rawGet(ctx, cacheBigKey, size) })
		warm.raw.record(raw, err)
		cold.raw.record(raw, err)
	}
	return warm, cold
}

// rowCacheColdSlow: the cold reads with and without the cache through a
// proxy that passes the server's answers at opts.cacheSlowMiB MiB/s,
// interleaved: what the cache costs a cold read when S3 is as far away
// as a remote one, not on the same machine.
func (b *bench) rowCacheColdSlow() *row {
	size := mib(b.opts.cacheMiB)
	cold := &row{name: fmt.Sprintf("read %d MiB cold, cache on, S3 at %d MiB/s", b.opts.cacheMiB, b.opts.cacheSlowMiB), bytes: size,
		target: "≥ 0.9× the MiB/s of the cold read with the cache off", measured: cacheColdMeasured, s3fsNote: "not run"}
	off := cold.addRef("cold read, cache off")
	u, err := url.Parse(b.srv.Endpoint)
	var t *throttle
	if err == nil {
		t, err = startThrottle(u.Host, float64(b.opts.cacheSlowMiB)*(1<<20))
	}
	if err != nil {
		cold.mount.record(sample{}, err)
		return cold
	}
	defer t.close()
	endpoint := []string{"--endpoint", u.Scheme + "://" + t.addr()}
	cat := func(dir string) error { return catNull(filepath.Join(dir, cacheBigKey), size) }
	for i := 1; i <= b.opts.repeat; i++ {
		progress("cache: read %d MiB cold at %d MiB/s, with and without the cache, run %d/%d", b.opts.cacheMiB, b.opts.cacheSlowMiB, i, b.opts.repeat)
		dir, err := b.newCacheDir()
		if err != nil {
			cold.mount.record(sample{}, err)
			continue
		}
		cold.mount.record(b.onMount(append(endpoint, "--cache-dir", dir, "--cache-max-size", fmt.Sprint(2*size)), cat))
		off.record(b.onMount(endpoint, cat))
	}
	return cold
}

// rowCacheSmall: ls and cat of opts.files small files on a fresh mount
// with an empty cache (untimed), then again after a remount: timed and
// counted.
func (b *bench) rowCacheSmall() *row {
	n, size := b.opts.files, int64(b.opts.fileKiB)<<10
	r := &row{name: fmt.Sprintf("cat %d × %d KiB files again after a remount, warm cache", n, b.opts.fileKiB), bytes: int64(n) * size,
		target: "LIST/HEAD only, no GET", measured: func(r *row) string { return r.mount.counts() }, s3fsNote: "not run"}
	first := r.addRef("first pass, empty cache")
	var want []byte
	paths := func(dir string) []string {
		ps := make([]string, n)
		for i := range ps {
			ps[i] = filepath.Join(dir, cacheSmallKey(i))
		}
		return ps
	}
	for i := 0; i < n; i++ {
		want = append(want, genFor(cacheSmallKey(i), size).bytes()...)
	}
	work := func(dir string) error {
		if err := sh("ls", filepath.Join(dir, cacheSmall)); err != nil {
			return err
		}
		out, err := shOut("cat", paths(dir)...)
		if err == nil && out != string(want) {
			err = fmt.Errorf("cat of %s/* returned %d bytes, not the %d bytes stored", cacheSmall, len(out), len(want))
		}
		return err
	}
	for i := 1; i <= b.opts.repeat; i++ {
		progress("cache: cat %d small files twice with a remount, run %d/%d", n, i, b.opts.repeat)
		dir, err := b.newCacheDir()
		if err != nil {
			r.mount.record(sample{}, err)
			continue
		}
		flags := []string{"--cache-dir", dir}
		first.record(b.onMount(flags, work))
		r.mount.record(b.onMount(flags, work))
	}
	return r
}

// rowCacheDistinct: opts.cacheDistinct objects read by opts.cacheReaders cats at once
// (each reading its share one after the other) through a cache of
// opts.cacheLimitMiB, the cache directory's size sampled every 100 ms.
func (b *bench) rowCacheDistinct() *row {
	o := b.opts
	total := int64(o.cacheDistinct) * mib(o.cacheDistinctMiB)
	var most atomic.Int64
	r := &row{name: fmt.Sprintf("read %d × %d MiB distinct objects through a %d MiB cache, %d cats", o.cacheDistinct, o.cacheDistinctMiB, o.cacheLimitMiB, o.cacheReaders),
		bytes: total, s3fsNote: "not run",
		target: fmt.Sprintf("cache dir ≤ %d MiB sampled every 100 ms, daemon RSS ≤ 192 MiB", o.cacheLimitMiB),
		measured: func(r *row) string {
			s := fmt.Sprintf("cache dir at most %.1f MiB, peak RSS %s MiB", float64(most.Load())/(1<<20), r.mount.peakMiB())
			for _, o := range r.refs {
				s += fmt.Sprintf("; %s: peak RSS %s MiB, the cached read at %s", o.name, o.peakMiB(), speedup(o.side, r.mount, "its MiB/s"))
			}
			return s
		}}
	off := r.addRef("cache off")
	readers := o.cacheReaders
	work := func(dir string) error {
		return inParallel(readers, func(g int) error {
			for i := g; i < o.cacheDistinct; i += readers {
				if err := catNull(filepath.Join(dir, cacheDistinctKey(i)), mib(o.cacheDistinctMiB)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	for i := 1; i <= o.repeat; i++ {
		progress("cache: read %d MiB of distinct objects through a %d MiB cache, run %d/%d", total>>20, o.cacheLimitMiB, i, o.repeat)
		dir, err := b.newCacheDir()
		if err != nil {
			r.mount.record(sample{}, err)
			continue
		}
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				if u := dirUsage(dir); u > most.Load() {
					most.Store(u)
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
		r.mount.record(b.onMount([]string{"--cache-dir", dir, "--cache-max-size", fmt.Sprint(mib(o.cacheLimitMiB))}, work))
		close(stop)
		<-done
		off.record(b.onMount(nil, work))
	}
	return r
}

// dirUsage is what du says of dir: the bytes allocated to everything in it.
func dirUsage(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // removed meanwhile
		}
		if info, err := d.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				total += st.Blocks * 512
			}
		}
		return nil
	})
	return total
}

// cacheWarmMeasured: the warm read's GETs and its speed over the cold read's.
func cacheWarmMeasured(r *row) string {
	s := r.mount.counts() + " on the warm read"
	for _, o := range r.refs {
		s += "; " + speedup(o.side, r.mount, o.name)
	}
	return s
}

// cacheColdMeasured: the cold read with the cache over the one without.
func cacheColdMeasured(r *row) string {
	var parts []string
	for _, o := range r.refs {
		parts = append(parts, speedup(o.side, r.mount, o.name))
	}
	return strings.Join(parts, ", ")
}
