package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
	"github.com/bucketfs/bucketfs/test/faultproxy"
	"github.com/bucketfs/bucketfs/test/harness"
)

// The data cache (--cache-dir): blocks of the objects read, on disk, kept
// across remounts and crashes, checked, bounded.

// cacheBucket is a new bucket whose objects are deleted when the test
// ends (these tests store a few hundred MiB; Ceph's memstore is small).
func cacheBucket(t *testing.T) string {
	t.Helper()
	bucket := newBucket(t)
	t.Cleanup(func() {
		var in s3client.ListInput
		for {
			page, err := client.ListObjects(ctx(t), bucket, in)
			if err != nil {
				t.Logf("emptying %s: %v", bucket, err)
				return
			}
			for _, o := range page.Objects {
				if err := client.DeleteObject(ctx(t), bucket, o.Key); err != nil {
					t.Logf("emptying %s: %v", bucket, err)
				}
			}
			if !page.IsTruncated {
				return
			}
			in.ContinuationToken = page.NextContinuationToken
		}
	})
	return bucket
}

// readExact reads path through the mount and fails unless it is want.
func readExact(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", filepath.Base(path), err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %s: %d bytes that are not the object's %d", filepath.Base(path), len(got), len(want))
	}
}

// cacheBlocks lists the block files of a cache directory.
func cacheBlocks(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "blocks"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") { // not a temp file
			out = append(out, filepath.Join(dir, "blocks", e.Name()))
		}
	}
	return out
}

// getBytes is the sum of the bytes GETs brought in, from a --log-level
// debug log.
func getBytes(log string) int64 {
	var total int64
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "op=GetObject") {
			continue
		}
		var n int64
		if i := strings.Index(line, "bytes_in="); i >= 0 {
			fmt.Sscanf(line[i+len("bytes_in="):], "%d", &n)
		}
		total += n
	}
	return total
}

// counted mounts one bucket, as often as a test likes, through one proxy
// that counts requests: the cache keys blocks by endpoint, so every mount
// of a test must name the same one.
type counted struct {
	t      *testing.T
	p      *faultproxy.Proxy
	bucket string
	marks  map[faultproxy.Op]int64 // counts when the last mount started
}

