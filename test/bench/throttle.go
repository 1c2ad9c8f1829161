package main

import (
	"io"
	"net"
	"sync"
	"time"
)

// throttle is a TCP proxy on 127.0.0.1 to target that passes the
// server's answers at most rate bytes a second, all connections
// together: an S3 endpoint as fast as a remote one, for rows that
// compare work whose cost depends on how fast the server is.
type throttle struct {
	l      net.Listener
	target string
	rate   float64 // bytes a second

	mu   sync.Mutex // protects next
	next time.Time  // when the bytes reserved so far have all passed
}

// startThrottle listens on a free loopback port.
func startThrottle(target string, rate float64) (*throttle, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &throttle{l: l, target: target, rate: rate}
	go t.serve()
	return t, nil
}

// addr is the proxy's host:port.
func (t *throttle) addr() string { return t.l.Addr().String() }

func (t *throttle) close() { t.l.Close() }

func (t *throttle) serve() {
	for {
		c, err := t.l.Accept()
		if err != nil {
			return
		}
		go t.forward(c)
	}
}

// forward copies c to the target as it comes, and the target's bytes
// back paced.
func (t *throttle) forward(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", t.target)
	if err != nil {
		return
	}
	defer s.Close()
	go func() {
		io.Copy(s, c)
		s.(*net.TCPConn).CloseWrite()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			t.pace(n)
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			c.(*net.TCPConn).CloseWrite()
			return
		}
	}
}

// throttleBurst is the credit an idle proxy keeps: a sleep that
// overslept is made up for by the reads after it.
const throttleBurst = 20 * time.Millisecond

// pace waits until n more bytes may pass.
func (t *throttle) pace(n int) {
	t.mu.Lock()
	now := time.Now()
	if floor := now.Add(-throttleBurst); t.next.Before(floor) {
		t.next = floor
	}
	t.next = t.next.Add(time.Duration(float64(n) / t.rate * float64(time.Second)))
	wait := t.next.Sub(now)
	t.mu.Unlock()
	if wait > 0 {
		time.Sleep(wait)
	}
}
