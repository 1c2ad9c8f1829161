package harness

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Cluster is a distributed, erasure-coded MinIO: N processes of the
// pinned binary on 127.0.0.1, one drive directory each, every process
// given the same list of the N endpoints, behind a round-robin TCP
// balancer (Balancer). Server().Endpoint is the balancer's address.
//
// MinIO in a container (/.dockerenv) waits forever for 127.0.0.1 to
// "resolve to a valid IP"; _MINIO_SERVER_LOCAL=127.0.0.1:PORT tells each
// process which endpoint is its own (pinned version's cmd/endpoint.go).
type Cluster struct {
	Nodes    []*Node
	Balancer *Balancer
	server   *Server
	dir      string
}

// Node is one MinIO process of a Cluster.
type Node struct {
	Port      int
	bin, dir  string
	endpoints []string
	env       []string

	mu     sync.Mutex // protects cmd, exited
	cmd    *exec.Cmd
	exited chan error
	log    *SyncBuffer
}

// StartMinIOCluster starts n MinIO nodes and the balancer in front of
// them, and waits until the cluster has write quorum.
func StartMinIOCluster(n int) (*Cluster, error) {
	bin, err := MinIOBinary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "bucketfs-minio-cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	var endpoints []string
	for i := 0; i < n; i++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		endpoints = append(endpoints, fmt.Sprintf("http://127.0.0.1:%d%s", port, filepath.Join(dir, "drive"+strconv.Itoa(i+1))))
		c.Nodes = append(c.Nodes, &Node{Port: port, bin: bin, dir: dir})
	}
	s := &Server{Kind: ServerMinIO, Host: "127.0.0.1", AccessKey: "bucketfs-test", SecretKey: "bucketfs-test-secret", dir: dir}
	var addrs []string
	for _, nd := range c.Nodes {
		nd.endpoints = endpoints
		nd.env = append(os.Environ(), "MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=1",
			"_MINIO_SERVER_LOCAL=127.0.0.1:"+strconv.Itoa(nd.Port))
		if err := nd.Start(); err != nil {
			c.Stop()
			return nil, err
		}
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(nd.Port))
	}
	if c.Balancer, err = NewBalancer(addrs); err != nil {
		c.Stop()
		return nil, err
	}
	s.Port = c.Balancer.Port()
	s.Endpoint = "http://" + c.Balancer.Addr()
	s.stop = func() error { c.Stop(); return nil }
	c.server = s
	if err := c.WaitHealthy(90 * time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// Server is the cluster as the tests' clients and mounts see it: the
// balancer's endpoint and the credentials.
func (c *Cluster) Server() *Server { return c.server }

// WaitHealthy waits until every running node says the cluster has write
// quorum (/minio/health/cluster answers 200).
func (c *Cluster) WaitHealthy(d time.Duration) error {
	deadline := time.Now().Add(d)
	for _, nd := range c.Nodes {
		if !nd.Running() {
			continue
		}
		if err := nd.waitHealthy(time.Until(deadline)); err != nil {
			return err
		}
	}
	return nil
}

// WaitAllOnline waits until every running node sees every other node's
// drive online: each answers /minio/health/cluster?maintenance=true with
// 200, which (one drive per node, write quorum 3 of 4) it does only when
// the cluster keeps write quorum without it, i.e. when it sees all three
// other drives. This is the check an operator makes before restarting
// the next node; WaitHealthy alone passes while the others still count a
// restarted node as offline.
func (c *Cluster) WaitAllOnline(d time.Duration) error {
	deadline := time.Now().Add(d)
	for _, nd := range c.Nodes {
		if !nd.Running() {
			continue
		}
		if err := nd.waitHealth("/minio/health/cluster?maintenance=true", time.Until(deadline)); err != nil {
			return err
		}
	}
	return nil
}

// Stop kills every node and the balancer and removes the drives.
func (c *Cluster) Stop() {
	if c.Balancer != nil {
		c.Balancer.Close()
	}
	for _, nd := range c.Nodes {
		nd.Kill()
	}
	os.RemoveAll(c.dir)
}

// Start starts the node's process (again) on its port and drive.
func (nd *Node) Start() error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd != nil {
		return fmt.Errorf("node %d is running", nd.Port)
	}
	console, err := FreePort()
	if err != nil {
		return err
	}
	nd.log = &SyncBuffer{}
	args := append([]string{"server", "--quiet", "--address", "127.0.0.1:" + strconv.Itoa(nd.Port),
		"--console-address", "127.0.0.1:" + strconv.Itoa(console)}, nd.endpoints...)
	cmd := exec.Command(nd.bin, args...)
	cmd.Env = nd.env
	cmd.Stdout, cmd.Stderr = nd.log, nd.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start minio node %d: %w", nd.Port, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	nd.cmd, nd.exited = cmd, exited
	return nil
}

