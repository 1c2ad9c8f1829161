package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bucketfs/bucketfs/cache"
	"github.com/bucketfs/bucketfs/cache/blockcache"
	bfs "github.com/bucketfs/bucketfs/fs"
	"github.com/bucketfs/bucketfs/s3client"
)

// config is everything the command line says.
type config struct {
	source, mountpoint string
	s3                 s3client.Options
	creds              s3client.CredentialOptions
	fs                 bfs.Options
	cache              cache.Options
	dataCache          blockcache.Options // on when Dir is set
	kernelTTL          time.Duration
	caFile             string
	sse                string // --sse
	sseCKeyFile        string // --sse-c-key-file
	allowOther         bool
	readAheadKiB       int
	maxBackground      int

	foreground   bool // -f: stay attached even as a mount helper
	daemon       bool // --daemon, or run as a mount helper
	unmountStale bool

	logLevel  string
	logFile   string
	debugS3   bool
	debugFUSE bool

	metricsListen string // --metrics-listen: serve Prometheus metrics there
}

// errVersion asks main to print the version.
var errVersion = errors.New("version requested")

// newFlagSet declares every option on cfg. Each is also accepted as
// "-o name=value" (or "-o name" for a flag), with "_" for "-".
func newFlagSet(cfg *config) *flag.FlagSet {
	fl := flag.NewFlagSet("bucketfs", flag.ContinueOnError)
	fl.SetOutput(io.Discard) // errors are returned; --help prints usage itself

	// S3 connection.
	fl.StringVar(&cfg.s3.Endpoint, "endpoint", "https://s3.amazonaws.com", "S3 endpoint `URL`, e.g. http://127.0.0.1:7480 (Ceph RGW), http://127.0.0.1:9000 (MinIO)")
	fl.StringVar(&cfg.s3.Region, "region", "us-east-1", "`region` used in signatures and for new buckets")
	fl.StringVar(&cfg.s3.Signature, "signature", "auto", "signature `version`: v2, v4, or auto (v4, falling back to v2 if the server rejects v4)")
	fl.StringVar(&cfg.s3.Addressing, "addressing", "auto", "bucket `style`: path (host/bucket/key), virtual (bucket.host/key), or auto (virtual on AWS, else path)")
	fl.StringVar(&cfg.caFile, "ca-file", "", "PEM `file` of CA certificates to trust besides the system's (AWS_CA_BUNDLE is honoured too)")
	fl.BoolVar(&cfg.s3.InsecureSkipVerify, "insecure-skip-verify", false, "do not verify the server's TLS certificate (unsafe; for tests)")

	// Encryption and storage class.
	fl.StringVar(&cfg.sse, "sse", "", "server-side encryption of the objects written: `mode` AES256 (SSE-S3) or aws:kms (SSE-KMS) (default: the bucket's)")
	fl.StringVar(&cfg.s3.Encryption.KMSKeyID, "sse-kms-key-id", "", "SSE-KMS key `id` (implies --sse aws:kms; default: the server's key)")
	fl.StringVar(&cfg.sseCKeyFile, "sse-c-key-file", "", "SSE-C: encrypt and read every object with the 32-byte key in `file` (raw, text or base64; mode 0600; needs https)")
	fl.StringVar(&cfg.s3.StorageClass, "storage-class", "", "storage `class` of the objects written, e.g. STANDARD_IA (default: the server's)")

	// Credentials.
	fl.StringVar(&cfg.creds.PasswdFile, "passwd-file", "", "s3fs-format credentials `file`: ACCESS:SECRET or BUCKET:ACCESS:SECRET lines, mode 0600")
	fl.StringVar(&cfg.creds.Profile, "profile", "", "`name` of a profile of ~/.aws/config and ~/.aws/credentials (default: AWS_PROFILE, else \"default\")")
	fl.BoolVar(&cfg.creds.Anonymous, "anonymous", false, "send unsigned requests (public buckets)")

	// Files.
	cfg.fs.UID, cfg.fs.GID = uint32(os.Getuid()), uint32(os.Getgid())
	fl.Var(uintValue{&cfg.fs.UID, 10}, "uid", "owner `uid` of objects without uid metadata (default: the mounting user)")
	fl.Var(uintValue{&cfg.fs.GID, 10}, "gid", "`gid` of objects without gid metadata (default: the mounting user's group)")
	cfg.fs.Umask = 0o022
	fl.Var(uintValue{&cfg.fs.Umask, 8}, "umask", "octal `mask` taken from the default modes (default 022)")
	fl.Var(uintValue{&cfg.fs.FileMode, 8}, "file-mode", "octal `mode` of files without mode metadata (default 0666 less umask)")
	fl.Var(uintValue{&cfg.fs.DirMode, 8}, "dir-mode", "octal `mode` of directories without mode metadata (default 0777 less umask)")
	fl.BoolVar(&cfg.fs.ReadOnly, "read-only", false, "mount read-only: every change fails with EROFS (also -o ro)")
	fl.BoolVar(&cfg.allowOther, "allow-other", false, "let other users use the mount; the kernel then checks permissions")
	fl.BoolVar(&cfg.fs.StatHead, "stat-head", true, "HEAD each object looked up for its mode, owner and mtime; false takes attributes from listings alone (fewer requests)")

	// Cache.
	fl.DurationVar(&cfg.cache.TTL, "cache-ttl", cache.DefaultTTL, "how long attributes and listings stay cached (`duration`)")
	fl.DurationVar(&cfg.cache.NegativeTTL, "negative-cache-ttl", cache.DefaultNegativeTTL, "how long a missing name stays cached (`duration`)")
	fl.IntVar(&cfg.cache.Size, "cache-size", cache.DefaultSize, "`number` of names the cache holds")
	fl.StringVar(&cfg.dataCache.Dir, "cache-dir", "", "keep blocks of the objects read in this `directory` (created 0700), so re-reads, also after a remount, cost no request (default: no data cache)")
	fl.Var(sizeValue{&cfg.dataCache}, "cache-max-size", fmt.Sprintf("most bytes the data cache uses on disk: `size` in bytes with an optional K, M, G or T suffix, or N%% of the free space of --cache-dir's filesystem (default %dG)", blockcache.DefaultMaxSize>>30))
	fl.DurationVar(&cfg.kernelTTL, "kernel-cache-ttl", time.Second, "how long the kernel caches names and attributes (`duration`)")

	// Uploads.
	fl.Int64Var(&cfg.fs.Write.PartSize, "part-size", bfs.DefaultPartSize, "multipart part size in `bytes` (at least 5 MiB)")
	fl.IntVar(&cfg.fs.Write.Parallel, "upload-parallel", bfs.DefaultParallel, "`number` of parts of one file uploaded at once")
	fl.DurationVar(&cfg.fs.AbortStaleUploads, "abort-stale-uploads", bfs.DefaultAbortStaleUploads, "abort the multipart uploads a dead earlier run left behind once older than this `duration` (0: record and abort none)")
	fl.StringVar(&cfg.fs.StateDir, "state-dir", bfs.DefaultStateDir(), "`directory` of the journals of this run's multipart uploads (created 0700)")

	fl.Int64Var(&cfg.fs.MaxMemory, "max-memory", bfs.DefaultMaxMemory, "`bytes` of buffers (upload parts, read-ahead) for the whole mount; writers wait for room, reads ahead shrink")

	// Reads.
	fl.IntVar(&cfg.maxBackground, "max-background", 64, "`number` of FUSE requests the kernel may have in flight in the background (reads ahead of all files)")
	fl.IntVar(&cfg.readAheadKiB, "read-ahead-kib", 4096, "kernel read-ahead of the mount in `KiB` (sysfs read_ahead_kb; 0 leaves the kernel's 128)")
	fl.Int64Var(&cfg.fs.Read.ChunkSize, "read-chunk", bfs.DefaultChunkSize, "size of one ranged GET of a sequential read, `bytes`")
	fl.IntVar(&cfg.fs.Read.MaxAhead, "read-ahead-chunks", bfs.DefaultMaxAhead, "most `number` of GETs in flight ahead of one sequential reader")
	fl.Int64Var(&cfg.fs.Read.MaxAheadMemory, "read-ahead-memory", bfs.DefaultMaxAheadMemory, "most `bytes` of read chunks all readers hold together before reads ahead are left out (many files read at once share it)")
	fl.Int64Var(&cfg.fs.Read.DirectMin, "direct-read-min", bfs.DefaultDirectMin, "read-only opens of files of at least this many `bytes` bypass the kernel's page cache: one copy less per byte, but re-reads cost GETs (0: never)")
	fl.BoolVar(&cfg.fs.Read.Verify, "verify-md5", false, "check whole in-order reads of single-PUT objects against their ETag (MD5); a mismatch is EIO (costs CPU: MD5 runs at ~600 MB/s)")

	// Time limits.
	fl.DurationVar(&cfg.s3.RequestTimeout, "request-timeout", s3client.DefaultRequestTimeout, "longest wait for an S3 answer, retries included (`duration`); after an upload's last byte, for its answer")
	fl.DurationVar(&cfg.s3.UploadTimeout, "upload-timeout", s3client.DefaultUploadTimeout, "longest an upload (PUT, part, multipart completion) is retried, from its first attempt (`duration`); the default outlasts a distributed MinIO's hold on a write whose lock a killed node held (up to 2 min)")
	fl.DurationVar(&cfg.s3.IdleTimeout, "idle-timeout", s3client.DefaultIdleTimeout, "a body sent or received that moves no byte for this `duration` fails the attempt, which is retried")
	fl.StringVar(&cfg.fs.Write.TempDir, "temp-dir", "", "`directory` for staging partially rewritten files (default $TMPDIR)")

	// Running.
	fl.BoolVar(&cfg.foreground, "f", false, "stay in the foreground (same as --foreground)")
	fl.BoolVar(&cfg.foreground, "foreground", false, "stay in the foreground, even when run as a mount helper")
	fl.BoolVar(&cfg.daemon, "daemon", false, "detach once the mount works (the default when run from fstab)")
	fl.BoolVar(&cfg.unmountStale, "unmount-stale", false, "if MOUNTPOINT is a dead FUSE mount (\"transport endpoint is not connected\"), detach it first")
	fl.StringVar(&cfg.logLevel, "log-level", "info", "`level`: debug, info, warn or error")
	fl.StringVar(&cfg.logFile, "log-file", "", "append logs to `file` (default stderr; syslog when daemonized)")
	fl.BoolVar(&cfg.debugS3, "debug-s3", false, "log one line per S3 request: method, bucket, key, status, bytes, ms, request id")
	fl.BoolVar(&cfg.debugFUSE, "debug-fuse", false, "log every FUSE request (go-fuse trace)")
	fl.StringVar(&cfg.metricsListen, "metrics-listen", "", "serve Prometheus metrics at http://`ADDR`/metrics: HOST:PORT, or PORT alone for 127.0.0.1:PORT")
	return fl
}

