package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bfs "github.com/bucketfs/bucketfs/fs"
	"github.com/bucketfs/bucketfs/s3client"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, cfg config)
	}{
		{"flags before", []string{"--endpoint", "http://127.0.0.1:7480", "--signature=v2", "b", "/mnt"}, func(t *testing.T, cfg config) {
			want(t, cfg.s3.Endpoint, "http://127.0.0.1:7480")
			want(t, cfg.s3.Signature, "v2")
			want(t, cfg.fs.Bucket, "b")
			want(t, cfg.mountpoint, "/mnt")
			want(t, cfg.daemon, false)
		}},
		{"flags between and after", []string{"b:/some/prefix/", "--read-only", "/mnt", "--cache-ttl", "2s"}, func(t *testing.T, cfg config) {
			want(t, cfg.fs.Bucket, "b")
			want(t, cfg.fs.Prefix, "some/prefix/")
			want(t, cfg.fs.ReadOnly, true)
			want(t, cfg.cache.TTL, 2*time.Second)
		}},
		{"whole endpoint", []string{"/", "/mnt"}, func(t *testing.T, cfg config) {
			want(t, cfg.fs.Bucket, "")
			want(t, cfg.creds.Bucket, "")
		}},
		{"-o as from mount.fuse3", []string{"b", "/mnt", "-o", "rw,dev,suid,endpoint=http://h:1,passwd_file=/etc/p,umask=077,uid=1000,allow_other,ro"}, func(t *testing.T, cfg config) {
			want(t, cfg.s3.Endpoint, "http://h:1")
			want(t, cfg.creds.PasswdFile, "/etc/p")
			want(t, cfg.fs.Umask, uint32(0o077))
			want(t, cfg.fs.UID, uint32(1000))
			want(t, cfg.allowOther, true)
			want(t, cfg.fs.ReadOnly, true)
			want(t, cfg.daemon, true) // mount-only options: run as a helper
		}},
		{"-o helper but foreground", []string{"-f", "b", "/mnt", "-o", "_netdev,nofail,x-systemd.automount,noauto,users"}, func(t *testing.T, cfg config) {
			want(t, cfg.daemon, false)
			want(t, cfg.foreground, true)
		}},
		{"s3fs aliases", []string{"b", "/mnt", "-o", "url=http://h:2,use_path_request_style,sigv2"}, func(t *testing.T, cfg config) {
			want(t, cfg.s3.Endpoint, "http://h:2")
			want(t, cfg.s3.Addressing, "path")
			want(t, cfg.s3.Signature, "v2")
		}},
		{"-o with dashes and booleans", []string{"-o", "stat-head=false,debug_s3,log-level=debug", "b", "/mnt"}, func(t *testing.T, cfg config) {
			want(t, cfg.fs.StatHead, false)
			want(t, cfg.debugS3, true)
			want(t, cfg.logLevel, "debug")
		}},
		{"stale uploads by default", []string{"--endpoint", "http://h:3", "b", "/mnt"}, func(t *testing.T, cfg config) {
			want(t, cfg.fs.AbortStaleUploads, bfs.DefaultAbortStaleUploads)
			want(t, cfg.fs.StateDir, bfs.DefaultStateDir())
			want(t, cfg.fs.Endpoint, "http://h:3")
		}},
		{"stale uploads as -o", []string{"b", "/mnt", "-o", "abort_stale_uploads=1h,state_dir=/srv/state"}, func(t *testing.T, cfg config) {
			want(t, cfg.fs.AbortStaleUploads, time.Hour)
			want(t, cfg.fs.StateDir, "/srv/state")
		}},
		{"stale uploads off", []string{"--abort-stale-uploads", "0", "b", "/mnt"}, func(t *testing.T, cfg config) {
			want(t, cfg.fs.AbortStaleUploads, time.Duration(0))
		}},
		{"daemon flag", []string{"--daemon", "b", "/mnt"}, func(t *testing.T, cfg config) {
			want(t, cfg.daemon, true)
		}},
		{"data cache", []string{"--cache-dir", "/var/cache/b", "--cache-max-size", "512M", "b", "/mnt"}, func(t *testing.T, cfg config) {
			want(t, cfg.dataCache.Dir, "/var/cache/b")
			want(t, cfg.dataCache.MaxSize, int64(512<<20))
			want(t, cfg.dataCache.MaxPercent, 0.0)
		}},
		{"data cache as a percentage, s3fs's use_cache", []string{"b", "/mnt", "-o", "use_cache=/c,cache_max_size=25%"}, func(t *testing.T, cfg config) {
			want(t, cfg.dataCache.Dir, "/c")
			want(t, cfg.dataCache.MaxPercent, 25.0)
			want(t, cfg.dataCache.MaxSize, int64(0))
		}},
		{"data cache sizes", []string{"--cache-dir=/c", "--cache-max-size", "2GiB", "b", "/mnt"}, func(t *testing.T, cfg config) {
			want(t, cfg.dataCache.MaxSize, int64(2<<30))
		}},
		{"defaults", []string{"b", "/mnt"}, func(t *testing.T, cfg config) {
			want(t, cfg.dataCache.Dir, "")
			want(t, cfg.fs.StatHead, true)
			want(t, cfg.fs.Umask, uint32(0o022))
			want(t, cfg.fs.Write.PartSize, int64(8<<20))
			want(t, cfg.s3.Signature, "auto")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseArgs(tt.args)
			if err != nil {
				t.Fatalf("parseArgs(%q): %v", tt.args, err)
			}
			tt.check(t, cfg)
		})
	}
}

