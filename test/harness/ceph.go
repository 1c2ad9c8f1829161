package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// CephOptions change how the Ceph RADOS Gateway is started.
type CephOptions struct {
	// FakeTimeOffset starts radosgw alone under libfaketime with its wall
	// clock shifted by this offset (libfaketime syntax, e.g. "+20m").
	FakeTimeOffset string
	// CertsDir holds public.crt and private.key (SelfSignedCert): serve
	// HTTPS only, with beast's ssl_endpoint.
	CertsDir string
}

// StartCeph starts a throw-away single-node Ceph cluster (one mon, one
// memstore OSD, one radosgw) with test/ceph/start.sh in a fresh temp
// directory and returns its S3 gateway. Stop runs test/ceph/stop.sh.
func StartCeph() (*Server, error) {
	return StartCephWith(CephOptions{})
}

// StartCephWith is StartCeph with options. A cluster that fails to start
// (a port found free may be taken before a daemon binds it) is tried once
// more in a new directory.
func StartCephWith(o CephOptions) (*Server, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	scripts := filepath.Join(root, "test", "ceph")
	s, err := startCeph(scripts, o)
	if err != nil {
		s, err = startCeph(scripts, o)
	}
	return s, err
}

func startCeph(scripts string, o CephOptions) (*Server, error) {
	dir, err := os.MkdirTemp("", "bucketfs-ceph-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("bash", filepath.Join(scripts, "start.sh"), dir)
	cmd.Env = os.Environ()
	if o.FakeTimeOffset != "" {
		cmd.Env = append(cmd.Env, "FAKETIME_OFFSET="+o.FakeTimeOffset)
	}
	if o.CertsDir != "" {
		cmd.Env = append(cmd.Env, "RGW_SSL_CERT="+filepath.Join(o.CertsDir, "public.crt"),
			"RGW_SSL_KEY="+filepath.Join(o.CertsDir, "private.key"))
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		// start.sh stopped what it had started and kept dir for its logs.
		return nil, fmt.Errorf("test/ceph/start.sh %s: %v (logs kept in %s/log)\n%s", dir, err, dir, out)
	}
	env, err := readEnvFile(filepath.Join(dir, "env"))
	if err != nil {
		stopCeph(scripts, dir)
		return nil, err
	}
	s := &Server{Kind: ServerCeph, Endpoint: env["RGW_ENDPOINT"], AccessKey: env["RGW_ACCESS_KEY"],
		SecretKey: env["RGW_SECRET_KEY"], dir: dir}
	if o.CertsDir != "" {
		s.CAFile = filepath.Join(o.CertsDir, "public.crt")
	}
	u, err := url.Parse(s.Endpoint)
	if err == nil {
		s.Host = u.Hostname()
		s.Port, err = strconv.Atoi(u.Port())
	}
	if err != nil || s.Host == "" || s.AccessKey == "" || s.SecretKey == "" {
		stopCeph(scripts, dir)
		return nil, fmt.Errorf("%s/env: incomplete (endpoint %q, %v)", dir, s.Endpoint, err)
	}
	s.stop = func() error { return stopCeph(scripts, dir) }
	return s, nil
}

// stopCeph stops the daemons start.sh started in dir and removes dir.
func stopCeph(scripts, dir string) error {
	out, err := exec.Command("bash", filepath.Join(scripts, "stop.sh"), dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("test/ceph/stop.sh %s: %v\n%s", dir, err, out)
	}
	return nil
}

// CephUsage is what the memstore OSD of a Ceph server holds.
type CephUsage struct {
	Used, Size int64 // bytes stored in memstore, and its configured size
	PeakRSS    int64 // the OSD process's peak resident memory, bytes
}

// CephUsage asks the OSD of a Ceph server (through its admin socket) how
// full its memstore is. When memstore is full, writes hang instead of
// failing: the suite prints this to show how much room is left.
func (s *Server) CephUsage() (CephUsage, error) {
	var u CephUsage
	if s.Kind != ServerCeph {
		return u, fmt.Errorf("%s server has no Ceph OSD", s.Kind)
	}
	out, err := exec.Command("ceph", "--admin-daemon", filepath.Join(s.dir, "run", "ceph-osd.0.asok"), "perf", "dump").Output()
	if err != nil {
		return u, fmt.Errorf("ceph perf dump of osd.0: %w", err)
	}
	var dump struct {
		OSD struct {
			StatBytes     int64 `json:"stat_bytes"`
			StatBytesUsed int64 `json:"stat_bytes_used"`
		} `json:"osd"`
	}
	if err := json.Unmarshal(out, &dump); err != nil {
		return u, fmt.Errorf("ceph perf dump of osd.0: %w", err)
	}
	u.Used, u.Size = dump.OSD.StatBytesUsed, dump.OSD.StatBytes
	pid, err := os.ReadFile(filepath.Join(s.dir, "pids", "osd.0.pid"))
	if err != nil {
		return u, err
	}
	status, err := os.ReadFile(filepath.Join("/proc", strings.TrimSpace(string(pid)), "status"))
	if err != nil {
		return u, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return u, fmt.Errorf("VmHWM of osd.0: %w", err)
			}
			u.PeakRSS = kb << 10
		}
	}
	return u, nil
}

// readEnvFile reads NAME=VALUE lines.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok {
			env[k] = v
		}
	}
	return env, sc.Err()
}

// repoRoot is the directory of the module's go.mod.
func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the bucketfs module")
	}
	return filepath.Dir(gomod), nil
}