// optionAliases are -o names from s3fs, rclone and mount(8) for ours.
var optionAliases = map[string]string{
	"ro":                     "read-only",
	"url":                    "endpoint",
	"passwd_file":            "passwd-file",
	"allow_other":            "allow-other",
	"use_path_request_style": "addressing=path",
	"sigv2":                  "signature=v2",
	"sigv4":                  "signature=v4",
	"public_bucket":          "anonymous",
	"endpoint_region":        "region",
	"use_cache":              "cache-dir",
	"storage_class":          "storage-class",
}

// mountOnlyOptions are accepted and ignored: mount(8) and systemd use
// them, or they are the kernel's own defaults.
var mountOnlyOptions = map[string]bool{
	"_netdev": true, "nofail": true, "auto": true, "noauto": true, "user": true, "nouser": true,
	"users": true, "rw": true, "dev": true, "nodev": true, "suid": true, "nosuid": true,
	"exec": true, "noexec": true, "defaults": true, "async": true, "atime": true,
	"noatime": true, "relatime": true, "norelatime": true, "strictatime": true, "nodiratime": true,
	"diratime": true, "owner": true, "group": true, "comment": true, "loud": true, "silent": true,
}

// isMountOnly reports whether an -o item is for mount(8), not for us.
func isMountOnly(name string) bool {
	return mountOnlyOptions[name] || strings.HasPrefix(name, "x-systemd.") ||
		strings.HasPrefix(name, "x-") || strings.HasPrefix(name, "comment=")
}

