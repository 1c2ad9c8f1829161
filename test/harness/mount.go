package harness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
)

// BuildBinary builds cmd/bucketfs into dir and returns its path.
func BuildBinary(dir string) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bucketfs")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/bucketfs")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/bucketfs: %v\n%s", err, out)
	}
	return bin, nil
}

// Mount is a running bucketfs mount.
type Mount struct {
	Dir string

	cmd     *exec.Cmd
	exited  chan struct{}
	log     *SyncBuffer
	logFile string // the --log-file bucketfs writes to, if any
	done    bool
}

// SyncBuffer is a bytes.Buffer safe for a writer and readers at once
// (a process's output read while it runs).
type SyncBuffer struct {
	mu  sync.Mutex // protects buf
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// MountOptions say what to run.
type MountOptions struct {
	Binary string
	Server *Server
	Source string // BUCKET or BUCKET:/prefix
	// Signature is passed as --signature when set (v2, v4 or auto).
	Signature string
	Args      []string // extra options
	Env       []string // replaces Server.Env() when set
	// NoCAFile leaves out the --ca-file an HTTPS server's mounts get.
	NoCAFile bool
	// Dir is the mount point, an empty directory (default: a new one in
	// the test's temporary directory).
	Dir string
}

// StartMount runs bucketfs in the foreground, waits until the mount
// answers, and unmounts it when the test ends.
func StartMount(t testing.TB, o MountOptions) *Mount {
	t.Helper()
	m, err := startMount(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
		if t.Failed() {
			t.Logf("bucketfs log:\n%s", m.Log())
		}
	})
	return m
}

func startMount(tmp string, o MountOptions) (*Mount, error) {
	dir := o.Dir
	if dir == "" {
		dir = filepath.Join(tmp, "mnt")
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, err
		}
	}
	args := []string{"--endpoint", o.Server.Endpoint, "--log-level", "debug"}
	if o.Server.CAFile != "" && !o.NoCAFile {
		args = append(args, "--ca-file", o.Server.CAFile)
	}
	if o.Signature != "" {
		args = append(args, "--signature", o.Signature)
	}
	args = append(args, o.Args...)
	args = append(args, o.Source, dir)
	m := &Mount{Dir: dir, log: &SyncBuffer{}, exited: make(chan struct{}), logFile: logFileArg(o.Args)}
	m.cmd = exec.Command(o.Binary, args...)
	m.cmd.Env = o.Env
	if m.cmd.Env == nil {
		m.cmd.Env = o.Server.Env()
	}
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	if err := m.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { m.cmd.Wait(); close(m.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-m.exited:
			return nil, fmt.Errorf("bucketfs exited before mounting (%v):\n%s", m.cmd.ProcessState, m.Log())
		default:
		}
		// The kernel shows the mount a moment before bucketfs has
		// checked it and set up its signal handling: wait for both.
		if IsMounted(dir) && strings.Contains(m.Log(), `msg="mounted `) {
			return m, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.Unmount()
	return nil, fmt.Errorf("bucketfs did not mount %s within 30s:\n%s", dir, m.Log())
}

// Log is what bucketfs printed so far, followed by its --log-file.
func (m *Mount) Log() string {
	if m.logFile == "" {
		return m.log.String()
	}
	data, _ := os.ReadFile(m.logFile)
	return m.log.String() + string(data)
}

// logFileArg is the value of a --log-file option in args, or "".
func logFileArg(args []string) string {
	for i, a := range args {
		if a == "--log-file" && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, "--log-file="); ok {
			return v
		}
	}
	return ""
}

// Exited is closed when the bucketfs process has ended.
func (m *Mount) Exited() <-chan struct{} { return m.exited }

// Signal sends sig to the bucketfs process.
func (m *Mount) Signal(sig os.Signal) error { return m.cmd.Process.Signal(sig) }

// Unmount stops bucketfs with SIGTERM and makes sure nothing stays
// mounted: after 20s it aborts the FUSE connection, detaches the mount
// and kills the process.
func (m *Mount) Unmount() error {
	if m.done {
		return nil
	}
	m.done = true
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(20 * time.Second):
		err := AbortFUSE(m.Dir)
		m.cmd.Process.Kill()
		<-m.exited
		return fmt.Errorf("bucketfs did not exit within 20s of SIGTERM; aborted and detached %s (%v)", m.Dir, err)
	}
	if IsMounted(m.Dir) {
		syscall.Unmount(m.Dir, syscall.MNT_DETACH)
		return fmt.Errorf("%s was still mounted after bucketfs exited; detached it", m.Dir)
	}
	return nil
}

// IsMounted reports whether a FUSE filesystem is mounted at dir.
func IsMounted(dir string) bool {
	_, ok := fuseMount(dir)
	return ok
}

// fuseMount is the first FUSE filesystem mounted at dir, if there is one.
func fuseMount(dir string) (*mountinfo.Info, bool) {
	mounts, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		if m.Mountpoint == dir && strings.HasPrefix(m.FSType, "fuse") {
			return false, true
		}
		return true, false
	})
	if err != nil || len(mounts) == 0 {
		return nil, false
	}
	return mounts[0], true
}

// fusectl is where the fusectl filesystem shows one directory per FUSE
// connection, named by the minor device number of the mount.
const fusectl = "/sys/fs/fuse/connections"

// AbortFUSE aborts the FUSE connection of the mount at dir and detaches
// the mount. Every request waiting on it fails with ENOTCONN, which frees
// a filesystem process that hangs, or that was killed while one of its
// threads waited on its own mount (it cannot exit then, nor can umount
// finish). It mounts fusectl first if it is not mounted.
func AbortFUSE(dir string) error {
	m, ok := fuseMount(dir)
	if !ok {
		return fmt.Errorf("no FUSE mount at %s", dir)
	}
	abort := filepath.Join(fusectl, strconv.Itoa(m.Minor), "abort")
	if _, err := os.Stat(abort); err != nil {
		if err := syscall.Mount("fusectl", fusectl, "fusectl", 0, ""); err != nil && err != syscall.EBUSY {
			syscall.Unmount(dir, syscall.MNT_DETACH)
			return fmt.Errorf("mount fusectl on %s: %w", fusectl, err)
		}
	}
	err := os.WriteFile(abort, []byte("1"), 0)
	if uerr := syscall.Unmount(dir, syscall.MNT_DETACH); err == nil {
		err = uerr
	}
	return err
}

// Args are the arguments bucketfs was started with.
func (m *Mount) Args() []string { return m.cmd.Args[1:] }
