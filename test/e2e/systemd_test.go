package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/test/harness"
)

// notifySocket is a unixgram socket standing in for systemd's
// NOTIFY_SOCKET. Each datagram is kept with what the mount point looked
// like the moment it arrived.
type notifySocket struct {
	Path string
	conn *net.UnixConn

	mu   sync.Mutex // protects msgs
	msgs []notifyMsg
}

type notifyMsg struct {
	state    string
	mounted  bool // the mount point was a FUSE mount when it came
	answered bool // and listing it worked
}

func listenNotify(t *testing.T, mountpoint func() string) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	s := &notifySocket{Path: path, conn: conn}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			m := notifyMsg{state: string(buf[:n])}
			if strings.Contains(m.state, "READY=1") {
				dir := mountpoint()
				m.mounted = dir != "" && harness.IsMounted(dir)
				if m.mounted {
					_, err := os.ReadDir(dir)
					m.answered = err == nil
				}
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return s
}

func (s *notifySocket) messages() []notifyMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notifyMsg(nil), s.msgs...)
}

// waitFor waits until a message containing state has come.
func (s *notifySocket) waitFor(t *testing.T, state string) notifyMsg {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range s.messages() {
			if strings.Contains(m.state, state) {
				return m
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s on the notify socket within 20s; got %+v", state, s.messages())
	return notifyMsg{}
}

// TestSystemdNotify: with NOTIFY_SOCKET set, as in a Type=notify unit,
// bucketfs sends STATUS= lines while it starts, READY=1 only once the
// mount point answers, and STOPPING=1 when it unmounts on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	bucket := newBucket(t)
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := listenNotify(t, func() string { return dir })
	m := harness.StartMount(t, harness.MountOptions{Binary: binary, Server: server, Source: bucket, Dir: dir,
		Signature: sw.Signature, Env: append(server.Env(), "NOTIFY_SOCKET="+sock.Path)})
	ready := sock.waitFor(t, "READY=1")
	if !ready.mounted || !ready.answered {
		t.Errorf("READY=1 came before the mount point answered (mounted %v, listing worked %v)", ready.mounted, ready.answered)
	}
	if !strings.Contains(ready.state, "STATUS=serving "+bucket+" at "+dir) {
		t.Errorf("READY=1 without the serving STATUS: %q", ready.state)
	}
	msgs := sock.messages()
	var before []string
	for _, msg := range msgs {
		if strings.Contains(msg.state, "READY=1") {
			break
		}
		before = append(before, msg.state)
	}
	if len(before) < 2 || !strings.HasPrefix(before[0], "STATUS=") {
		t.Errorf("STATUS= lines before READY=1: %q, want those of each step", before)
	}
	for _, msg := range msgs {
		if strings.Contains(msg.state, "STOPPING=1") {
			t.Errorf("STOPPING=1 before the unmount: %q", msg.state)
		}
	}
	if err := m.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stop := sock.waitFor(t, "STOPPING=1")
	if !strings.Contains(stop.state, "STATUS=terminated: unmounting "+dir) {
		t.Errorf("STOPPING=1 without its STATUS= line: %q", stop.state)
	}
	select {
	case <-m.Exited():
	case <-time.After(20 * time.Second):
		t.Fatal("bucketfs still running 20s after SIGTERM")
	}
}

// TestSystemdNotifyMountFails: a mount that cannot work never says
// READY=1; its last STATUS= says why.
func TestSystemdNotifyMountFails(t *testing.T) {
	dir := t.TempDir()
	sock := listenNotify(t, func() string { return dir })
	cmd := exec.Command(binary, bucketfsArgs("e2e-no-such-bucket-for-notify", dir)...)
	cmd.Env = append(server.Env(), "NOTIFY_SOCKET="+sock.Path)
	out, err := cmd.CombinedOutput()
	if err == nil {
		harness.AbortFUSE(dir)
		t.Fatalf("mount of a missing bucket succeeded:\n%s", out)
	}
	time.Sleep(100 * time.Millisecond) // the last datagram may still be in the socket
	msgs := sock.messages()
	for _, m := range msgs {
		if strings.Contains(m.state, "READY=1") {
			t.Errorf("READY=1 from a mount that failed: %+v", msgs)
		}
	}
	if len(msgs) == 0 || !strings.HasPrefix(msgs[len(msgs)-1].state, "STATUS=cannot mount") {
		t.Errorf("notifications %+v, want STATUS=cannot mount: ... last", msgs)
	}
}

// TestSystemdUnit checks the shipped docs/bucketfs@.service: systemd's
// own systemd-analyze verify accepts it, and its ExecStart, expanded as
// systemd would (%i, ${ENDPOINT}, $OPTIONS from the environment file),
// mounts the bucket, says READY=1 once the mount answers, and unmounts
// with STOPPING=1 on SIGTERM.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze not found (%v): install Debian's systemd (test/setup.sh does)", err)
	}
	unit, err := os.ReadFile("../../docs/bucketfs@.service")
	if err != nil {
		t.Fatal(err)
	}
	bucket := newBucket(t)
	tmp := t.TempDir()
	// verify checks that ExecStart's program exists: point it at the
	// binary under test.
	const installed = "/usr/local/bin/bucketfs"
	if !strings.Contains(string(unit), "ExecStart="+installed+" ") {
		t.Fatalf("the unit's ExecStart does not run %s", installed)
	}
	units := filepath.Join(tmp, "units")
	if err := os.Mkdir(units, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(units, "bucketfs@.service"), []byte(strings.ReplaceAll(string(unit), installed, binary)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(analyze, "verify", "./bucketfs@"+bucket+".service")
	cmd.Dir = units
	if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	// The environment file of the instance, as the unit's comment says.
	envFile := map[string]string{
		"ENDPOINT": server.Endpoint,
		"OPTIONS":  "--signature " + sw.Signature + " --log-level debug",
	}
	if server.CAFile != "" {
		envFile["OPTIONS"] += " --ca-file " + server.CAFile
	}
	var execStart string
	for _, line := range strings.Split(string(unit), "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			execStart = v
		}
	}
	mnt := filepath.Join(tmp, "mnt", bucket)
	var argv []string
	for _, w := range strings.Fields(execStart) {
		w = strings.ReplaceAll(w, "/mnt/%i", mnt)
		w = strings.ReplaceAll(w, "%i", bucket)
		switch {
		case strings.HasPrefix(w, "${") && strings.HasSuffix(w, "}"):
			argv = append(argv, envFile[w[2:len(w)-1]]) // one word
		case strings.HasPrefix(w, "$"):
			argv = append(argv, strings.Fields(envFile[w[1:]])...) // split at spaces
		default:
			argv = append(argv, w)
		}
	}
	if argv[0] != installed {
		t.Fatalf("ExecStart runs %s", argv[0])
	}
	if err := os.MkdirAll(mnt, 0o755); err != nil { // ExecStartPre
		t.Fatal(err)
	}
	sock := listenNotify(t, func() string { return mnt })
	run := exec.Command(binary, argv[1:]...)
	run.Env = append(server.Env(), "NOTIFY_SOCKET="+sock.Path)
	var log harness.SyncBuffer
	run.Stdout, run.Stderr = &log, &log
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- run.Wait() }()
	t.Cleanup(func() {
		if harness.IsMounted(mnt) {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
		if t.Failed() {
			t.Logf("bucketfs %q:\n%s", argv[1:], log.String())
		}
	})
	ready := sock.waitFor(t, "READY=1")
	if !ready.mounted || !ready.answered {
		t.Errorf("READY=1 before the mount answered (mounted %v, listing %v)", ready.mounted, ready.answered)
	}
	if err := os.WriteFile(filepath.Join(mnt, "hello"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := getObject(t, bucket, "hello"); string(got) != "hello\n" {
		t.Errorf("object hello: %q", got)
	}
	run.Process.Signal(syscall.SIGTERM) // what systemctl stop sends (KillMode=mixed)
	sock.waitFor(t, "STOPPING=1")
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("bucketfs exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("bucketfs still running 20s after SIGTERM")
	}
	if harness.IsMounted(mnt) {
		t.Errorf("%s still mounted after bucketfs exited", mnt)
	}
}
