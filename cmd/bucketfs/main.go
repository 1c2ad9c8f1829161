// Command bucketfs mounts an S3 bucket as a directory. It turns the
// command line (or fstab options) into option structs, mounts, detaches
// when asked, and unmounts cleanly on SIGINT/SIGTERM.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/sirupsen/logrus"

	"github.com/bucketfs/bucketfs/cache"
	"github.com/bucketfs/bucketfs/cache/blockcache"
	bfs "github.com/bucketfs/bucketfs/fs"
	"github.com/bucketfs/bucketfs/metrics"
	"github.com/bucketfs/bucketfs/s3client"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	args := os.Args[1:]
	if asMountHelper(os.Args[0]) {
		var fake bool
		if args, fake = helperArgs(args); fake {
			return
		}
		args = append(args, "--daemon")
	}
	cfg, err := parseArgs(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(os.Stdout)
		return
	case errors.Is(err, errVersion):
		fmt.Printf("bucketfs %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return
	case err != nil:
		fmt.Fprintf(os.Stderr, "bucketfs: %v\n", err)
		os.Exit(2)
	}
	ready := daemonChild()
	if cfg.daemon && ready == nil {
		if err := daemonize(childArgs(args, cfg)); err != nil {
			fmt.Fprintf(os.Stderr, "bucketfs: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if err := run(cfg, ready); err != nil {
		report(ready, err)
		daemon.SdNotify(false, "STATUS=cannot mount: "+err.Error())
		fmt.Fprintf(os.Stderr, "bucketfs: %v\n", err)
		os.Exit(1)
	}
}

// childArgs are the arguments of the detached child: the same, with the
// mount point made absolute (the child runs in /), and the cache
// directory and any relative path option (--state-dir, --temp-dir,
// --log-file, --passwd-file, --ca-file) given again, absolute, at the
// end (later options win).
func childArgs(args []string, cfg config) []string {
	out := append([]string(nil), args...)
	if abs, err := filepath.Abs(cfg.mountpoint); err == nil {
		for i := len(out) - 1; i >= 0; i-- {
			if out[i] == cfg.mountpoint {
				out[i] = abs
				break
			}
		}
	}
	if cfg.dataCache.Dir != "" {
		out = append(out, "--cache-dir="+cfg.dataCache.Dir)
	}
	for _, p := range []struct{ flag, path string }{
		{"state-dir", cfg.fs.StateDir},
		{"temp-dir", cfg.fs.Write.TempDir},
		{"log-file", cfg.logFile},
		{"passwd-file", cfg.creds.PasswdFile},
		{"ca-file", cfg.caFile},
	} {
		if p.path == "" || filepath.IsAbs(p.path) {
			continue
		}
		if abs, err := filepath.Abs(p.path); err == nil {
			out = append(out, "--"+p.flag+"="+abs)
		}
	}
	return out
}

// run mounts cfg and serves until unmounted. ready, if set, is told
// when the mount works.
func run(cfg config, ready *os.File) error {
	ensurePath()
	logs, err := newLoggers(cfg)
	if err != nil {
		return err
	}
	defer logs.Close()
	logger := logs.main
	notify := notifier{log: logger}

	if err := checkMountpoint(cfg.mountpoint, cfg.unmountStale, logger); err != nil {
		return err
	}
	cfg.s3.Log = logs.s3.WithField("component", "s3client")
	notify.status("getting credentials")
	cfg.creds.Region, cfg.creds.Log = cfg.s3.Region, cfg.s3.Log
	credCtx, credCancel := context.WithTimeout(context.Background(), time.Minute)
	creds, source, err := s3client.ResolveCredentials(credCtx, cfg.creds)
	credCancel()
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	var mx *metrics.Metrics
	if cfg.metricsListen != "" {
		mx = metrics.New()
		cfg.s3.Observer = mx
	}
	if r, ok := creds.(*s3client.RenewingCredentials); ok {
		defer r.Close()
		if mx != nil {
			r.OnRenewal(mx.CredentialsRenewed)
		}
	}
	logger.Infof("credentials: %s", source)
	if cfg.s3.Encryption.Mode != s3client.SSENone || cfg.s3.StorageClass != "" {
		logger.Infof("objects written: server-side encryption %s, storage class %s", cfg.s3.Encryption, orDefault(cfg.s3.StorageClass))
	}
	cfg.s3.CredentialsProvider = creds
	client, err := s3client.New(cfg.s3)
	if err != nil {
		return err
	}
	notify.status(fmt.Sprintf("checking %s at %s", cfg.source, cfg.s3.Endpoint))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if cfg.fs.Bucket == "" {
		_, err = client.ListBuckets(ctx)
	} else {
		err = client.HeadBucket(ctx, cfg.fs.Bucket)
	}
	cancel()
	if errors.Is(err, s3client.ErrAccessDenied) {
		return fmt.Errorf("cannot mount %q from %s: %w (check the access key and secret, from %s, and the bucket's permissions)",
			cfg.source, cfg.s3.Endpoint, err, source)
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return fmt.Errorf("cannot mount %q from %s: %w (the server's TLS certificate is not trusted: "+
			"give its CA with --ca-file FILE or AWS_CA_BUNDLE=FILE)", cfg.source, cfg.s3.Endpoint, err)
	}
	if err != nil {
		return fmt.Errorf("cannot mount %q from %s: %w", cfg.source, cfg.s3.Endpoint, err)
	}

	if os.Getenv("GOMEMLIMIT") == "" {
		// Past the buffers' budget, the garbage collector works harder
		// rather than let the heap double.
		debug.SetMemoryLimit(cfg.fs.MaxMemory + 64<<20)
	}
	if cfg.dataCache.Dir != "" {
		cfg.dataCache.Namespace = cfg.s3.Endpoint
		dc, err := blockcache.Open(cfg.dataCache, logger.WithField("component", "cache"))
		if err != nil {
			return fmt.Errorf("--cache-dir: %w", err)
		}
		defer dc.Close()
		cfg.fs.Cache = dataCache{dc}
	}
	fsys, root := bfs.New(client, cfg.cache, cfg.fs, logger.WithField("component", "fs"))
	fuseLevel := logrus.DebugLevel
	if cfg.debugFUSE {
		fuseLevel = logrus.InfoLevel
	}
	fuseLog := log.New(logger.WithField("component", "fuse").WriterLevel(fuseLevel), "", 0)
	// Catch SIGINT/SIGTERM before the kernel shows the mount: with the
	// default action such a signal would kill the process and leave a
	// dead mount behind. One that comes early unmounts once mounted.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	ttl := cfg.kernelTTL
	fsOpts := &gofs.Options{
		EntryTimeout:    &ttl,
		AttrTimeout:     &ttl,
		NegativeTimeout: &ttl,
		Logger:          fuseLog,
		MountOptions: fuse.MountOptions{
			FsName:      "bucketfs:" + cfg.source,
			Name:        "bucketfs",
			Debug:       cfg.debugFUSE,
			AllowOther:  cfg.allowOther,
			Options:     mountFlags(cfg),
			DirectMount: true,
			MaxWrite:    1 << 20,
			// Reads ahead of all files share the kernel's background
			// requests (go-fuse's default is 12): several readers at
			// once need more to keep their GETs busy.
			MaxBackground: cfg.maxBackground,
			Logger:        fuseLog,
			// READDIRPLUS: the attributes of every name come with its
			// listing (answered from it, never with a request: see
			// fs/dirhandle.go), not from a LOOKUP round trip per name.
			// Files read with direct I/O (--direct-read-min) can still be
			// mapped, shared mappings too, where the kernel offers it.
			ExtraCapabilities: fuse.CAP_DIRECT_IO_ALLOW_MMAP,
		},
	}
	notify.status("mounting at " + cfg.mountpoint)
	raw := bfs.NewRawFS(root, fsOpts)
	if mx != nil {
		raw = mx.RawFS(raw)
		watchFS(mx, fsys)
		addr, err := mx.Serve(cfg.metricsListen, logger.WithField("component", "metrics"))
		if err != nil {
			return err
		}
		logger.Infof("metrics at http://%s/metrics", addr)
	}
	server, err := fuse.NewServer(raw, cfg.mountpoint, &fsOpts.MountOptions)
	if err != nil {
		return fmt.Errorf("mount %s: %w", cfg.mountpoint, err)
	}
	go server.Serve()
	if err := server.WaitMount(); err != nil {
		server.Unmount()
		return fmt.Errorf("mount %s: %w", cfg.mountpoint, err)
	}
	if _, err := os.Stat(cfg.mountpoint); err != nil {
		server.Unmount()
		return fmt.Errorf("mount %s does not answer: %w", cfg.mountpoint, err)
	}
	if cfg.readAheadKiB > 0 {
		if err := setReadAhead(cfg.mountpoint, cfg.readAheadKiB); err != nil {
			logger.Warnf("kernel read-ahead stays at its default (128 KiB): %v", err)
		}
	}
	logger.Infof("mounted %s at %s (bucketfs %s)", cfg.source, cfg.mountpoint, version)
	report(ready, nil)
	// The stat above answered: the mount works.
	notify.ready(fmt.Sprintf("serving %s at %s", cfg.source, cfg.mountpoint))

	go unmountOnSignal(server, cfg.mountpoint, sigs, logger, notify)
	server.Wait()
	notify.stopping("unmounted " + cfg.mountpoint)
	logger.Infof("unmounted %s", cfg.mountpoint)
	return nil
}

// dataCache is a blockcache.Cache as the fs.DataCache it is.
type dataCache struct{ c *blockcache.Cache }

func (d dataCache) Wrap(src bfs.Source) bfs.Source { return d.c.Wrap(src) }

// unmountOnSignal unmounts on the first signal from sigs (SIGINT or
// SIGTERM). With files still open the mount is detached instead: open
// files finish (their uploads complete on close) and then the process
// exits. A second signal exits at once.
func unmountOnSignal(server *fuse.Server, mountpoint string, sigs <-chan os.Signal, logger *logrus.Logger, notify notifier) {
	sig := <-sigs
	logger.Infof("%v: unmounting %s", sig, mountpoint)
	notify.stopping(fmt.Sprintf("%v: unmounting %s", sig, mountpoint))
	if err := server.Unmount(); err != nil {
		logger.Warnf("unmount %s: %v; detaching it: open files are finished first", mountpoint, err)
		if err := syscall.Unmount(mountpoint, syscall.MNT_DETACH); err != nil {
			logger.Errorf("detach %s: %v", mountpoint, err)
		}
	}
	sig = <-sigs
	logger.Errorf("%v again: exiting now; uploads of files still open are lost", sig)
	os.Exit(1)
}

// mountFlags are the kernel mount options for cfg.
func mountFlags(cfg config) []string {
	var opts []string
	if cfg.fs.ReadOnly {
		opts = append(opts, "ro")
	}
	if cfg.allowOther {
		opts = append(opts, "default_permissions")
	}
	return opts
}

// ensurePath adds the standard directories to a PATH that lacks them, as
// at boot, so fusermount3 is found.
func ensurePath() {
	path := os.Getenv("PATH")
	have := map[string]bool{}
	for _, d := range filepath.SplitList(path) {
		have[d] = true
	}
	var add []string
	for _, d := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		if !have[d] {
			add = append(add, d)
		}
	}
	if len(add) > 0 {
		os.Setenv("PATH", strings.Join(append(filepath.SplitList(path), add...), string(os.PathListSeparator)))
	}
}

// watchFS registers the filesystem's own counts as metrics.
func watchFS(mx *metrics.Metrics, f *bfs.FS) {
	mx.Gauge("upload_parts_in_flight", "Upload parts (or whole PUTs) being sent now.",
		func() float64 { return float64(f.Stats().UploadPartsInFlight) })
	mx.Gauge("upload_buffered_bytes", "Bytes written by applications and not yet sent (upload part buffers).",
		func() float64 { return float64(f.Stats().UploadBytesBuffered) })
	mx.Gauge("read_buffered_bytes", "Bytes held in read chunk buffers.",
		func() float64 { return float64(f.Stats().ReadBytesBuffered) })
	for _, c := range []struct {
		name string
		get  func(bfs.Stats) cache.Stats
	}{
		{"attr", func(s bfs.Stats) cache.Stats { return s.Attrs }},
		{"listing", func(s bfs.Stats) cache.Stats { return s.Listings }},
	} {
		mx.Counter(c.name+"_cache_hits_total", "Lookups answered by the "+c.name+" cache.",
			func() float64 { return float64(c.get(f.Stats()).Hits) })
		mx.Counter(c.name+"_cache_misses_total", "Lookups the "+c.name+" cache could not answer.",
			func() float64 { return float64(c.get(f.Stats()).Misses) })
		mx.Gauge(c.name+"_cache_entries", "Entries held by the "+c.name+" cache.",
			func() float64 { return float64(c.get(f.Stats()).Entries) })
	}
}

// orDefault is s, or "the server's default" for "".
func orDefault(s string) string {
	if s == "" {
		return "the server's default"
	}
	return s
}