// applyO sets the options of one "-o a=b,c" list on fl. It returns
// whether any mount-only option was present (we then run as a helper).
func applyO(fl *flag.FlagSet, list string) (sawMountOnly bool, err error) {
	var unknown []string
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, value, hasValue := strings.Cut(item, "=")
		if isMountOnly(name) {
			sawMountOnly = true
			continue
		}
		if alias, ok := optionAliases[name]; ok {
			if n, v, ok := strings.Cut(alias, "="); ok {
				name, value, hasValue = n, v, true
			} else {
				name = alias
			}
		}
		name = strings.ReplaceAll(name, "_", "-")
		f := fl.Lookup(name)
		if f == nil || name == "f" || name == "o" || name == "V" || name == "version" {
			unknown = append(unknown, item)
			continue
		}
		if !hasValue {
			if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); !isBool {
				return sawMountOnly, fmt.Errorf("option %q needs a value (-o %s=...)", name, name)
			}
			value = "true"
		}
		if err := fl.Set(name, value); err != nil {
			return sawMountOnly, fmt.Errorf("option %s: %v", name, err)
		}
	}
	if len(unknown) > 0 {
		return sawMountOnly, fmt.Errorf("unknown option(s): %s (see bucketfs --help)", strings.Join(unknown, ", "))
	}
	return sawMountOnly, nil
}

