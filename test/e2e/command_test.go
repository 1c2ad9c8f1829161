package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
	"github.com/bucketfs/bucketfs/test/harness"
)

// installForMount runs `make install` (bucketfs in /usr/local/bin, the
// mount.bucketfs helper in /sbin), where mount(8) and mount.fuse3 look.
func installForMount(t *testing.T) {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	if out, err := exec.Command("make", "-C", root, "install", "VERSION=e2e").CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
}

// passwdFile writes an s3fs-format credentials file (mode 0600).
func passwdFile(t *testing.T, secret string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "passwd-s3fs")
	if err := os.WriteFile(p, []byte(server.AccessKey+":"+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// bareEnv is the environment of a boot-time mount: no credentials.
func bareEnv() []string {
	return []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/nonexistent"}
}

// waitUnmounted waits until dir is no longer a mount point.
func waitUnmounted(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for harness.IsMounted(dir) {
		if time.Now().After(deadline) {
			syscall.Unmount(dir, syscall.MNT_DETACH)
			t.Fatalf("%s still mounted 20s after umount", dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// unmountLater makes sure dir is unmounted when the test ends; a mount
// that umount cannot remove within 20s is aborted.
func unmountLater(t *testing.T, dir string) {
	t.Cleanup(func() {
		if harness.IsMounted(dir) {
			c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			exec.CommandContext(c, "umount", dir).Run()
			time.Sleep(200 * time.Millisecond)
			if harness.IsMounted(dir) {
				harness.AbortFUSE(dir)
			}
		}
	})
}

// TestFstab mounts through `mount -T FSTAB` with both fstab types: via
// Debian fuse3's mount.fuse3 (fuse.bucketfs) and via our mount.bucketfs.
func TestFstab(t *testing.T) {
	installForMount(t)
	for _, fstype := range []string{"fuse.bucketfs", "bucketfs"} {
		t.Run(fstype, func(t *testing.T) {
			bucket := newBucket(t)
			mnt := filepath.Join(t.TempDir(), "mnt")
			os.Mkdir(mnt, 0o755)
			unmountLater(t, mnt)
			logFile := filepath.Join(t.TempDir(), "bucketfs.log")
			opts := strings.Join([]string{"_netdev", "nofail", "x-systemd.automount", "endpoint=" + server.Endpoint, "signature=" + sw.Signature,
				"passwd_file=" + passwdFile(t, server.SecretKey), "log_file=" + logFile, "debug_s3"}, ",")
			if server.CAFile != "" {
				opts += ",ca_file=" + server.CAFile
			}
			fstab := filepath.Join(t.TempDir(), "fstab")
			line := fmt.Sprintf("%s %s %s %s 0 0\n", bucket, mnt, fstype, opts)
			if err := os.WriteFile(fstab, []byte(line), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("mount", "-T", fstab, mnt)
			cmd.Env = bareEnv()
			if out, err := cmd.CombinedOutput(); err != nil {
				log, _ := os.ReadFile(logFile)
				t.Fatalf("mount -T %s: %v\n%s\nlog:\n%s", line, err, out, log)
			}
			// mount returned: the mount must already work.
			if !harness.IsMounted(mnt) {
				t.Fatalf("mount returned but %s is not mounted", mnt)
			}
			src := randomFile(t, 100_000)
			sh(t, "cp", src, filepath.Join(mnt, "via-fstab"))
			if info, err := client.HeadObject(ctx(t), bucket, "via-fstab"); err != nil || info.Size != 100_000 {
				t.Fatalf("object written through the fstab mount: %v, %v", info, err)
			}
			sh(t, "umount", mnt)
			waitUnmounted(t, mnt)
			// The mount is gone before the daemon notices and logs it.
			var log []byte
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if log, _ = os.ReadFile(logFile); strings.Contains(string(log), "unmounted") {
					break
				}
			}
			if !strings.Contains(string(log), "unmounted") {
				t.Errorf("log has no clean unmount within 10s:\n%s", log)
			}
		})
	}
}

// TestDaemon: --daemon returns only once the mount answers, and fails
// with the reason for a wrong secret or a missing bucket.
func TestDaemon(t *testing.T) {
	bucket := newBucket(t)
	run := func(t *testing.T, secret, bucket string) (string, string, error) {
		mnt := filepath.Join(t.TempDir(), "mnt")
		os.Mkdir(mnt, 0o755)
		unmountLater(t, mnt)
		cmd := exec.Command(binary, bucketfsArgs("--daemon", "--passwd-file", passwdFile(t, secret), bucket, mnt)...)
		cmd.Env = bareEnv()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		return mnt, stderr.String(), err
	}
	t.Run("ready on return", func(t *testing.T) {
		client.PutObject(ctx(t), bucket, "hello", strings.NewReader("hi"), 2, s3client.PutOptions{})
		mnt, stderr, err := run(t, server.SecretKey, bucket)
		if err != nil {
			t.Fatalf("bucketfs --daemon: %v\n%s", err, stderr)
		}
		// No waiting: the mount must answer now.
		got, err := os.ReadFile(filepath.Join(mnt, "hello"))
		if err != nil || string(got) != "hi" {
			t.Fatalf("read right after --daemon returned: %q, %v", got, err)
		}
		sh(t, "fusermount3", "-u", mnt)
		waitUnmounted(t, mnt)
	})
	for _, tc := range []struct {
		name, secret, bucket, want string
	}{
		{"wrong secret", "not-the-secret", bucket, "AccessDenied"},
		{"missing bucket", server.SecretKey, "no-such-bucket-daemon", "NoSuchBucket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mnt, stderr, err := run(t, tc.secret, tc.bucket)
			if err == nil {
				t.Fatalf("bucketfs --daemon succeeded, want failure")
			}
			if !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, tc.bucket) {
				t.Errorf("stderr %q: want the S3 code %s and the bucket %s", stderr, tc.want, tc.bucket)
			}
			if strings.Contains(stderr, tc.secret) {
				t.Errorf("stderr shows the secret: %q", stderr)
			}
			if harness.IsMounted(mnt) {
				t.Errorf("%s is mounted after a failed start", mnt)
			}
		})
	}
}

// TestSIGTERMDuringCopy: SIGTERM while cp writes a large file leaves the
// complete object (or none), never a partial one, and bucketfs exits.
func TestSIGTERMDuringCopy(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket)
	src := randomFile(t, 48<<20)
	cp := exec.Command("dd", "if="+src, "of="+filepath.Join(m.Dir, "big"), "bs=1M")
	var out bytes.Buffer
	cp.Stdout, cp.Stderr = &out, &out
	if err := cp.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the copy is under way (the file exists in the mount).
	for i := 0; i < 200; i++ {
		if st, err := os.Stat(filepath.Join(m.Dir, "big")); err == nil && st.Size() > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := m.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	cpErr := cp.Wait()
	select {
	case <-m.Exited():
	case <-time.After(30 * time.Second):
		t.Fatalf("bucketfs did not exit after SIGTERM and the end of the copy")
	}
	info, err := client.HeadObject(ctx(t), bucket, "big")
	switch {
	case errors.Is(err, s3client.ErrNotFound):
		if cpErr == nil {
			t.Errorf("cp succeeded but no object exists")
		}
	case err != nil:
		t.Fatal(err)
	case info.Size != 48<<20:
		t.Fatalf("partial object after SIGTERM: %d bytes, want %d or none", info.Size, 48<<20)
	default:
		fetched := filepath.Join(t.TempDir(), "fetched")
		boto(t, bucket, "get", "big", fetched)
		sh(t, "cmp", src, fetched)
	}
	t.Logf("cp: %v; bucketfs log tail:\n%s", cpErr, tail(m.Log(), 6))
}

// TestSecretsStayHidden: the secret appears neither in a --debug-s3 log,
// nor in the process arguments, nor in error messages.
func TestSecretsStayHidden(t *testing.T) {
	bucket := newBucket(t)
	logFile := filepath.Join(t.TempDir(), "log")
	m := harness.StartMount(t, harness.MountOptions{Binary: binary, Server: server, Source: bucket,
		Signature: sw.Signature, Env: bareEnv(),
		Args: []string{"--passwd-file", passwdFile(t, server.SecretKey), "--debug-s3", "--log-file", logFile}})
	sh(t, "cp", randomFile(t, 20<<20), filepath.Join(m.Dir, "f"))
	sh(t, "ls", "-l", m.Dir)
	sh(t, "rm", filepath.Join(m.Dir, "f"))
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "s3 request"); n < 4 {
		t.Errorf("--debug-s3 log has %d request lines, want one per request:\n%s", n, log)
	}
	for _, secret := range []string{server.SecretKey, "Authorization", "Signature="} {
		if strings.Contains(string(log), secret) {
			t.Errorf("log contains %q", secret)
		}
	}
	pids, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range pids {
		cmdline, err := os.ReadFile(p)
		if err == nil && bytes.Contains(cmdline, []byte(server.SecretKey)) {
			t.Errorf("%s shows the secret: %q", p, cmdline)
		}
	}
}

// TestStaleMountpoint: after a bucketfs process is killed, a new mount on
// the same directory explains the stale mount, and --unmount-stale
// recovers it.
func TestStaleMountpoint(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket)
	m.Signal(syscall.SIGKILL)
	<-m.Exited()
	if _, err := os.ReadDir(m.Dir); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("readdir after kill -9: got %v, want ENOTCONN", err)
	}
	defer syscall.Unmount(m.Dir, syscall.MNT_DETACH)
	cmd := exec.Command(binary, bucketfsArgs(bucket, m.Dir)...)
	cmd.Env = server.Env()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "stale FUSE mount") || !strings.Contains(string(out), "--unmount-stale") {
		t.Fatalf("mount on a stale mount point: %v %q, want an error explaining it", err, out)
	}
	cmd = exec.Command(binary, bucketfsArgs("--daemon", "--unmount-stale", bucket, m.Dir)...)
	cmd.Env = server.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("--unmount-stale: %v\n%s", err, out)
	}
	unmountLater(t, m.Dir)
	if _, err := os.ReadDir(m.Dir); err != nil {
		t.Fatalf("readdir after recovery: %v", err)
	}
	if _, err := os.Stat(filepath.Join(m.Dir, "nothing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat in recovered mount: got %v, want ENOENT", err)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestSIGTERMRightAfterMount: SIGTERM sent the moment the kernel shows
// the mount (before bucketfs has even logged it) unmounts cleanly. It
// once killed bucketfs there instead, and the process, one of its
// threads waiting on its own mount, could neither exit nor be unmounted.
func TestSIGTERMRightAfterMount(t *testing.T) {
	bucket := newBucket(t)
	for i := 0; i < 10; i++ {
		mnt := filepath.Join(t.TempDir(), "mnt")
		os.Mkdir(mnt, 0o755)
		cmd := exec.Command(binary, bucketfsArgs(bucket, mnt)...)
		cmd.Env = server.Env()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		for deadline := time.Now().Add(30 * time.Second); !harness.IsMounted(mnt); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("bucketfs did not mount within 30s:\n%s", out.String())
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		var err error
		select {
		case err = <-exited:
		case <-time.After(20 * time.Second):
			err = fmt.Errorf("no exit within 20s")
			defer func() { <-exited }()
		}
		if mounted := harness.IsMounted(mnt); err != nil || mounted {
			// A plain umount would hang on a stuck mount: abort it.
			aerr := harness.AbortFUSE(mnt)
			cmd.Process.Kill()
			t.Fatalf("SIGTERM right after mounting (round %d): exit %v, still mounted %v (abort: %v); want a clean unmount:\n%s",
				i, err, mounted, aerr, out.String())
		}
	}
}
