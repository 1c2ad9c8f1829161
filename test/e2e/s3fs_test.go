package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/test/harness"
)

// s3fsMount is a running s3fs (Debian's package) mount of a bucket.
type s3fsMount struct {
	Dir string

	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
	done    bool
}

// mountS3fs mounts bucket with s3fs in the foreground, waits until it is
// mounted, and unmounts it when the test ends.
func mountS3fs(t *testing.T, bucket string) *s3fsMount {
	t.Helper()
	tmp := t.TempDir()
	passwd := filepath.Join(tmp, "passwd-s3fs")
	if err := os.WriteFile(passwd, []byte(server.AccessKey+":"+server.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &s3fsMount{Dir: filepath.Join(tmp, "mnt"), logPath: filepath.Join(tmp, "s3fs.log"), exited: make(chan struct{})}
	if err := os.Mkdir(m.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(m.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	opts := []string{
		"url=" + server.Endpoint, "use_path_request_style", "passwd_file=" + passwd,
		"dbglevel=info",
	}
	// s3fs signs as the suite does; its default (auto) is v4 falling back to v2.
	switch sw.Signature {
	case harness.SignatureV2:
		opts = append(opts, "sigv2")
	case harness.SignatureV4:
		opts = append(opts, "sigv4")
	}
	m.cmd = exec.Command("s3fs", bucket, m.Dir, "-o", strings.Join(opts, ","), "-f")
	m.cmd.Env = server.Env()
	if server.CAFile != "" {
		m.cmd.Env = append(m.cmd.Env, "CURL_CA_BUNDLE="+server.CAFile) // s3fs's libcurl
	}
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start s3fs: %v", err)
	}
	go func() { m.cmd.Wait(); close(m.exited) }()
	t.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			t.Errorf("unmount s3fs: %v", err)
		}
		if t.Failed() {
			t.Logf("s3fs log:\n%s", m.Log())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !harness.IsMounted(m.Dir) {
		select {
		case <-m.exited:
			t.Fatalf("s3fs exited before mounting (%v):\n%s", m.cmd.ProcessState, m.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("s3fs did not mount %s within 30s:\n%s", m.Dir, m.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return m
}

// Log is what s3fs printed so far.
func (m *s3fsMount) Log() string {
	b, _ := os.ReadFile(m.logPath)
	return string(b)
}

// Unmount unmounts with fusermount3 -u and waits for s3fs to exit; if
// that fails it detaches the mount lazily and kills s3fs.
func (m *s3fsMount) Unmount() error {
	if m.done {
		return nil
	}
	m.done = true
	out, err := exec.Command("fusermount3", "-u", m.Dir).CombinedOutput()
	if err == nil {
		select {
		case <-m.exited:
			return nil
		case <-time.After(20 * time.Second):
			err = fmt.Errorf("s3fs did not exit within 20s of fusermount3 -u")
		}
	} else {
		err = fmt.Errorf("fusermount3 -u %s: %v: %s", m.Dir, err, out)
	}
	if harness.IsMounted(m.Dir) {
		syscall.Unmount(m.Dir, syscall.MNT_DETACH)
	}
	m.cmd.Process.Kill()
	<-m.exited
	return fmt.Errorf("%v; detached %s and killed s3fs", err, m.Dir)
}

// s3fsPast is the mtime both tools set with touch -d.
const s3fsPast = "2001-02-03 04:05:06 UTC"

// lstatLine is `stat -c '%F %a %u %g %Y'` of path, not following links.
func lstatLine(t *testing.T, path string) string {
	t.Helper()
	return strings.TrimSpace(sh(t, "stat", "-c", "%F %a %u %g %Y", path))
}

// TestS3fsInterop shares one bucket between s3fs and bucketfs: a file, a
// directory and a symlink made on each side, with mode, owner and mtime
// set by the ordinary tools, look the same through fresh mounts of both.
func TestS3fsInterop(t *testing.T) {
	bucket := newBucket(t)
	pastSec := strconv.FormatInt(mustParseTime(t, s3fsPast).Unix(), 10)
	content := map[string]string{}

	// populate makes a file, a directory and a symlink in dir, named
	// with prefix.
	populate := func(dir, prefix string) {
		t.Helper()
		file := filepath.Join(dir, prefix+"file.txt")
		content[prefix+"file.txt"] = "written through " + prefix + "\n"
		if err := os.WriteFile(file, []byte(content[prefix+"file.txt"]), 0o644); err != nil {
			t.Fatalf("write %s: %v", file, err)
		}
		sh(t, "chmod", "0640", file)
		sh(t, "touch", "-d", s3fsPast, file)
		sh(t, "chown", "1234:5678", file)

		sub := filepath.Join(dir, prefix+"dir")
		sh(t, "mkdir", sub)
		sh(t, "chmod", "0700", sub)

		sh(t, "ln", "-s", prefix+"file.txt", filepath.Join(dir, prefix+"link"))
	}

	s3fs := mountS3fs(t, bucket)
	populate(s3fs.Dir, "s3fs-")
	if err := s3fs.Unmount(); err != nil {
		t.Fatal(err)
	}
	bfs := mountBucket(t, bucket)
	populate(bfs.Dir, "bucketfs-")
	if err := bfs.Unmount(); err != nil {
		t.Fatal(err)
	}

	// Both wrote the same s3fs metadata: decimal st_mode with the type
	// bits, uid, gid, mtime in Unix seconds; a symlink's body is its target.
	for _, writer := range []string{"s3fs", "bucketfs"} {
		for _, want := range []struct {
			key             string
			mode            uint32
			uid, gid, mtime string
		}{
			{writer + "-file.txt", syscall.S_IFREG | 0o640, "1234", "5678", pastSec},
			{writer + "-dir/", syscall.S_IFDIR | 0o700, "0", "0", ""},
			{writer + "-link", syscall.S_IFLNK | 0o777, "0", "0", ""},
		} {
			info, err := client.HeadObject(ctx(t), bucket, want.key)
			if err != nil {
				t.Errorf("HEAD %s: %v", want.key, err)
				continue
			}
			m := info.Metadata
			t.Logf("%s: %v", want.key, m)
			if m["mode"] != strconv.FormatUint(uint64(want.mode), 10) || m["uid"] != want.uid || m["gid"] != want.gid ||
				(want.mtime != "" && m["mtime"] != want.mtime) {
				t.Errorf("metadata of %s: got mode=%s uid=%s gid=%s mtime=%s, want mode=%d uid=%s gid=%s mtime=%s",
					want.key, m["mode"], m["uid"], m["gid"], m["mtime"], want.mode, want.uid, want.gid, want.mtime)
			}
		}
	}

	// Fresh mounts: nothing is cached, everything comes from the bucket.
	mounts := map[string]string{"s3fs": mountS3fs(t, bucket).Dir, "bucketfs": mountBucket(t, bucket).Dir}
	for _, writer := range []string{"s3fs", "bucketfs"} {
		for _, reader := range []string{"s3fs", "bucketfs"} {
			t.Run(writer+"-to-"+reader, func(t *testing.T) {
				dir := mounts[reader]
				name := writer + "-file.txt"
				if got, want := lstatLine(t, filepath.Join(dir, name)), "regular file 640 1234 5678 "+pastSec; got != want {
					t.Errorf("stat %s: got %q, want %q", name, got, want)
				}
				if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil {
					t.Errorf("read %s: %v", name, err)
				} else if string(got) != content[name] {
					t.Errorf("read %s: got %q, want %q", name, got, content[name])
				}

				name = writer + "-dir"
				if got, want := withoutMtime(lstatLine(t, filepath.Join(dir, name))), "directory 700 0 0"; got != want {
					t.Errorf("stat %s: got %q, want %q", name, got, want)
				}

				name = writer + "-link"
				if got, want := withoutMtime(lstatLine(t, filepath.Join(dir, name))), "symbolic link 777 0 0"; got != want {
					t.Errorf("stat %s: got %q, want %q", name, got, want)
				}
				if got, err := os.Readlink(filepath.Join(dir, name)); err != nil {
					t.Errorf("readlink %s: %v", name, err)
				} else if want := writer + "-file.txt"; got != want {
					t.Errorf("readlink %s: got %q, want %q", name, got, want)
				}
				if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil {
					t.Errorf("read through %s: %v", name, err)
				} else if string(got) != content[writer+"-file.txt"] {
					t.Errorf("read through %s: got %q, want %q", name, got, content[writer+"-file.txt"])
				}
			})
		}
	}
	// Both tools agree on every name, directory mtimes included.
	for _, name := range []string{"s3fs-dir", "bucketfs-dir", "s3fs-link", "bucketfs-link"} {
		a, b := lstatLine(t, filepath.Join(mounts["s3fs"], name)), lstatLine(t, filepath.Join(mounts["bucketfs"], name))
		if a != b {
			t.Errorf("stat %s: s3fs says %q, bucketfs says %q", name, a, b)
		}
	}
}

// withoutMtime is a lstatLine without its last field, the mtime.
func withoutMtime(line string) string {
	i := strings.LastIndexByte(line, ' ')
	if i < 0 {
		return line
	}
	return line[:i]
}

func mustParseTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse("2006-01-02 15:04:05 MST", s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
