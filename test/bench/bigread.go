package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bucketfs/bucketfs/s3client"
)

// The read-path group (-only bigread): the rows issue 10 sets targets
// for. Its objects are made of genData, so even the 4 GiB one is never
// on local disk: the 1 GiB object and the four of 256 MiB are sent with
// one PutObject each (a single-part ETag is the MD5 of the bytes), the
// peak-RSS object as a multipart upload.

// Keys of the read-path objects.
const (
	readDir = "bigread"  // the large objects
	catDir  = "catsmall" // the small files read after ls
	oneKey  = readDir + "/one"
	rssKey  = readDir + "/rss"
)

func parKey(i int) string { return fmt.Sprintf("%s/par-%d", readDir, i) }
func catKey(i int) string { return catDir + "/" + smallName(i) }

// maxPut is the largest object S3 takes in one PutObject.
const maxPut = 5 << 30

// genFor is the content of key: size bytes seeded by the key's name.
func genFor(key string, size int64) genData {
	h := fnv.New64a()
	h.Write([]byte(key))
	return genData{seed: h.Sum64(), size: size}
}

// ensureGen uploads genFor(key, size) (untimed) unless it is there: in
// one PutObject if onePut and S3 allows it, else multipart.
func (b *bench) ensureGen(ctx context.Context, key string, size int64, onePut bool) error {
	onePut = onePut && size <= maxPut
	if info, err := b.client.HeadObject(ctx, b.bucket, key); err == nil && info.Size == size &&
		onePut == !strings.Contains(info.ETag, "-") {
		return nil
	}
	g := genFor(key, size)
	if onePut {
		progress("uploading %s, %d MiB in one PUT (untimed)", key, size>>20)
		_, err := b.client.PutObject(ctx, b.bucket, key, g, size, s3client.PutOptions{})
		return err
	}
	progress("uploading %s, %d MiB in parts of %d MiB (untimed)", key, size>>20, b.opts.partMiB)
	return b.rawMultipart(ctx, key, g, size)
}

// ensureReadObjects uploads what the read-path rows read.
func (b *bench) ensureReadObjects() error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	o := b.opts
	if err := b.ensureGen(ctx, oneKey, mib(o.bigreadMiB), true); err != nil {
		return err
	}
	for i := 0; i < o.parFiles; i++ {
		if err := b.ensureGen(ctx, parKey(i), mib(o.parMiB), true); err != nil {
			return err
		}
	}
	if err := b.ensureGen(ctx, rssKey, mib(o.rssMiB), false); err != nil {
		return err
	}
	if n, err := b.countKeys(catDir + "/"); err == nil && n == o.catFiles {
		return nil
	}
	progress("putting %d files of %d KiB under %s/ (untimed)", o.catFiles, o.fileKiB, catDir)
	for i := 0; i < o.catFiles; i++ {
		g := genFor(catKey(i), int64(o.fileKiB)<<10)
		if _, err := b.client.PutObject(ctx, b.bucket, catKey(i), g, g.size, s3client.PutOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func mib(n int) int64 { return int64(n) << 20 }

// catNull runs `cat path > /dev/null` and checks that cat wrote want
// bytes: its wchar in /proc/PID/io, read while it is a zombie.
func catNull(path string, want int64) error {
	wrote, _, err := runToNull(nil, "cat", path)
	if err == nil && wrote != want {
		err = fmt.Errorf("cat %s wrote %d bytes, want %d", path, wrote, want)
	}
	return err
}

// catAllNull runs one catNull per path, all at once.
func catAllNull(paths []string, want int64) error {
	return inParallel(len(paths), func(i int) error { return catNull(paths[i], want) })
}

// inParallel runs f(0) … f(n-1) at once and joins their errors.
func inParallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// inPool runs f(0) … f(n-1) on workers goroutines and returns the first
// error; after one, no new call starts.
func inPool(n, workers int, f func(i int) error) error {
	todo := make(chan int)
	var (
		mu    sync.Mutex
		first error
	)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range todo {
				if err := f(i); err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			break
		}
		todo <- i
	}
	close(todo)
	wg.Wait()
	return first
}

// runToNull runs name with its standard output on /dev/null and returns
// how many bytes it wrote there (its wchar less what it wrote to standard
// error) and its peak RSS (KiB). env nil is this process's environment.
func runToNull(env []string, name string, args ...string) (wrote, rssKiB int64, err error) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return 0, 0, err
	}
	defer null.Close()
	var errOut strings.Builder
	cmd := exec.Command(name, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, null, &errOut
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	// Wait for the exit without reaping, so /proc/PID/io still answers.
	var info unix.Siginfo
	for {
		err = unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	if err == nil {
		wrote = procWchar(cmd.Process.Pid)
	}
	err = cmd.Wait()
	// wchar counts every write, also what went to standard error.
	wrote -= int64(errOut.Len())
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rssKiB = ru.Maxrss
	}
	if err != nil {
		return wrote, rssKiB, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, firstLine(errOut.String()))
	}
	return wrote, rssKiB, nil
}

