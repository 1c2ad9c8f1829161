// Command bench measures bucketfs against its own S3 client (package
// s3client) on one throw-away MinIO on loopback, and against s3fs when it
// is installed. It measures and never asserts: it prints times, ratios,
// S3 requests by operation and the peak memory of the mount process.
//
// Run it with test/bench.sh (which installs what it needs first) or
// `go run ./test/bench [flags]`; it needs FUSE (root). docs/benchmark.md
// says how to read the output.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/bucketfs/bucketfs/s3client"
	"github.com/bucketfs/bucketfs/test/harness"
)

// options are the sizes and switches given on the command line.
type options struct {
	bigMiB      int
	partMiB     int
	parallel    int
	files       int
	fileKiB     int
	treeDirs    int
	randomReads int
	randomKiB   int
	repeat      int
	bigreadMiB  int    // read path: the object read by one cat
	pwFiles     int    // parallel write: cp at once
	pwMiB       int    // parallel write: the file each cp writes
	parFiles    int    // read path: objects read at once
	parMiB      int    // read path: size of each of them
	catFiles    int    // read path: small files cat reads after ls
	rssMiB      int    // read path: the object read for the peak RSS
	bigdirFiles int    // big directory: objects in it
	md5OffFlag  string // read path: mount flags that turn the MD5 check off
	// The data-cache group.
	cacheMiB         int // the object read cold, warm and without the cache
	cacheSlowMiB     int // MiB/s of the throttled server of the remote-S3 cold row (0: not run)
	cacheDistinct    int // distinct objects read through a small cache
	cacheDistinctMiB int // the size of each
	cacheLimitMiB    int // the small cache's --cache-max-size
	cacheReaders     int // cats at once through the small cache
	warmup           bool
	s3fs             bool
	only             string
	keep             bool
}

func parseFlags() options {
	var o options
	flag.IntVar(&o.bigMiB, "big-mib", 256, "size of the large file, MiB (sequential write/read, random reads)")
	flag.IntVar(&o.partMiB, "part-mib", 8, "multipart part size of the mount (--part-size) and of the raw upload, MiB")
	flag.IntVar(&o.parallel, "parallel", 4, "parts uploaded at once by the mount (--upload-parallel) and by the raw upload")
	flag.IntVar(&o.files, "files", 1000, "number of small files (cp -r, ls -l) and of objects in the find/du tree")
	flag.IntVar(&o.fileKiB, "file-kib", 4, "size of each small file, KiB")
	flag.IntVar(&o.treeDirs, "tree-dirs", 10, "directories the find/du tree spreads its objects over")
	flag.IntVar(&o.randomReads, "random-reads", 200, "number of random reads of the large file")
	flag.IntVar(&o.randomKiB, "random-kib", 4, "size of each random read, KiB")
	flag.IntVar(&o.bigreadMiB, "bigread-mib", 1024, "bigread: size of the object read by one cat (and with -md5-off-flag), MiB; uploaded in one PUT")
	flag.IntVar(&o.parFiles, "par-files", 4, "bigread: number of objects read by as many cats at once")
	flag.IntVar(&o.parMiB, "par-mib", 256, "bigread: size of each object read at once, MiB")
	flag.IntVar(&o.catFiles, "cat-files", 100, "bigread: small files (of -file-kib) read by one cat after ls of their directory")
	flag.IntVar(&o.pwFiles, "parwrite-files", 16, "parwrite: number of cp at once into one mount")
	flag.IntVar(&o.pwMiB, "parwrite-mib", 256, "parwrite: size of the file each cp writes, MiB")
	flag.IntVar(&o.rssMiB, "rss-mib", 4096, "bigread: size of the object read to measure the mount's peak RSS, MiB")
	flag.IntVar(&o.bigdirFiles, "bigdir-files", 100000, "bigdir: objects in the one big directory (ls -l, find, du -s)")
	flag.StringVar(&o.md5OffFlag, "md5-off-flag", "", `bigread: mount flags that turn the MD5 check of whole reads off, e.g. "--verify-md5=false"; empty: the row is not run`)
	flag.IntVar(&o.cacheMiB, "cache-mib", 512, "cache: size of the object read cold and warm (after a remount), MiB")
	flag.IntVar(&o.cacheSlowMiB, "cache-slow-mibps", 200, "cache: the cold reads again through a proxy passing the server's answers at this many MiB/s, as fast as a remote S3 (0: not run)")
	flag.IntVar(&o.cacheDistinct, "cache-distinct", 16, "cache: number of distinct objects read through a small cache")
	flag.IntVar(&o.cacheDistinctMiB, "cache-distinct-mib", 256, "cache: size of each distinct object, MiB")
	flag.IntVar(&o.cacheLimitMiB, "cache-limit-mib", 256, "cache: --cache-max-size of the small cache, MiB")
	flag.IntVar(&o.cacheReaders, "cache-readers", 4, "cache: cats at once reading the distinct objects")
	flag.IntVar(&o.repeat, "n", 3, "runs of every timed scenario; the median is printed")
	flag.BoolVar(&o.warmup, "warmup", true, "read the large file once, untimed, through each mount before the timed reads")
	flag.BoolVar(&o.s3fs, "s3fs", true, "also measure s3fs, if it is installed (found on PATH)")
	flag.StringVar(&o.only, "only", "", "comma-separated groups to run: write,read,small,ls,tree,random, and bigread, parwrite, bigdir and cache (opt-in); all = every group (default: all but those two)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (logs of every mount) and print its path")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: go run ./test/bench [flags]\n\n"+
			"Measures bucketfs against the raw S3 client (and s3fs) on a local MinIO; see docs/benchmark.md.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	o.repeat = max(o.repeat, 1)
	o.treeDirs = max(o.treeDirs, 1)
	o.parFiles = max(o.parFiles, 1)
	o.cacheReaders = max(o.cacheReaders, 1)
	return o
}