func want[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestParseArgsErrors(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"b"}, "want SOURCE and MOUNTPOINT"},
		{[]string{"b", "/mnt", "extra"}, "want SOURCE and MOUNTPOINT"},
		{[]string{"b", "/mnt", "-o", "rw,frobnicate,colour=blue"}, "unknown option(s): frobnicate, colour=blue"},
		{[]string{"b", "/mnt", "-o", "endpoint"}, `option "endpoint" needs a value`},
		{[]string{"b", "/mnt", "-o", "umask=999"}, "option umask"},
		{[]string{"--no-such-flag", "b", "/mnt"}, "no-such-flag"},
		{[]string{":/x", "/mnt"}, "empty bucket name"},
		{[]string{"a/b", "/mnt"}, "bad SOURCE"},
		{[]string{"--abort-stale-uploads=-1s", "b", "/mnt"}, "must not be negative"},
		{[]string{"--part-size", "1000", "b", "/mnt"}, "at least 5 MiB"},
		{[]string{"--cache-dir=/c", "--cache-max-size", "lots", "b", "/mnt"}, "want a positive size"},
		{[]string{"--cache-dir=/c", "--cache-max-size", "0", "b", "/mnt"}, "want a positive size"},
		{[]string{"--cache-dir=/c", "--cache-max-size", "150%", "b", "/mnt"}, "want a percentage"},
		{[]string{"--cache-max-size", "1G", "b", "/mnt"}, "needs --cache-dir"},
	}
	for _, tt := range tests {
		_, err := parseArgs(tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("parseArgs(%q): got %v, want an error containing %q", tt.args, err, tt.wantErr)
		}
	}
	if _, err := parseArgs([]string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: got %v, want flag.ErrHelp", err)
	}
	if _, err := parseArgs([]string{"--version"}); !errors.Is(err, errVersion) {
		t.Errorf("--version: got %v, want errVersion", err)
	}
}

func TestHelperArgs(t *testing.T) {
	tests := []struct {
		in       []string
		want     []string
		wantFake bool
	}{
		{[]string{"b", "/mnt", "-o", "rw,endpoint=http://h"}, []string{"b", "/mnt", "-o", "rw,endpoint=http://h"}, false},
		{[]string{"b", "/mnt", "-n", "-s", "-v", "-o", "x", "-t", "bucketfs"}, []string{"b", "/mnt", "-o", "x"}, false},
		{[]string{"b", "/mnt", "-sfnv", "-o", "x"}, []string{"b", "/mnt", "-o", "x"}, true},
		{[]string{"b", "/mnt", "-f"}, []string{"b", "/mnt"}, true},
	}
	for _, tt := range tests {
		got, fake := helperArgs(tt.in)
		if !reflect.DeepEqual(got, tt.want) || fake != tt.wantFake {
			t.Errorf("helperArgs(%q): got %q, %v; want %q, %v", tt.in, got, fake, tt.want, tt.wantFake)
		}
	}
	for argv0, want := range map[string]bool{"/sbin/mount.bucketfs": true, "mount.bucketfs": true, "/usr/local/bin/bucketfs": false} {
		if got := asMountHelper(argv0); got != want {
			t.Errorf("asMountHelper(%q): got %v, want %v", argv0, got, want)
		}
	}
}

func TestChildArgsAbsoluteMountpoint(t *testing.T) {
	cfg := config{mountpoint: "rel/mnt"}
	got := childArgs([]string{"b", "rel/mnt", "-o", "rw"}, cfg)
	if !strings.HasPrefix(got[1], "/") || !strings.HasSuffix(got[1], "/rel/mnt") {
		t.Errorf("childArgs: got %q, want an absolute mount point", got)
	}
}