// procWchar is the wchar line of /proc/PID/io, -1 if it cannot be read.
func procWchar(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

// rawGetAll streams every key (size bytes each) with one GET each, all at once.
func (b *bench) rawGetAll(ctx context.Context, keys []string, size int64) error {
	return inParallel(len(keys), func(i int) error { return b.rawGet(ctx, keys[i], size) })
}

// rclone returns how to run `rclone cat` of key on the benchmark's MinIO,
// or nil when rclone is not on PATH: a remote defined by environment
// variables only, an empty config file of our own, and no proxy. It
// returns rclone's peak RSS (KiB).
func (b *bench) rclone() func(key string, want int64) (int64, error) {
	p, err := exec.LookPath("rclone")
	if err != nil {
		return nil
	}
	conf := filepath.Join(b.tmp, "rclone.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		return nil
	}
	// The server is plain HTTP: a CA bundle for TLS (AWS_CA_BUNDLE)
	// only makes rclone's AWS SDK fail.
	var env []string
	for _, kv := range b.srv.Env() {
		if !strings.HasPrefix(kv, "AWS_CA_BUNDLE=") && !strings.HasPrefix(kv, "RCLONE_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"RCLONE_CONFIG_BENCH_TYPE=s3", "RCLONE_CONFIG_BENCH_PROVIDER=Minio",
		"RCLONE_CONFIG_BENCH_ENV_AUTH=false", "RCLONE_CONFIG_BENCH_ENDPOINT="+b.srv.Endpoint,
		"RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="+b.srv.AccessKey, "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="+b.srv.SecretKey)
	return func(key string, want int64) (int64, error) {
		wrote, rss, err := runToNull(env, p, "--config", conf, "cat", "bench:"+b.bucket+"/"+key)
		// wchar also counts the HTTP requests rclone sends: a few KiB.
		if err == nil && (wrote < want || wrote > want+64<<10) {
			err = fmt.Errorf("rclone cat %s wrote %d bytes, want %d (and its requests)", key, wrote, want)
		}
		return rss, err
	}
}

// rcloneVersion is the first line of `rclone version`, or why not.
func rcloneVersion() string {
	p, err := exec.LookPath("rclone")
	if err != nil {
		return "not installed (command -v rclone found nothing; apt-get install rclone): its rows are empty"
	}
	out, _ := exec.Command(p, "version").Output()
	return firstLine(string(out))
}

// groupBigRead: the read-path rows of issue 10, each on fresh mounts.
func (b *bench) groupBigRead() []*row {
	if err := b.ensureReadObjects(); err != nil {
		r := &row{name: "read path"}
		r.mount.record(sample{}, err)
		return []*row{r}
	}
	return []*row{b.rowOne(), b.rowPar(), b.rowCatSmall(), b.rowRSS(), b.rowMD5()}
}

// rowOne: cat of one large object on a fresh mount vs one streaming GET,
// rclone cat and s3fs.
func (b *bench) rowOne() *row {
	size := mib(b.opts.bigreadMiB)
	r := &row{name: fmt.Sprintf("read %d MiB (cat, fresh mount)", b.opts.bigreadMiB), bytes: size,
		target: "≥ 0.9× raw MiB/s", measured: throughputVsRaw}
	rc := b.rclone()
	var rcRef *ref
	if rc != nil {
		rcRef = r.addRef("rclone cat")
	}
	cat := func(dir string) error { return catNull(filepath.Join(dir, oneKey), size) }
	if err := b.rawGet(context.Background(), oneKey, size); err != nil {
		b.warn("warm-up read of %s: %v", oneKey, err)
	}
	if b.opts.warmup {
		progress("read %d MiB warm-up (untimed)", b.opts.bigreadMiB)
		if _, err := b.onMount(nil, cat); err != nil {
			b.warn("warm-up read of %s through bucketfs: %v", oneKey, err)
		}
	}
	for i := 1; i <= b.opts.repeat; i++ {
		progress("read %d MiB run %d/%d", b.opts.bigreadMiB, i, b.opts.repeat)
		r.mount.record(b.onMount(nil, cat))
		r.raw.record(b.onRaw(func(ctx context.Context) error { return b.rawGet(ctx, oneKey, size) }))
		if rcRef != nil {
			rcRef.record(b.onCommand("rclone", func() (int64, error) { return rc(oneKey, size) }))
		}
		if b.s3fsOn(r) {
			r.s3fs.record(b.onS3fs(cat))
		}
	}
	return r
}

// rowPar: opts.parFiles cats at once through one fresh mount vs as many
// streaming GETs at once.
func (b *bench) rowPar() *row {
	n, size := b.opts.parFiles, mib(b.opts.parMiB)
	r := &row{name: fmt.Sprintf("read %d × %d MiB at once (%d cats, fresh mount)", n, b.opts.parMiB, n),
		bytes: int64(n) * size, target: "≥ 0.85× raw MiB/s", measured: throughputVsRaw}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = parKey(i)
	}
	cats := func(dir string) error {
		paths := make([]string, n)
		for i, k := range keys {
			paths[i] = filepath.Join(dir, k)
		}
		return catAllNull(paths, size)
	}
	if err := b.rawGetAll(context.Background(), keys, size); err != nil {
		b.warn("warm-up read of %s/par-*: %v", readDir, err)
	}
	for i := 1; i <= b.opts.repeat; i++ {
		progress("read %d × %d MiB run %d/%d", n, b.opts.parMiB, i, b.opts.repeat)
		r.mount.record(b.onMount(nil, cats))
		r.raw.record(b.onRaw(func(ctx context.Context) error { return b.rawGetAll(ctx, keys, size) }))
		if b.s3fsOn(r) {
			r.s3fs.record(b.onS3fs(cats))
		}
	}
	return r
}

// rowCatSmall: on a fresh mount, ls of a directory of small files
// (untimed), then one cat of all of them, timed and counted; the raw
// client GETs each file.
func (b *bench) rowCatSmall() *row {
	n, size := b.opts.catFiles, int64(b.opts.fileKiB)<<10
	r := &row{name: fmt.Sprintf("cat %d × %d KiB files after ls", n, b.opts.fileKiB), bytes: int64(n) * size,
		target: fmt.Sprintf("GET=%d, no other request", n), measured: catSmallMeasured}
	var want []byte
	keys := make([]string, n)
	for i := range keys {
		keys[i] = catKey(i)
		want = append(want, genFor(keys[i], size).bytes()...)
	}
	ls := func(dir string) error { return sh("ls", filepath.Join(dir, catDir)) }
	cat := func(dir string) error {
		paths := make([]string, n)
		for i, k := range keys {
			paths[i] = filepath.Join(dir, k)
		}
		out, err := shOut("cat", paths...)
		if err == nil && out != string(want) {
			err = fmt.Errorf("cat of %s/* returned %d bytes, not the %d bytes stored", catDir, len(out), len(want))
		}
		return err
	}
	for i := 1; i <= b.opts.repeat; i++ {
		progress("cat %d small files after ls, run %d/%d", n, i, b.opts.repeat)
		r.mount.record(b.onMountAfter(nil, ls, cat))
		r.raw.record(b.onRaw(func(ctx context.Context) error {
			for _, k := range keys {
				if err := b.rawGet(ctx, k, size); err != nil {
					return err
				}
			}
			return nil
		}))
		if b.s3fsOn(r) {
			r.s3fs.record(b.onS3fsAfter(ls, cat))
		}
	}
	return r
}

// rowRSS: the peak RSS of the mount while cat reads a very large object.
func (b *bench) rowRSS() *row {
	size := mib(b.opts.rssMiB)
	r := &row{name: fmt.Sprintf("read %d MiB (cat, fresh mount): peak RSS", b.opts.rssMiB), bytes: size,
		target: "peak RSS ≤ 128 MiB", measured: rssMeasured, s3fsNote: "not run"}
	for i := 1; i <= b.opts.repeat; i++ {
		progress("read %d MiB (peak RSS) run %d/%d", b.opts.rssMiB, i, b.opts.repeat)
		r.mount.record(b.onMount(nil, func(dir string) error { return catNull(filepath.Join(dir, rssKey), size) }))
		r.raw.record(b.onRaw(func(ctx context.Context) error { return b.rawGet(ctx, rssKey, size) }))
	}
	return r
}

// rowMD5: the large cold read with the mount's default flags and with
// opts.md5OffFlag, on alternating fresh mounts; not run without the flag.
func (b *bench) rowMD5() *row {
	size := mib(b.opts.bigreadMiB)
	r := &row{name: fmt.Sprintf("read %d MiB, default flags (MD5 check)", b.opts.bigreadMiB), bytes: size,
		target: "≤ 5% slower than without the check", measured: md5Measured, s3fsNote: "not run"}
	flags := strings.Fields(b.opts.md5OffFlag)
	if len(flags) == 0 {
		r.note("not run: no -md5-off-flag given")
		return r
	}
	if size > maxPut {
		r.note("the object is larger than one PUT allows: its ETag is not an MD5")
	}
	off := r.addRef("mount " + b.opts.md5OffFlag)
	cat := func(dir string) error { return catNull(filepath.Join(dir, oneKey), size) }
	for i := 1; i <= b.opts.repeat; i++ {
		progress("read %d MiB default vs %s, run %d/%d", b.opts.bigreadMiB, b.opts.md5OffFlag, i, b.opts.repeat)
		r.mount.record(b.onMount(nil, cat))
		off.record(b.onMount(flags, cat))
		r.raw.record(b.onRaw(func(ctx context.Context) error { return b.rawGet(ctx, oneKey, size) }))
	}
	return r
}

// throughputVsRaw says the mount's MiB/s as a share of the raw client's,
// and of every other reader's.
func throughputVsRaw(r *row) string {
	s := speedup(r.raw, r.mount, "raw")
	for _, o := range r.refs {
		s += ", " + speedup(o.side, r.mount, o.name)
	}
	if len(r.s3fs.runs) > 0 {
		s += ", " + speedup(r.s3fs, r.mount, "s3fs")
	}
	return s
}

// speedup is "0.31× raw": the time of ref divided by the time of s, which
// is s's throughput over ref's.
func speedup(ref, s side, name string) string {
	dr, ok1 := ref.median()
	ds, ok2 := s.median()
	if !ok1 || !ok2 || ds <= 0 {
		return name + " n/a"
	}
	return fmt.Sprintf("%.2f× %s", dr.Seconds()/ds.Seconds(), name)
}

func catSmallMeasured(r *row) string {
	return fmt.Sprintf("%s in the cat phase; %s×raw time", r.mount.counts(), ratio(r.mount, r.raw))
}

func rssMeasured(r *row) string { return "peak RSS " + r.mount.peakMiB() + " MiB" }

func md5Measured(r *row) string {
	if len(r.refs) == 0 {
		return "n/a (no flag given)"
	}
	dm, ok1 := r.mount.median()
	doff, ok2 := r.refs[0].median()
	if !ok1 || !ok2 || doff <= 0 {
		return "n/a (runs failed)"
	}
	return fmt.Sprintf("%+.1f%% time with default flags vs %s", 100*(dm.Seconds()/doff.Seconds()-1), r.refs[0].name)
}