// Kill stops the node with SIGKILL and waits for it to exit.
func (nd *Node) Kill() {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return
	}
	nd.cmd.Process.Kill()
	<-nd.exited
	nd.cmd, nd.exited = nil, nil
}

// Stop stops the node as an operator's restart does: SIGTERM, then
// SIGKILL if it has not exited within 30 s. It waits for the exit.
func (nd *Node) Stop() {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return
	}
	nd.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-nd.exited:
	case <-time.After(30 * time.Second):
		nd.cmd.Process.Kill()
		<-nd.exited
	}
	nd.cmd, nd.exited = nil, nil
}

// Running reports whether the node's process was started and not killed.
func (nd *Node) Running() bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.cmd != nil
}

// Log is what the node's current process printed.
func (nd *Node) Log() string { return nd.log.String() }

func (nd *Node) waitHealthy(d time.Duration) error {
	return nd.waitHealth("/minio/health/cluster", d)
}

// waitHealth waits until the node answers the health check at path with
// 200.
func (nd *Node) waitHealth(path string, d time.Duration) error {
	probe := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	url := "http://127.0.0.1:" + strconv.Itoa(nd.Port) + path
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		nd.mu.Lock()
		exited := nd.exited
		nd.mu.Unlock()
		select {
		case err := <-exited:
			return fmt.Errorf("minio node %d exited (%v): %s", nd.Port, err, nd.Log())
		default:
		}
		resp, err := probe.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("minio node %d not healthy (%s) within %v: %s", nd.Port, path, d, nd.Log())
}

// Balancer is a TCP round-robin load balancer on 127.0.0.1: each new
// connection goes to the next backend in turn; a backend refusing the
// connection is skipped for the next. With every backend refusing, the
// client's connection is closed.
type Balancer struct {
	l        net.Listener
	backends []string
	mu       sync.Mutex // protects next, conns, last
	next     int
	conns    map[net.Conn]struct{}
	last     int // the backend that last got bytes from a client
	wg       sync.WaitGroup
}

// NewBalancer listens on a free loopback port in front of backends
// (host:port).
func NewBalancer(backends []string) (*Balancer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &Balancer{l: l, backends: backends, conns: map[net.Conn]struct{}{}}
	b.wg.Add(1)
	go b.serve()
	return b, nil
}

// Addr is host:port the balancer listens on.
func (b *Balancer) Addr() string { return b.l.Addr().String() }

// Port is the port the balancer listens on.
func (b *Balancer) Port() int { return b.l.Addr().(*net.TCPAddr).Port }

// Close stops listening and closes every proxied connection.
func (b *Balancer) Close() {
	b.l.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// LastUsed is the index of the backend that most recently got bytes of
// a request: the one serving the request in flight when requests go one
// at a time.
func (b *Balancer) LastUsed() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

// used records that backend i got bytes from a client.
func (b *Balancer) used(i int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.last = i
}

func (b *Balancer) serve() {
	defer b.wg.Done()
	for {
		c, err := b.l.Accept()
		if err != nil {
			return
		}
		b.wg.Add(1)
		go func() { defer b.wg.Done(); b.proxy(c) }()
	}
}

func (b *Balancer) track(c net.Conn, add bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if add {
		b.conns[c] = struct{}{}
	} else {
		delete(b.conns, c)
	}
	return true
}

func (b *Balancer) pick() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := b.next
	b.next = (b.next + 1) % len(b.backends)
	return i
}

func (b *Balancer) proxy(client net.Conn) {
	b.track(client, true)
	defer func() { client.Close(); b.track(client, false) }()
	start := b.pick()
	var backend net.Conn
	idx := 0
	for k := 0; k < len(b.backends); k++ {
		idx = (start + k) % len(b.backends)
		c, err := net.DialTimeout("tcp", b.backends[idx], 2*time.Second)
		if err == nil {
			backend = c
			break
		}
	}
	if backend == nil {
		return
	}
	b.track(backend, true)
	defer func() { backend.Close(); b.track(backend, false) }()
	done := make(chan struct{}, 2)
	pipe := func(dst net.Conn, src io.Reader) {
		io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(backend, noteReads{client, func() { b.used(idx) }})
	go pipe(client, backend)
	<-done
	<-done
}

// noteReads is a connection whose reads call read when they return bytes.
type noteReads struct {
	net.Conn
	read func()
}

func (r noteReads) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	if n > 0 {
		r.read()
	}
	return n, err
}
