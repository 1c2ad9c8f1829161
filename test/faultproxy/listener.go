package faultproxy

import (
	"io"
	"net"
	"sync"
	"time"
)

// listener tracks every connection it accepts, hijacked ones included,
// so that SetDown and Close can break them all, and while down resets
// each new connection as soon as it is accepted.
type listener struct {
	net.Listener

	mu      sync.Mutex // protects the fields below
	down    bool
	refused int64
	conns   map[*conn]struct{}
}

// newListener wraps l.
func newListener(l net.Listener) *listener {
	return &listener{Listener: l, conns: make(map[*conn]struct{})}
}

// Accept returns the next connection, resetting those that arrive while
// the listener is down.
func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c := &conn{Conn: nc, l: l}
		l.mu.Lock()
		if l.down {
			l.refused++
			l.mu.Unlock()
			c.reset()
			continue
		}
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		return c, nil
	}
}

// setDown sets the outage state; going down resets every open connection.
func (l *listener) setDown(down bool) {
	l.mu.Lock()
	l.down = down
	var open []*conn
	if down {
		open = l.snapshotLocked()
	}
	l.mu.Unlock()
	for _, c := range open {
		c.reset()
	}
}

// closeAll closes every open connection, hijacked ones included.
func (l *listener) closeAll() {
	l.mu.Lock()
	open := l.snapshotLocked()
	l.mu.Unlock()
	for _, c := range open {
		c.Close()
	}
}

// snapshotLocked returns the open connections; l.mu must be held.
func (l *listener) snapshotLocked() []*conn {
	open := make([]*conn, 0, len(l.conns))
	for c := range l.conns {
		open = append(open, c)
	}
	return open
}

// refusedConns returns how many connections were reset on arrival.
func (l *listener) refusedConns() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refused
}

// conn is an accepted client connection that leaves the listener's set
// when closed.
type conn struct {
	net.Conn
	l    *listener
	once sync.Once
}

// Close closes the connection with the usual FIN (or RST if the kernel
// still holds unread data).
func (c *conn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		err = c.Conn.Close()
	})
	return err
}

// reset closes the connection with a TCP RST.
func (c *conn) reset() {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// closeWrite sends FIN and waits, up to a second or until done is
// closed, for the client to close its side before closing the socket:
// closing with unread bytes in the kernel would turn the FIN into a RST.
func (c *conn) closeWrite(r io.Reader, done <-chan struct{}) {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	c.waitClose(r, done)
}

// waitClose reads and discards from r (the connection's buffered
// reader) until the client closes its side or done is closed, then
// closes the connection.
func (c *conn) waitClose(r io.Reader, done <-chan struct{}) {
	eof := make(chan struct{})
	go func() {
		io.Copy(io.Discard, r)
		close(eof)
	}()
	select {
	case <-eof:
	case <-done:
	}
	c.Close()
	<-eof
}
