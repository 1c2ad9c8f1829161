package harness

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BuildBinary builds cmd/bucketfs into dir and returns its path.
func BuildBinary(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
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

	cmd    *exec.Cmd
	exited chan struct{}
	log    *syncBuffer
	done   bool
}

// syncBuffer is a bytes.Buffer safe for a writer and readers at once.
type syncBuffer struct {
	mu  sync.Mutex // protects buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// MountOptions say what to run.
type MountOptions struct {
	Binary string
	Server *Server
	Source string   // BUCKET or BUCKET:/prefix
	Args   []string // extra options
	Env    []string // replaces Server.Env() when set
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
	dir := filepath.Join(tmp, "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	args := append([]string{"--endpoint", o.Server.Endpoint, "--log-level", "debug"}, o.Args...)
	args = append(args, o.Source, dir)
	m := &Mount{Dir: dir, log: &syncBuffer{}, exited: make(chan struct{})}
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
			return nil, fmt.Errorf("bucketfs exited before mounting (%v):\n%s", m.cmd.ProcessState, m.log.String())
		default:
		}
		if IsMounted(dir) {
			return m, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.Unmount()
	return nil, fmt.Errorf("bucketfs did not mount %s within 30s:\n%s", dir, m.log.String())
}

// Log is what bucketfs printed so far.
func (m *Mount) Log() string { return m.log.String() }

// Exited is closed when the bucketfs process has ended.
func (m *Mount) Exited() <-chan struct{} { return m.exited }

// Signal sends sig to the bucketfs process.
func (m *Mount) Signal(sig os.Signal) error { return m.cmd.Process.Signal(sig) }

// Unmount stops bucketfs with SIGTERM and makes sure nothing stays
// mounted: after 20s it detaches the mount lazily and kills the process.
func (m *Mount) Unmount() error {
	if m.done {
		return nil
	}
	m.done = true
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(20 * time.Second):
		syscall.Unmount(m.Dir, syscall.MNT_DETACH)
		m.cmd.Process.Kill()
		<-m.exited
		return fmt.Errorf("bucketfs did not exit within 20s of SIGTERM; detached %s", m.Dir)
	}
	if IsMounted(m.Dir) {
		syscall.Unmount(m.Dir, syscall.MNT_DETACH)
		return fmt.Errorf("%s was still mounted after bucketfs exited; detached it", m.Dir)
	}
	return nil
}

// IsMounted reports whether a FUSE filesystem is mounted at dir.
func IsMounted(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 36 35 0:45 / /mnt/x rw,relatime shared:1 - fuse.bucketfs src rw,...
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || unescapeMountinfo(fields[4]) != dir {
			continue
		}
		for i, fld := range fields {
			if fld == "-" && i+1 < len(fields) && strings.HasPrefix(fields[i+1], "fuse") {
				return true
			}
		}
	}
	return false
}

// unescapeMountinfo undoes the octal escapes (\040 for space) of mountinfo.
func unescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
