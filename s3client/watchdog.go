package s3client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// ErrStalled is the cause of a request that was given up because its
// body (sent or received) made no progress for Options.IdleTimeout, or
// because its answer did not come within Options.RequestTimeout. It is
// retried like a 5xx.
var ErrStalled = errors.New("no progress")

// watchdog cancels one attempt's context when the attempt stalls: when
// no Read of a watched body returns within idle, or when the answer to a
// request without a body is not there by a deadline. Stopped watchdogs
// cost nothing.
type watchdog struct {
	cancel context.CancelFunc
	fired  atomic.Bool
	armed  atomic.Int64 // the duration of the last countdown started
	idle   time.Duration
	timer  *time.Timer
}

// newWatchdog returns a stopped watchdog that cancels with cancel.
func newWatchdog(cancel context.CancelFunc, idle time.Duration) *watchdog {
	w := &watchdog{cancel: cancel, idle: idle}
	w.timer = time.AfterFunc(time.Hour, func() {
		w.fired.Store(true)
		w.cancel()
	})
	w.timer.Stop()
	return w
}

// arm starts (or restarts) the countdown of d.
func (w *watchdog) arm(d time.Duration) {
	w.armed.Store(int64(d))
	w.timer.Reset(d)
}

// stop ends the countdown.
func (w *watchdog) stop() { w.timer.Stop() }

// explain turns the error of an operation the watchdog ended into one
// that says so; other errors are returned as they are.
func (w *watchdog) explain(err error, what string) error {
	if err == nil || err == io.EOF || !w.fired.Load() {
		return err
	}
	return fmt.Errorf("%s: %w for %s (%v)", what, ErrStalled, time.Duration(w.armed.Load()), err)
}

// watchedBody is a response body whose reads are bounded by the
// watchdog; closing it ends the attempt.
type watchedBody struct {
	rc       io.ReadCloser
	w        *watchdog
	what     string
	received func(int64) // counts the bytes read (Observer.BytesReceived)
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.w.arm(b.w.idle)
	n, err := b.rc.Read(p)
	b.w.stop()
	if n > 0 && b.received != nil {
		b.received(int64(n))
	}
	return n, b.w.explain(err, b.what)
}

func (b *watchedBody) Close() error {
	b.w.stop()
	err := b.rc.Close()
	b.w.cancel()
	return err
}

// watchedUpload is a request body whose transmission must keep moving:
// the transport asks for the next bytes only once it has written the
// previous ones, so a long gap between reads means the connection stalled.
// Once all is read, the last bytes and the server's answer get answer.
type watchedUpload struct {
	r      io.Reader
	w      *watchdog
	answer time.Duration
}

func (u *watchedUpload) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if err == nil {
		u.w.arm(u.w.idle) // until the transport comes back for more
	} else {
		u.w.arm(u.answer) // the caller stops it when the answer is in
	}
	return n, err
}

func (u *watchedUpload) Close() error { return nil }