func newCounted(t *testing.T, bucket string) *counted {
	t.Helper()
	p, err := faultproxy.New(server.Endpoint, faultproxy.Options{Seed: 1, TLS: serverTLS(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() }) // after the mounts' cleanups
	return &counted{t: t, p: p, bucket: bucket}
}

// mount mounts the bucket through the proxy; since counts from here.
func (c *counted) mount(args ...string) *harness.Mount {
	c.t.Helper()
	c.marks = map[faultproxy.Op]int64{}
	for _, op := range []faultproxy.Op{faultproxy.GetObject, faultproxy.HeadObject, faultproxy.ListObjects} {
		c.marks[op] = c.p.Requests(op)
	}
	return mountBucket(c.t, c.bucket, append([]string{"--endpoint", c.p.URL()}, args...)...)
}

// since is the number of op requests since the last mount started.
func (c *counted) since(op faultproxy.Op) int64 { return c.p.Requests(op) - c.marks[op] }

// TestCacheWarmRereadAfterRemount: after a remount, a large file and many
// small ones are read again from the cache: no GET at all.
func TestCacheWarmRereadAfterRemount(t *testing.T) {
	bucket := cacheBucket(t)
	big := putRandom(t, bucket, "big", 40<<20+12345)
	small := map[string][]byte{}
	for i := range 50 {
		k := fmt.Sprintf("small/f%02d", i)
		small[k] = putRandom(t, bucket, k, 1000+i*97)
	}
	dir := t.TempDir()
	c := newCounted(t, bucket)
	m1 := c.mount("--cache-dir", dir)
	readExact(t, filepath.Join(m1.Dir, "big"), big)
	for k, want := range small {
		readExact(t, filepath.Join(m1.Dir, k), want)
	}
	cold := c.since(faultproxy.GetObject)
	if cold == 0 {
		t.Fatalf("GETs of the cold read: got 0, want some")
	}
	if err := m1.Unmount(); err != nil {
		t.Fatal(err)
	}
	if n := len(cacheBlocks(t, dir)); n != 41+50 {
		t.Errorf("block files after the cold read: got %d, want %d (41 of big, one per small file)", n, 41+50)
	}

	m2 := c.mount("--cache-dir", dir)
	readExact(t, filepath.Join(m2.Dir, "big"), big)
	for k, want := range small {
		readExact(t, filepath.Join(m2.Dir, k), want)
	}
	if got := c.since(faultproxy.GetObject); got != 0 {
		t.Errorf("GETs of the warm re-read after a remount: got %d, want 0", got)
	}
	t.Logf("cold: %d GETs; warm: %d GETs, %d HEADs, %d LISTs", cold,
		c.since(faultproxy.GetObject), c.since(faultproxy.HeadObject), c.since(faultproxy.ListObjects))
}

// TestCacheOverwrittenByAnotherClient: an object replaced by another
// client (same size, new ETag) reads as the new bytes once the attribute
// TTL has passed, never as the cached old ones.
func TestCacheOverwrittenByAnotherClient(t *testing.T) {
	bucket := cacheBucket(t)
	old := putRandom(t, bucket, "f", 3<<20+5)
	dir := t.TempDir()
	m := mountBucket(t, bucket, "--cache-dir", dir, "--cache-ttl", "1s", "--kernel-cache-ttl", "1s")
	readExact(t, filepath.Join(m.Dir, "f"), old)
	// The write-behind writes the blocks after the read.
	waitFor(t, 5*time.Second, "a block file", func() (string, bool) {
		n := len(cacheBlocks(t, dir))
		return fmt.Sprintf("%d block files", n), n > 0
	})
	if t.Failed() {
		t.FailNow()
	}
	now := bytes.Repeat([]byte("new bytes "), len(old)/10+1)[:len(old)]
	if _, err := client.PutObject(ctx(t), bucket, "f", bytes.NewReader(now), int64(len(now)), s3client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // past both TTLs
	readExact(t, filepath.Join(m.Dir, "f"), now)

	// And after a remount, with the old version's blocks still there.
	if err := m.Unmount(); err != nil {
		t.Fatal(err)
	}
	m2 := mountBucket(t, bucket, "--cache-dir", dir)
	readExact(t, filepath.Join(m2.Dir, "f"), now)
}

// TestCacheCorruptBlock: a block file with a flipped byte is detected by
// its checksum, dropped and fetched again: the read is exact.
func TestCacheCorruptBlock(t *testing.T) {
	bucket := cacheBucket(t)
	data := putRandom(t, bucket, "f", 5<<20)
	dir := t.TempDir()
	c := newCounted(t, bucket)
	m := c.mount("--cache-dir", dir)
	readExact(t, filepath.Join(m.Dir, "f"), data)
	if err := m.Unmount(); err != nil {
		t.Fatal(err)
	}
	blocks := cacheBlocks(t, dir)
	if len(blocks) != 5 {
		t.Fatalf("block files: got %d, want 5", len(blocks))
	}
	for i, b := range blocks {
		f, err := os.OpenFile(b, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		one := make([]byte, 1)
		at := int64(64 + 1000*i) // past the header: the data
		f.ReadAt(one, at)
		one[0] ^= 0x10
		if _, err := f.WriteAt(one, at); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	m2 := c.mount("--cache-dir", dir)
	readExact(t, filepath.Join(m2.Dir, "f"), data)
	if got := c.since(faultproxy.GetObject); got == 0 {
		t.Errorf("GETs after every block was corrupted: got 0, want the blocks fetched again")
	}
	if !strings.Contains(m2.Log(), "dropping a block") {
		t.Errorf("the log does not say a corrupt block was dropped:\n%s", m2.Log())
	}
	// Fetched again, cached again: a third mount reads with no GET.
	if err := m2.Unmount(); err != nil {
		t.Fatal(err)
	}
	m3 := c.mount("--cache-dir", dir)
	readExact(t, filepath.Join(m3.Dir, "f"), data)
	if got := c.since(faultproxy.GetObject); got != 0 {
		t.Errorf("GETs after the refetch: got %d, want 0", got)
	}
}

// TestCacheSecondMountRefused: two mounts never share a cache directory.
func TestCacheSecondMountRefused(t *testing.T) {
	bucket := cacheBucket(t)
	dir := t.TempDir()
	mountBucket(t, bucket, "--cache-dir", dir)
	mnt := t.TempDir()
	cmd := exec.Command(binary, bucketfsArgs("--cache-dir", dir, bucket, mnt)...)
	cmd.Env = server.Env()
	done := make(chan error, 1)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("second mount on the same --cache-dir: exit 0, want a failure:\n%s", out.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		if harness.IsMounted(mnt) {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
		t.Fatalf("second mount on the same --cache-dir did not fail within 30s:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "in use by another bucketfs mount") {
		t.Errorf("second mount's error does not say the directory is in use:\n%s", out.String())
	}
	if harness.IsMounted(mnt) {
		syscall.Unmount(mnt, syscall.MNT_DETACH)
		t.Errorf("the refused mount is mounted")
	}
}

// TestCacheKill9ThenReuse: bucketfs killed with SIGKILL in the middle of
// reads; the next mount reuses the blocks already cached, and none it
// serves is torn.
func TestCacheKill9ThenReuse(t *testing.T) {
	bucket := cacheBucket(t)
	data := putRandom(t, bucket, "big", 64<<20)
	dir := t.TempDir()
	c := newCounted(t, bucket)
	m := c.mount("--cache-dir", dir)
	readers := make([]*exec.Cmd, 4)
	for i := range readers {
		readers[i] = exec.Command("dd", "if="+filepath.Join(m.Dir, "big"), "of=/dev/null", "bs=1M",
			fmt.Sprintf("skip=%d", i*16), "count=16")
		if err := readers[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	// Kill once some blocks are on disk, while reads go on.
	for deadline := time.Now().Add(30 * time.Second); len(cacheBlocks(t, dir)) < 8; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no blocks cached within 30s")
		}
	}
	m.Signal(syscall.SIGKILL)
	<-m.Exited()
	if err := syscall.Unmount(m.Dir, syscall.MNT_DETACH); err != nil {
		t.Fatalf("detach the dead mount: %v", err)
	}
	for _, r := range readers {
		r.Wait()
	}
	before := len(cacheBlocks(t, dir))
	t.Logf("%d blocks cached when killed", before)

	m2 := c.mount("--cache-dir", dir)
	readExact(t, filepath.Join(m2.Dir, "big"), data)
	gets := c.since(faultproxy.GetObject)
	if got, most := getBytes(m2.Log()), int64(len(data)-before<<20); got > most {
		t.Errorf("bytes fetched after the crash: got %d, want at most %d (the %d blocks left are reused)", got, most, before)
	}
	if !strings.Contains(m2.Log(), fmt.Sprintf("blocks=%d", before)) {
		t.Errorf("the second mount did not index the %d blocks left:\n%s", before, m2.Log())
	}
	if err := m2.Unmount(); err != nil {
		t.Fatal(err)
	}
	if n := len(cacheBlocks(t, dir)); n != 64 {
		t.Errorf("blocks after the whole read: got %d, want 64", n)
	}
	// A cold read of 64 MiB in 8 MiB chunks is 8 GETs; the reused blocks
	// spare some of them unless they were all in the last chunks read.
	t.Logf("GETs of the read after the crash: %d, %d bytes", gets, getBytes(m2.Log()))
	m3 := c.mount("--cache-dir", dir)
	readExact(t, filepath.Join(m3.Dir, "big"), data)
	if got := c.since(faultproxy.GetObject); got != 0 {
		t.Errorf("GETs of a third read: got %d, want 0", got)
	}
}

// TestCacheOnFullTmpfs: a cache on an 8 MiB tmpfs with a larger limit:
// the disk fills, reads still succeed and are exact, one warning says so.
func TestCacheOnFullTmpfs(t *testing.T) {
	bucket := cacheBucket(t)
	data := putRandom(t, bucket, "big", 30<<20)
	other := putRandom(t, bucket, "other", 12<<20)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount tmpfs: %v", err)
		}
	})
	m := mountBucket(t, bucket, "--cache-dir", dir, "--cache-max-size", "64M")
	readExact(t, filepath.Join(m.Dir, "big"), data)
	readExact(t, filepath.Join(m.Dir, "other"), other)
	log := m.Log()
	if n := strings.Count(log, `level=warning msg="data cache: disk full`); n != 1 {
		t.Errorf("disk-full warnings: got %d, want 1:\n%s", n, log)
	}
	if n := strings.Count(log, `level=warning msg="data cache`); n != 1 {
		t.Errorf("data cache warnings: got %d, want 1:\n%s", n, log)
	}
	waitFor(t, 5*time.Second, "blocks cached on the tmpfs", func() (string, bool) {
		n := len(cacheBlocks(t, dir))
		return fmt.Sprintf("%d block files", n), n > 0
	})
	// The cache keeps working in the space it has: a re-read after a
	// remount is exact.
	if err := m.Unmount(); err != nil {
		t.Fatal(err)
	}
	m2 := mountBucket(t, bucket, "--cache-dir", dir, "--cache-max-size", "64M")
	readExact(t, filepath.Join(m2.Dir, "other"), other)
}

// TestCacheWriteThrough: files written through the mount (one PUT, and a
// partial rewrite staged from the old object) go into the cache as they
// are uploaded: reading them after a remount costs no GET.
func TestCacheWriteThrough(t *testing.T) {
	bucket := cacheBucket(t)
	old := putRandom(t, bucket, "rewritten", 3<<20)
	dir := t.TempDir()
	c := newCounted(t, bucket)
	m := c.mount("--cache-dir", dir)
	written := randomBytes(5<<20 + 3)
	if err := os.WriteFile(filepath.Join(m.Dir, "written"), written, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(m.Dir, "rewritten"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	patch := []byte("a patch in the middle")
	if _, err := f.WriteAt(patch, 1<<20+5); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	rewritten := append([]byte(nil), old...)
	copy(rewritten[1<<20+5:], patch)
	if err := m.Unmount(); err != nil {
		t.Fatal(err)
	}
	if got := getObject(t, bucket, "rewritten"); !bytes.Equal(got, rewritten) {
		t.Fatalf("the rewritten object is not what was written")
	}
	m2 := c.mount("--cache-dir", dir)
	readExact(t, filepath.Join(m2.Dir, "written"), written)
	readExact(t, filepath.Join(m2.Dir, "rewritten"), rewritten)
	if got := c.since(faultproxy.GetObject); got != 0 {
		t.Errorf("GETs reading back what this mount wrote: got %d, want 0", got)
	}
}

// dirUsage is what du says of dir: the bytes allocated to everything in
// it, the directories too.
func dirUsage(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
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

// TestCacheLimitUnder16Readers: 16 readers of distinct objects, 128 MiB
// in all, through a 16 MiB cache: the directory, sampled all along,
// never holds more than 16 MiB, and every read is exact.
func TestCacheLimitUnder16Readers(t *testing.T) {
	bucket := cacheBucket(t)
	datas := make([][]byte, 16)
	for i := range datas {
		datas[i] = putRandom(t, bucket, fmt.Sprintf("o%02d", i), 8<<20+i*4097)
	}
	dir := t.TempDir()
	const limit = 16 << 20
	m := mountBucket(t, bucket, "--cache-dir", dir, "--cache-max-size", "16M")
	stop := make(chan struct{})
	most := make(chan int64)
	go func() {
		var max int64
		for {
			if u := dirUsage(dir); u > max {
				max = u
			}
			select {
			case <-stop:
				most <- max
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	errs := make(chan error, len(datas))
	for i, want := range datas {
		go func() {
			got, err := os.ReadFile(filepath.Join(m.Dir, fmt.Sprintf("o%02d", i)))
			if err == nil && !bytes.Equal(got, want) {
				err = fmt.Errorf("o%02d: %d bytes that are not the object's", i, len(got))
			}
			errs <- err
		}()
	}
	for range datas {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	close(stop)
	max := <-most
	t.Logf("most bytes in the cache directory: %d (limit %d); blocks at the end: %d", max, limit, len(cacheBlocks(t, dir)))
	if max > limit {
		t.Errorf("cache directory size: got up to %d bytes, want at most %d", max, limit)
	}
	if max < limit/2 {
		t.Errorf("cache directory size: got at most %d bytes, want the cache used (near %d)", max, limit)
	}
}