// parseArgs reads options (before, between or after the two arguments,
// as --name value, --name=value or -o name=value,...).
func parseArgs(args []string) (config, error) {
	var cfg config
	fl := newFlagSet(&cfg)
	helper := false
	fl.Func("o", "comma-separated `options` in mount style: -o endpoint=URL,ro,allow_other", func(list string) error {
		saw, err := applyO(fl, list)
		helper = helper || saw
		return err
	})
	version := fl.Bool("version", false, "print the version and exit")
	fl.BoolVar(version, "V", false, "print the version and exit")
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
	if *version {
		return cfg, errVersion
	}
	if len(positional) != 2 {
		return cfg, fmt.Errorf("want SOURCE and MOUNTPOINT, got %d argument(s) %q (see bucketfs --help)", len(positional), positional)
	}
	cfg.source, cfg.mountpoint = positional[0], positional[1]
	cfg.daemon = (cfg.daemon || helper) && !cfg.foreground
	return cfg, cfg.resolve()
}

// resolve checks the options and derives what they imply.
func (cfg *config) resolve() error {
	bucket, prefix, _ := strings.Cut(cfg.source, ":")
	prefix = strings.Trim(prefix, "/")
	switch {
	case cfg.source == "/":
		bucket = "" // the whole endpoint
	case bucket == "":
		return fmt.Errorf("empty bucket name in %q", cfg.source)
	case strings.Contains(bucket, "/"):
		return fmt.Errorf("bad SOURCE %q: want BUCKET, BUCKET:/PREFIX or /", cfg.source)
	}
	if prefix != "" {
		prefix += "/"
	}
	cfg.fs.Bucket, cfg.fs.Prefix = bucket, prefix
	cfg.creds.Bucket = bucket
	for _, f := range []string{os.Getenv("AWS_CA_BUNDLE"), cfg.caFile} {
		if f != "" {
			cfg.s3.CAFiles = append(cfg.s3.CAFiles, f)
		}
	}
	if err := cfg.fs.Write.Check(); err != nil {
		return fmt.Errorf("--part-size: %w", err)
	}
	if cfg.fs.Read.DirectMin < 0 {
		return fmt.Errorf("--direct-read-min must not be negative (0 turns it off)")
	}
	if cfg.fs.MaxMemory <= 0 {
		return fmt.Errorf("--max-memory must be positive")
	}
	if cfg.s3.RequestTimeout <= 0 || cfg.s3.IdleTimeout <= 0 || cfg.s3.UploadTimeout <= 0 {
		return fmt.Errorf("--request-timeout, --upload-timeout and --idle-timeout must be positive")
	}
	if cfg.fs.AbortStaleUploads < 0 {
		return fmt.Errorf("--abort-stale-uploads must not be negative (0 turns it off)")
	}
	if cfg.fs.StateDir != "" {
		dir, err := filepath.Abs(cfg.fs.StateDir) // the daemon runs in /
		if err != nil {
			return fmt.Errorf("--state-dir: %w", err)
		}
		cfg.fs.StateDir = dir
	}
	if cfg.dataCache.Dir == "" && (cfg.dataCache.MaxSize > 0 || cfg.dataCache.MaxPercent > 0) {
		return fmt.Errorf("--cache-max-size needs --cache-dir")
	}
	if cfg.dataCache.Dir != "" {
		dir, err := filepath.Abs(cfg.dataCache.Dir)
		if err != nil {
			return fmt.Errorf("--cache-dir: %w", err)
		}
		cfg.dataCache.Dir = dir
	}
	if err := cfg.resolveEncryption(); err != nil {
		return err
	}
	cfg.fs.Endpoint = cfg.s3.Endpoint
	return nil
}