func TestChildArgsAbsoluteCacheDir(t *testing.T) {
	// The child runs in /: a relative --cache-dir must reach it absolute.
	args := []string{"b", "/mnt", "--cache-dir", "rel/cache"}
	cfg, err := parseArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	got := childArgs(args, cfg)
	last := got[len(got)-1]
	if d, ok := strings.CutPrefix(last, "--cache-dir="); !ok || !strings.HasPrefix(d, "/") || !strings.HasSuffix(d, "/rel/cache") {
		t.Errorf("childArgs: got %q, want an absolute --cache-dir last", got)
	}
}

func TestChildArgsAbsolutePaths(t *testing.T) {
	// Every relative path option reaches the child (which runs in /)
	// absolute, after the original (later options win).
	args := []string{"b", "/mnt", "--temp-dir", "tmp", "--log-file", "l.log", "-o", "passwd_file=pw,ca_file=ca.pem"}
	cfg, err := parseArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	got := childArgs(args, cfg)
	wd, _ := os.Getwd()
	again, err := parseArgs(got)
	if err != nil {
		t.Fatalf("the child's arguments %q do not parse: %v", got, err)
	}
	for name, p := range map[string]string{"temp-dir": again.fs.Write.TempDir, "log-file": again.logFile,
		"passwd-file": again.creds.PasswdFile, "ca-file": again.caFile} {
		if !filepath.IsAbs(p) || !strings.HasPrefix(p, wd+"/") {
			t.Errorf("--%s in the child: %q, want an absolute path under %s", name, p, wd)
		}
	}
}

func TestParseArgsEncryption(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	openKey := filepath.Join(dir, "open-key")
	if err := os.WriteFile(openKey, []byte("0123456789abcdef0123456789abcdef"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(openKey, 0o644)
	tls := []string{"--endpoint", "https://127.0.0.1:9000"}
	for _, tc := range []struct {
		args    []string
		mode    string
		kmsKey  string
		class   string
		errText string // "" is no error
	}{
		{args: []string{"--sse", "AES256"}, mode: s3client.SSES3},
		{args: []string{"-o", "sse=aes256,storage_class=STANDARD_IA"}, mode: s3client.SSES3, class: "STANDARD_IA"},
		{args: []string{"--sse", "aws:kms"}, mode: s3client.SSEKMS},
		{args: []string{"-o", "sse_kms_key_id=my-minio-key"}, mode: s3client.SSEKMS, kmsKey: "my-minio-key"},
		{args: append([]string{"--sse-c-key-file", keyFile}, tls...), mode: s3client.SSEC},
		{args: append([]string{"-o", "sse_c_key_file=" + keyFile}, tls...), mode: s3client.SSEC},
		{args: []string{"--sse-c-key-file", keyFile, "--endpoint", "http://127.0.0.1:9000"}, errText: "needs an https:// --endpoint"},
		{args: append([]string{"--sse-c-key-file", openKey}, tls...), errText: "chmod 600"},
		{args: append([]string{"--sse-c-key-file", keyFile, "--sse", "AES256"}, tls...), errText: "choose one"},
		{args: []string{"--sse", "AES256", "--sse-kms-key-id", "k"}, errText: "is for --sse aws:kms"},
		{args: []string{"--sse", "rot13"}, errText: `--sse "rot13"`},
		{args: []string{"--storage-class", "STANDARD IA"}, errText: "--storage-class"},
	} {
		cfg, err := parseArgs(append(tc.args, "b", "/mnt"))
		if tc.errText != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("%q: got %v, want an error with %q", tc.args, err, tc.errText)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		e := cfg.s3.Encryption
		if e.Mode != tc.mode || e.KMSKeyID != tc.kmsKey || cfg.s3.StorageClass != tc.class {
			t.Errorf("%q: got mode %q key id %q class %q", tc.args, e.Mode, e.KMSKeyID, cfg.s3.StorageClass)
		}
		if tc.mode == s3client.SSEC && string(e.CustomerKey) != "0123456789abcdef0123456789abcdef" {
			t.Errorf("%q: key %q", tc.args, e.CustomerKey)
		}
	}
}

func TestParseArgsUploadTimeout(t *testing.T) {
	cfg, err := parseArgs([]string{"b", "/mnt"})
	if err != nil || cfg.s3.UploadTimeout != s3client.DefaultUploadTimeout {
		t.Errorf("default: %v, %v", cfg.s3.UploadTimeout, err)
	}
	cfg, err = parseArgs([]string{"-o", "upload_timeout=90s", "b", "/mnt"})
	if err != nil || cfg.s3.UploadTimeout != 90*time.Second {
		t.Errorf("-o upload_timeout=90s: %v, %v", cfg.s3.UploadTimeout, err)
	}
	if _, err := parseArgs([]string{"--upload-timeout", "0s", "b", "/mnt"}); err == nil || !strings.Contains(err.Error(), "--upload-timeout") {
		t.Errorf("--upload-timeout 0s: %v", err)
	}
}