func main() {
	os.Exit(run(parseFlags()))
}

// bench is the state of one run: the server, the binary, the raw client,
// the bucket, local source data, and the mounts to clean up.
type bench struct {
	opts    options
	srv     *harness.Server
	bin     string
	tmp     string
	client  *s3client.Client
	counter *countingHook
	bucket  string

	bigSrc   string // local file of opts.bigMiB MiB
	smallSrc string // local directory of opts.files small files

	s3fsPath   string // "" when s3fs is not measured
	s3fsWhy    string // why not
	s3fsPasswd string
	metricsOK  bool // the server's per-API request counters answer

	mu       sync.Mutex // protects the fields below
	seq      int        // numbers mount points and logs
	mounts   map[*fuseMount]bool
	stopSrv  func()
	cleaned  bool
	warnings []string
}

func (b *bench) bigSize() int64 { return int64(b.opts.bigMiB) << 20 }

// cleanup unmounts everything still mounted, stops MinIO and removes the
// temp dir. It is safe to call more than once and from a signal handler.
func (b *bench) cleanup() {
	b.mu.Lock()
	if b.cleaned {
		b.mu.Unlock()
		return
	}
	b.cleaned = true
	mounts := make([]*fuseMount, 0, len(b.mounts))
	for m := range b.mounts {
		mounts = append(mounts, m)
	}
	stop := b.stopSrv
	b.mu.Unlock()
	for _, m := range mounts {
		if err := m.unmount(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		}
	}
	if stop != nil {
		stop()
	}
	if b.tmp != "" {
		if b.opts.keep {
			fmt.Fprintf(os.Stderr, "bench: kept %s (mount logs in %s)\n", b.tmp, filepath.Join(b.tmp, "logs"))
		} else {
			os.RemoveAll(b.tmp)
		}
	}
}

func run(o options) int {
	b := &bench{opts: o, mounts: map[*fuseMount]bool{}}
	defer b.cleanup()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "\nbench: %v: unmounting and stopping MinIO\n", sig)
		b.cleanup()
		os.Exit(130)
	}()
	if err := b.setup(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	rows := b.runAll()
	b.report(os.Stdout, rows)
	return 0
}

// setup starts MinIO, builds bucketfs, creates the bucket and the local
// source data, and decides whether s3fs is measured.
func (b *bench) setup() error {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("FUSE is not available (%v); run test/setup.sh as root", err)
	}
	var err error
	if b.tmp, err = os.MkdirTemp("", "bucketfs-bench-"); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(b.tmp, "logs"), 0o755); err != nil {
		return err
	}
	// MinIO's per-API request counters (metrics v3) count what every
	// client sends, s3fs included; public so no token is needed. MinIO
	// inherits this process's environment.
	os.Setenv("MINIO_PROMETHEUS_AUTH_TYPE", "public")
	progress("starting MinIO on 127.0.0.1")
	srv, err := harness.StartMinIO()
	if err != nil {
		return err
	}
	var once sync.Once
	b.mu.Lock()
	b.srv, b.stopSrv = srv, func() { once.Do(srv.Stop) }
	b.mu.Unlock()

	progress("building bucketfs")
	if b.bin, err = harness.BuildBinary(b.tmp); err != nil {
		return err
	}
	b.counter = &countingHook{counts: opCounts{}}
	l := logrus.New()
	l.SetOutput(io.Discard)
	l.SetFormatter(nopFormatter{})
	l.SetLevel(logrus.DebugLevel)
	l.AddHook(b.counter)
	b.client, err = s3client.New(s3client.Options{
		Endpoint:    srv.Endpoint,
		Credentials: s3client.Credentials{AccessKey: srv.AccessKey, SecretKey: srv.SecretKey},
		Log:         logrus.NewEntry(l),
	})
	if err != nil {
		return err
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	b.bucket = "bench-" + hex.EncodeToString(suffix)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.client.CreateBucket(ctx, b.bucket); err != nil {
		return err
	}
	if _, err := b.serverCounts(); err != nil {
		b.warn("MinIO's request counters do not answer (%v): s3fs requests are not counted", err)
	} else {
		b.metricsOK = true
	}

	progress("writing %d MiB of source data and %d files of %d KiB to %s", b.opts.bigMiB, b.opts.files, b.opts.fileKiB, b.tmp)
	if err := b.makeSources(); err != nil {
		return err
	}
	b.setupS3fs()
	return nil
}

