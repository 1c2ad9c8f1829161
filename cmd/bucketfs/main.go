// Command bucketfs mounts an S3 bucket as a directory.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/sirupsen/logrus"

	"github.com/bucketfs/bucketfs/cache"
	bfs "github.com/bucketfs/bucketfs/fs"
	"github.com/bucketfs/bucketfs/s3client"
)

const usage = `Usage: bucketfs [options] BUCKET[:/PREFIX] MOUNTPOINT
       bucketfs [options] / MOUNTPOINT

Mounts an S3 bucket (or the keys under PREFIX in it; or with "/" the whole
endpoint, one directory per bucket) at MOUNTPOINT and serves it in the
foreground until SIGINT/SIGTERM or umount.

Credentials come from, in order: --passwd-file, --profile, the environment
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), AWS_PROFILE,
~/.passwd-s3fs, /etc/passwd-s3fs, the default profile of ~/.aws/credentials;
without any, requests are anonymous.

Example:
  AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \
    bucketfs --endpoint http://127.0.0.1:9000 mybucket /mnt/mybucket

Options:
`

// config is everything the command line says.
type config struct {
	source, mountpoint string
	s3                 s3client.Options
	creds              s3client.CredentialOptions
	fs                 bfs.Options
	cache              cache.Options
	entryTimeout       time.Duration
	logLevel           string
	debugFUSE          bool
	allowOther         bool
}

// uintValue is a flag.Value for a uint32 in a base (8 for modes).
type uintValue struct {
	p    *uint32
	base int
}

func (v uintValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.FormatUint(uint64(*v.p), v.base)
}

func (v uintValue) Set(s string) error {
	n, err := strconv.ParseUint(s, v.base, 32)
	if err != nil {
		return fmt.Errorf("want a base-%d number", v.base)
	}
	*v.p = uint32(n)
	return nil
}

func main() {
	cfg, err := parseArgs(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bucketfs: %v\n", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "bucketfs: %v\n", err)
		os.Exit(1)
	}
}