// resolveEncryption reads --sse, --sse-kms-key-id, --sse-c-key-file and
// --storage-class into cfg.s3; s3client.New checks the rest (SSE-C
// needs https).
func (cfg *config) resolveEncryption() error {
	enc := &cfg.s3.Encryption
	switch strings.ToLower(cfg.sse) {
	case "":
		if enc.KMSKeyID != "" {
			enc.Mode = s3client.SSEKMS
		}
	case "aes256", "sse-s3":
		enc.Mode = s3client.SSES3
	case "aws:kms", "sse-kms", "kms":
		enc.Mode = s3client.SSEKMS
	default:
		return fmt.Errorf("--sse %q: want AES256 (SSE-S3) or aws:kms (SSE-KMS); SSE-C is --sse-c-key-file", cfg.sse)
	}
	if enc.KMSKeyID != "" && enc.Mode != s3client.SSEKMS {
		return fmt.Errorf("--sse-kms-key-id is for --sse aws:kms, not %s", cfg.sse)
	}
	if cfg.sseCKeyFile != "" {
		if enc.Mode != s3client.SSENone {
			return fmt.Errorf("--sse-c-key-file and --sse %s: choose one kind of server-side encryption", cfg.sse)
		}
		key, err := s3client.ReadCustomerKeyFile(cfg.sseCKeyFile)
		if err != nil {
			return fmt.Errorf("--sse-c-key-file: %w", err)
		}
		enc.Mode, enc.CustomerKey = s3client.SSEC, key
		if !strings.HasPrefix(strings.ToLower(cfg.s3.Endpoint), "https://") {
			return fmt.Errorf("--sse-c-key-file needs an https:// --endpoint: SSE-C sends the key with every request, and %s is plain HTTP", cfg.s3.Endpoint)
		}
	}
	for _, r := range cfg.s3.StorageClass {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("--storage-class %q: want a class name such as STANDARD_IA", cfg.s3.StorageClass)
		}
	}
	return nil
}

// sizeValue is the flag.Value of --cache-max-size: bytes with an
// optional K, M, G or T suffix (powers of 1024), or a percentage.
type sizeValue struct{ o *blockcache.Options }

func (v sizeValue) String() string {
	switch {
	case v.o == nil:
		return ""
	case v.o.MaxPercent > 0:
		return strconv.FormatFloat(v.o.MaxPercent, 'g', -1, 64) + "%"
	case v.o.MaxSize > 0:
		return strconv.FormatInt(v.o.MaxSize, 10)
	}
	return ""
}

func (v sizeValue) Set(s string) error {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f <= 0 || f > 100 {
			return fmt.Errorf("want a percentage in (0, 100], got %q", s)
		}
		v.o.MaxPercent, v.o.MaxSize = f, 0
		return nil
	}
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	v.o.MaxSize, v.o.MaxPercent = n, 0
	return nil
}

// parseSize reads "123", "512K", "64M", "4G", "1T" (also "4GiB", "4GB":
// powers of 1024 all the same).
func parseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B"), "I")
	mult := int64(1)
	if t != "" {
		if i := strings.IndexByte("KMGT", t[len(t)-1]); i >= 0 {
			mult = 1 << (10 * (i + 1))
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("want a positive size in bytes, with an optional K, M, G or T suffix, or N%%, got %q", s)
	}
	return n * mult, nil
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