// makeSources writes the local files the scenarios copy: one large file
// of pseudo-random bytes and a directory of small ones.
func (b *bench) makeSources() error {
	src := filepath.Join(b.tmp, "src")
	b.bigSrc = filepath.Join(src, "big")
	b.smallSrc = filepath.Join(src, "small")
	if err := os.MkdirAll(b.smallSrc, 0o755); err != nil {
		return err
	}
	var seed [32]byte
	rand.Read(seed[:])
	rng := mrand.NewChaCha8(seed)
	f, err := os.Create(b.bigSrc)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, rng, b.bigSize()); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	buf := make([]byte, b.opts.fileKiB<<10)
	for i := 0; i < b.opts.files; i++ {
		rng.Read(buf)
		if err := os.WriteFile(filepath.Join(b.smallSrc, smallName(i)), buf, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// smallName is the name of small file i.
func smallName(i int) string { return fmt.Sprintf("f%05d", i) }

// setupS3fs decides whether s3fs is measured and writes its passwd file.
func (b *bench) setupS3fs() {
	if !b.opts.s3fs {
		b.s3fsWhy = "not measured (-s3fs=false)"
		return
	}
	p, err := exec.LookPath("s3fs")
	if err != nil {
		b.s3fsWhy = "not installed (command -v s3fs found nothing; test/setup.sh installs Debian's s3fs)"
		return
	}
	b.s3fsPasswd = filepath.Join(b.tmp, "passwd-s3fs")
	if err := os.WriteFile(b.s3fsPasswd, []byte(b.srv.AccessKey+":"+b.srv.SecretKey+"\n"), 0o600); err != nil {
		b.s3fsWhy = fmt.Sprintf("not measured: %v", err)
		return
	}
	b.s3fsPath = p
}

// wants reports whether group is selected by -only: by name, by "all",
// or by default unless it is opt-in.
func (b *bench) wants(group string) bool {
	if b.opts.only == "" {
		return !optIn(group)
	}
	for _, g := range strings.Split(b.opts.only, ",") {
		if g = strings.TrimSpace(g); g == group || g == "all" {
			return true
		}
	}
	return false
}

// optIn reports whether group runs only when -only names it: the read
// path (bigread) uploads 6 GiB and takes about 2.5 minutes by itself,
// parwrite writes 4 GiB, bigdir puts 100 000 objects, cache uploads
// 4.5 GiB and reads 9 GiB.
func optIn(group string) bool {
	return group == "bigread" || group == "parwrite" || group == "bigdir" || group == "cache"
}

// runAll runs the selected scenario groups in order; later groups read
// what earlier ones wrote, and make it themselves when run alone.
func (b *bench) runAll() []*row {
	var rows []*row
	groups := []struct {
		name string
		run  func() []*row
	}{
		{"write", b.groupWrite},
		{"read", b.groupRead},
		{"small", b.groupSmall},
		{"ls", b.groupLs},
		{"tree", b.groupTree},
		{"random", b.groupRandom},
		{"bigread", b.groupBigRead},
		{"parwrite", b.groupParWrite},
		{"bigdir", b.groupBigDir},
		{"cache", b.groupCache},
	}
	for _, g := range groups {
		if !b.wants(g.name) {
			continue
		}
		start := time.Now()
		rows = append(rows, g.run()...)
		progress("%s done in %.1fs", g.name, time.Since(start).Seconds())
	}
	return rows
}

// warn records a remark printed under the table.
func (b *bench) warn(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.warnings = append(b.warnings, fmt.Sprintf(format, args...))
}

// progress tells the user on stderr what is running.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// deleteKeys removes keys (untimed housekeeping between runs).
func (b *bench) deleteKeys(keys ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, k := range keys {
		if err := b.client.DeleteObject(ctx, b.bucket, k); err != nil && !errors.Is(err, s3client.ErrNotFound) {
			b.warn("delete %s: %v", k, err)
		}
	}
}

// machine describes where the numbers come from.
func (b *bench) machine() string {
	ver, _ := exec.Command(b.bin, "--version").Output()
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%d CPUs, %s, kernel %s, %s, MinIO %s",
		runtime.NumCPU(), runtime.Version(), strings.TrimSpace(string(kernel)),
		strings.TrimSpace(string(ver)), harness.MinIOVersion)
}