// parseArgs reads flags (before, between or after the two arguments).
func parseArgs(args []string) (config, error) {
	var cfg config
	fl := flag.NewFlagSet("bucketfs", flag.ContinueOnError)
	fl.Usage = func() {
		fmt.Fprint(fl.Output(), usage)
		fl.PrintDefaults()
	}
	fl.StringVar(&cfg.s3.Endpoint, "endpoint", "https://s3.amazonaws.com", "S3 endpoint URL, e.g. http://127.0.0.1:9000")
	fl.StringVar(&cfg.s3.Region, "region", "us-east-1", "region used in signatures")
	fl.StringVar(&cfg.s3.Signature, "signature", "auto", "signature version: v2, v4, or auto (v4, falling back to v2 if the server rejects it)")
	fl.StringVar(&cfg.s3.Addressing, "addressing", "auto", "bucket addressing: path (http://host/bucket/key), virtual (http://bucket.host/key), or auto (virtual on AWS, else path)")
	caFile := fl.String("ca-file", "", "PEM file of CA certificates to trust besides the system's (AWS_CA_BUNDLE is also honoured)")
	fl.StringVar(&cfg.creds.Profile, "profile", "", "profile in ~/.aws/credentials (default: AWS_PROFILE, else \"default\")")
	fl.StringVar(&cfg.creds.PasswdFile, "passwd-file", "", "s3fs-format credentials file (ACCESS:SECRET or BUCKET:ACCESS:SECRET, mode 0600)")
	fl.BoolVar(&cfg.creds.Anonymous, "anonymous", false, "send unsigned requests (public buckets)")
	fl.BoolVar(&cfg.s3.InsecureSkipVerify, "insecure-skip-verify", false, "do not verify the server's TLS certificate (unsafe)")
	fl.DurationVar(&cfg.cache.TTL, "cache-ttl", 30*time.Second, "how long file attributes stay cached")
	fl.DurationVar(&cfg.cache.NegativeTTL, "negative-cache-ttl", 5*time.Second, "how long a missing name stays cached")
	fl.IntVar(&cfg.cache.Size, "cache-size", 100000, "number of names in the attribute cache")
	fl.DurationVar(&cfg.entryTimeout, "kernel-cache-ttl", time.Second, "how long the kernel caches names and attributes")
	cfg.fs.UID, cfg.fs.GID = uint32(os.Getuid()), uint32(os.Getgid())
	fl.Var(uintValue{&cfg.fs.UID, 10}, "uid", "owner of objects without uid metadata (default: the mounting user)")
	fl.Var(uintValue{&cfg.fs.GID, 10}, "gid", "group of objects without gid metadata (default: the mounting user's group)")
	cfg.fs.Umask = 0o022
	fl.Var(uintValue{&cfg.fs.Umask, 8}, "umask", "umask applied to the default modes (octal) (default 022)")
	fl.Var(uintValue{&cfg.fs.FileMode, 8}, "file-mode", "permissions of files without mode metadata (octal; default 0666 less umask)")
	fl.Var(uintValue{&cfg.fs.DirMode, 8}, "dir-mode", "permissions of directories without mode metadata (octal; default 0777 less umask)")
	fl.BoolVar(&cfg.fs.ReadOnly, "read-only", false, "mount read-only: every change fails with EROFS")
	fl.BoolVar(&cfg.allowOther, "allow-other", false, "let other users access the mount (and check permissions)")
	fl.BoolVar(&cfg.fs.StatHead, "stat-head", true, "HEAD objects on lookup for mode/owner/mtime metadata; false serves attributes from listings only (faster)")
	fl.Int64Var(&cfg.fs.Write.PartSize, "part-size", 8<<20, "multipart upload part size in bytes (at least 5 MiB)")
	fl.IntVar(&cfg.fs.Write.Parallel, "upload-parallel", 4, "parts of one file uploaded at once")
	fl.StringVar(&cfg.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.BoolVar(&cfg.debugFUSE, "debug-fuse", false, "log every FUSE request")
	fl.BoolVar(new(bool), "f", true, "stay in the foreground (the only mode for now)")
	var positional []string
	for {
		if err := fl.Parse(args); err != nil {
			return cfg, err
		}
		args = fl.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if len(positional) != 2 {
		fl.Usage()
		return cfg, fmt.Errorf("want BUCKET and MOUNTPOINT, got %d arguments", len(positional))
	}
	cfg.source, cfg.mountpoint = positional[0], positional[1]
	for _, f := range []string{os.Getenv("AWS_CA_BUNDLE"), *caFile} {
		if f != "" {
			cfg.s3.CAFiles = append(cfg.s3.CAFiles, f)
		}
	}
	bucket, prefix, _ := strings.Cut(cfg.source, ":")
	prefix = strings.Trim(prefix, "/")
	switch {
	case cfg.source == "/":
		bucket = "" // the whole endpoint
	case bucket == "":
		return cfg, fmt.Errorf("empty bucket name in %q", cfg.source)
	}
	if prefix != "" {
		prefix += "/"
	}
	cfg.fs.Bucket, cfg.fs.Prefix = bucket, prefix
	cfg.creds.Bucket = bucket
	return cfg, nil
}

func run(cfg config) error {
	logger := logrus.New()
	logger.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	level, err := logrus.ParseLevel(cfg.logLevel)
	if err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger.SetLevel(level)

	cred, source, err := s3client.ResolveCredentials(cfg.creds)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	cfg.s3.Credentials = cred
	logger.Infof("credentials: %s", source)
	cfg.s3.Log = logger.WithField("component", "s3client")
	client, err := s3client.New(cfg.s3)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if cfg.fs.Bucket == "" {
		_, err = client.ListBuckets(ctx)
	} else {
		err = client.HeadBucket(ctx, cfg.fs.Bucket)
	}
	cancel()
	if err != nil {
		return fmt.Errorf("cannot mount %q from %s: %w", cfg.source, cfg.s3.Endpoint, err)
	}

	_, root := bfs.New(client, cfg.cache, cfg.fs, logger.WithField("component", "fs"))
	fuseLog := logger.WithField("component", "fuse")
	timeout := cfg.entryTimeout
	server, err := gofs.Mount(cfg.mountpoint, root, &gofs.Options{
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &timeout,
		Logger:          log.New(fuseLog.WriterLevel(logrus.DebugLevel), "", 0),
		MountOptions: fuse.MountOptions{
			FsName:     "bucketfs:" + cfg.source,
			Name:       "bucketfs",
			Debug:      cfg.debugFUSE,
			AllowOther: cfg.allowOther,
			Options:    mountFlags(cfg),
			// Lookups HEAD objects; READDIRPLUS would do that for every entry
			// of every listing, even for a plain ls.
			DisableReadDirPlus: true,
			DirectMount:        true,
			MaxWrite:           1 << 20,
			Logger:             log.New(fuseLog.WriterLevel(logrus.DebugLevel), "", 0),
		},
	})
	if err != nil {
		return fmt.Errorf("mount %s: %w", cfg.mountpoint, err)
	}
	logger.Infof("mounted %s at %s", cfg.source, cfg.mountpoint)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		for sig := range sigs {
			logger.Infof("%v: unmounting %s", sig, cfg.mountpoint)
			if err := server.Unmount(); err != nil {
				// Busy: detach now, finish open files, then exit.
				logger.Warnf("unmount: %v; detaching lazily", err)
				if err := syscall.Unmount(cfg.mountpoint, syscall.MNT_DETACH); err != nil {
					logger.Errorf("lazy unmount: %v", err)
				}
			}
		}
	}()
	server.Wait()
	logger.Infof("unmounted %s", cfg.mountpoint)
	return nil
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
