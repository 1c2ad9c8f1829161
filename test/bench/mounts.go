package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bucketfs/bucketfs/test/harness"
)

// fuseMount is one running FUSE filesystem process, bucketfs or s3fs,
// in its own process group so a Ctrl-C reaches only the benchmark, which
// then unmounts it.
type fuseMount struct {
	kind    string // "bucketfs" or "s3fs"
	dir     string
	logPath string // bucketfs: --log-file; s3fs: its stdout and stderr
	cmd     *exec.Cmd
	exited  chan struct{}
	out     *harness.SyncBuffer // bucketfs's stdout and stderr (empty unless it fails early)

	once       sync.Once
	unmountErr error
}

// next returns a fresh mount point and log path for kind.
func (b *bench) next(kind string) (dir, logPath string, err error) {
	b.mu.Lock()
	b.seq++
	n := b.seq
	b.mu.Unlock()
	dir = filepath.Join(b.tmp, fmt.Sprintf("mnt-%03d-%s", n, kind))
	logPath = filepath.Join(b.tmp, "logs", fmt.Sprintf("%03d-%s.log", n, kind))
	return dir, logPath, os.Mkdir(dir, 0o755)
}

// mountBucketfs mounts the bucket with bucketfs in the foreground, one
// log line per S3 request in its own log file, plus extra options.
func (b *bench) mountBucketfs(extra ...string) (*fuseMount, error) {
	dir, logPath, err := b.next("bucketfs")
	if err != nil {
		return nil, err
	}
	args := []string{"--endpoint", b.srv.Endpoint, "--log-file", logPath, "--debug-s3", "--log-level", "info",
		"--part-size", strconv.Itoa(b.opts.partMiB << 20), "--upload-parallel", strconv.Itoa(b.opts.parallel)}
	args = append(args, extra...)
	args = append(args, b.bucket, dir)
	cmd := exec.Command(b.bin, args...)
	cmd.Env = b.srv.Env()
	return b.start("bucketfs", dir, logPath, cmd)
}

// mountS3fs mounts the bucket with s3fs in the foreground, with the
// options a user of a local MinIO would give it.
func (b *bench) mountS3fs() (*fuseMount, error) {
	dir, logPath, err := b.next("s3fs")
	if err != nil {
		return nil, err
	}
	opts := "url=" + b.srv.Endpoint + ",use_path_request_style,passwd_file=" + b.s3fsPasswd
	cmd := exec.Command(b.s3fsPath, b.bucket, dir, "-o", opts, "-f")
	cmd.Env = b.srv.Env()
	return b.start("s3fs", dir, logPath, cmd)
}

// start runs cmd, tracks it for cleanup at once, and waits until dir is
// a FUSE mount.
func (b *bench) start(kind, dir, logPath string, cmd *exec.Cmd) (*fuseMount, error) {
	m := &fuseMount{kind: kind, dir: dir, logPath: logPath, cmd: cmd, exited: make(chan struct{}), out: &harness.SyncBuffer{}}
	var logFile *os.File
	if kind == "s3fs" {
		f, err := os.Create(logPath)
		if err != nil {
			return nil, err
		}
		logFile = f
		cmd.Stdout, cmd.Stderr = f, f
	} else {
		cmd.Stdout, cmd.Stderr = m.out, m.out
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	b.mu.Lock()
	if b.cleaned {
		b.mu.Unlock()
		return nil, fmt.Errorf("interrupted")
	}
	err := cmd.Start()
	if err == nil {
		b.mounts[m] = true
	}
	b.mu.Unlock()
	if logFile != nil {
		logFile.Close() // the child has its own descriptor
	}
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", kind, err)
	}
	go func() { cmd.Wait(); close(m.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for !harness.IsMounted(dir) {
		select {
		case <-m.exited:
			b.forget(m)
			return nil, fmt.Errorf("%s exited before mounting (%v):\n%s", kind, cmd.ProcessState, m.tail())
		default:
		}
		if time.Now().After(deadline) {
			m.unmount()
			b.forget(m)
			return nil, fmt.Errorf("%s did not mount %s within 30s:\n%s", kind, dir, m.tail())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return m, nil
}

// forget stops tracking m.
func (b *bench) forget(m *fuseMount) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.mounts, m)
}

// release unmounts m and stops tracking it.
func (b *bench) release(m *fuseMount) error {
	err := m.unmount()
	b.forget(m)
	return err
}

// tail is the end of what the mount process said.
func (m *fuseMount) tail() string {
	data, _ := os.ReadFile(m.logPath)
	s := m.out.String() + string(data)
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return s
}

// logSize is the current length of the mount's log: the offset from
// which a scenario's requests are counted.
func (m *fuseMount) logSize() int64 {
	fi, err := os.Stat(m.logPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// peakRSSKiB is the process's peak resident set (VmHWM), in KiB.
func (m *fuseMount) peakRSSKiB() int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", m.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// unmount ends the mount: SIGTERM for bucketfs (its own clean path),
// fusermount3 -u for s3fs. After 20s it detaches lazily and kills.
func (m *fuseMount) unmount() error {
	m.once.Do(func() { m.unmountErr = m.doUnmount() })
	return m.unmountErr
}

func (m *fuseMount) doUnmount() error {
	var err error
	if m.kind == "s3fs" {
		if out, uerr := exec.Command("fusermount3", "-u", m.dir).CombinedOutput(); uerr != nil {
			err = fmt.Errorf("fusermount3 -u %s: %v: %s", m.dir, uerr, bytes.TrimSpace(out))
			syscall.Unmount(m.dir, syscall.MNT_DETACH)
		}
	} else {
		m.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-m.exited:
	case <-time.After(20 * time.Second):
		syscall.Unmount(m.dir, syscall.MNT_DETACH)
		m.cmd.Process.Kill()
		<-m.exited
		return fmt.Errorf("%s did not exit within 20s; detached %s and killed it", m.kind, m.dir)
	}
	if harness.IsMounted(m.dir) {
		syscall.Unmount(m.dir, syscall.MNT_DETACH)
		return fmt.Errorf("%s was still mounted after %s exited; detached it", m.dir, m.kind)
	}
	return err
}
