package s3client

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// CredentialsProvider gives the credentials a request is signed with. The
// client asks it before every attempt, so it must answer quickly: a
// provider whose credentials expire belongs behind a RenewingCredentials,
// which answers from memory and renews in the background.
type CredentialsProvider interface {
	Retrieve(ctx context.Context) (Credentials, error)
}

// credentialsInvalidator is a CredentialsProvider that can be told that
// the server refused credentials it gave (ExpiredToken and the like): the
// client then retries the request once with what Retrieve gives next.
type credentialsInvalidator interface {
	Invalidate(ctx context.Context, refused Credentials) error
}

// StaticCredentials is a CredentialsProvider of fixed keys.
type StaticCredentials Credentials

// Retrieve returns the keys.
func (s StaticCredentials) Retrieve(context.Context) (Credentials, error) {
	return Credentials(s), nil
}

// Renewal timing of RenewingCredentials.
const (
	// renewAhead is the most time before expiry at which credentials are
	// renewed; short-lived ones are renewed when 3/4 of their life is over.
	renewAhead = 5 * time.Minute
	// renewRetryMin and renewRetryMax bound the wait before another try
	// after a failed renewal.
	renewRetryMin = time.Second
	renewRetryMax = time.Minute
	// expirySlack is how long before their expiry credentials are no
	// longer used for a new request: it must reach the server in time.
	expirySlack = 10 * time.Second
)

// RenewingCredentials serves credentials from memory and renews those that
// expire before they do, in the background, so a request never waits for
// a renewal while the current credentials are still good. Only when they
// have expired (a renewal failed for their whole remaining life) does
// Retrieve wait for a fresh retrieval. It is safe for concurrent use.
type RenewingCredentials struct {
	src CredentialsProvider
	log *logrus.Entry
	now func() time.Time

	mu        sync.Mutex // protects the fields below
	cur       Credentials
	renewals  int           // successful retrievals after the first
	inflight  chan struct{} // closed when the retrieval in flight ends; nil if none
	lastErr   error         // of the last failed retrieval, until one succeeds
	timer     *time.Timer   // the next background renewal; nil if none
	failures  int           // background renewals failed in a row
	closed    bool
	renewedCB func() // called after each successful renewal (metrics); may be nil
}

// NewRenewingCredentials retrieves credentials from src once (an error
// there is the caller's: the mount cannot start) and, if they expire,
// arranges their renewal. log gets one info line per renewal and a
// warning per failed one, never a secret. Close stops the renewals.
func NewRenewingCredentials(ctx context.Context, src CredentialsProvider, log *logrus.Entry) (*RenewingCredentials, error) {
	return newRenewing(ctx, src, log, time.Now)
}

func newRenewing(ctx context.Context, src CredentialsProvider, log *logrus.Entry, now func() time.Time) (*RenewingCredentials, error) {
	cred, err := src.Retrieve(ctx)
	if err != nil {
		return nil, err
	}
	return newRenewingFrom(cred, src, log, now), nil
}

// newRenewingFrom is NewRenewingCredentials with first already retrieved.
func newRenewingFrom(first Credentials, src CredentialsProvider, log *logrus.Entry, now func() time.Time) *RenewingCredentials {
	if log == nil {
		l := logrus.New()
		l.SetLevel(logrus.PanicLevel)
		log = logrus.NewEntry(l)
	}
	r := &RenewingCredentials{src: src, log: log, now: now, cur: first}
	r.mu.Lock()
	r.scheduleLocked(r.renewAt(first))
	r.mu.Unlock()
	return r
}

// OnRenewal sets f to be called after each successful renewal.
func (r *RenewingCredentials) OnRenewal(f func()) {
	r.mu.Lock()
	r.renewedCB = f
	r.mu.Unlock()
}

// Renewals returns how many times the credentials were renewed.
func (r *RenewingCredentials) Renewals() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.renewals
}

// Close stops background renewals.
func (r *RenewingCredentials) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
}

// usable reports whether cred may still sign a new request.
func (r *RenewingCredentials) usable(cred Credentials) bool {
	return cred.Expires.IsZero() || r.now().Add(expirySlack).Before(cred.Expires)
}

// renewAt is when cred, just retrieved, should be renewed; zero if never:
// when 3/4 of its usable life (up to expirySlack before it expires) is
// over, or renewAhead before the end of that life if that is later.
func (r *RenewingCredentials) renewAt(cred Credentials) time.Time {
	if cred.Expires.IsZero() {
		return time.Time{}
	}
	now := r.now()
	end := cred.Expires.Add(-expirySlack)
	at := now.Add(end.Sub(now) * 3 / 4)
	if early := end.Add(-renewAhead); early.After(at) {
		at = early
	}
	return at
}

// scheduleLocked arranges a background renewal at t (none if t is zero).
// r.mu must be held.
func (r *RenewingCredentials) scheduleLocked(t time.Time) {
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	if t.IsZero() || r.closed {
		return
	}
	r.timer = time.AfterFunc(max(t.Sub(r.now()), 0), r.background)
}

// background is the timer's renewal: it retrieves, and on failure tries
// again later, while requests go on with the current credentials.
func (r *RenewingCredentials) background() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.refresh(ctx, nil); err != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.failures++
		wait := min(renewRetryMin<<min(r.failures-1, 10), renewRetryMax)
		if left := r.cur.Expires.Sub(r.now()); left > 0 && left/4 < wait {
			wait = max(left/4, renewRetryMin)
		}
		r.log.Warnf("credentials: renewal failed (%v); still using the current ones (expire at %s), trying again in %s",
			err, r.cur.Expires.UTC().Format(time.RFC3339), wait.Round(time.Second))
		r.scheduleLocked(r.now().Add(wait))
	}
}

// refresh retrieves fresh credentials, or waits for the retrieval already
// in flight. With refused set, a retrieval happens only if the current
// credentials are still those (another may have replaced them already).
func (r *RenewingCredentials) refresh(ctx context.Context, refused *Credentials) error {
	r.mu.Lock()
	if refused != nil && !sameKeys(r.cur, *refused) && r.inflight == nil {
		r.mu.Unlock()
		return nil
	}
	ch := r.inflight
	if ch == nil {
		ch = make(chan struct{})
		r.inflight = ch
		r.mu.Unlock()
		go r.retrieve(ch)
	} else {
		r.mu.Unlock()
	}
	select {
	case <-ch:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// retrieve runs one retrieval from the source and closes ch when done. It
// has its own time limit, not a request's: one impatient caller must not
// fail the retrieval that others wait for.
func (r *RenewingCredentials) retrieve(ch chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cred, err := r.src.Retrieve(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	defer close(ch)
	r.inflight = nil
	if err != nil {
		r.lastErr = err
		return
	}
	r.lastErr = nil
	r.failures = 0
	r.cur = cred
	r.renewals++
	exp := "never"
	if !cred.Expires.IsZero() {
		exp = fmt.Sprintf("at %s (in %s)", cred.Expires.UTC().Format(time.RFC3339), cred.Expires.Sub(r.now()).Round(time.Second))
	}
	r.log.WithField("renewals", r.renewals).Infof("credentials renewed: access key %s, expire %s", redactKey(cred.AccessKey), exp)
	r.scheduleLocked(r.renewAt(cred))
	if r.renewedCB != nil {
		r.renewedCB()
	}
}

// Retrieve returns the current credentials at once while they are usable;
// once expired, it waits for a fresh retrieval.
func (r *RenewingCredentials) Retrieve(ctx context.Context) (Credentials, error) {
	for tries := 0; ; tries++ {
		r.mu.Lock()
		cur := r.cur
		r.mu.Unlock()
		if r.usable(cur) {
			return cur, nil
		}
		if tries > 0 {
			return Credentials{}, fmt.Errorf("credentials renewed but already expired (at %s)", cur.Expires.UTC().Format(time.RFC3339))
		}
		if err := r.refresh(ctx, nil); err != nil {
			return Credentials{}, fmt.Errorf("credentials expired at %s and cannot be renewed: %w", cur.Expires.UTC().Format(time.RFC3339), err)
		}
	}
}

// Invalidate is told that the server refused refused: unless they were
// replaced already, fresh credentials are retrieved now, and the caller
// waits for them.
func (r *RenewingCredentials) Invalidate(ctx context.Context, refused Credentials) error {
	return r.refresh(ctx, &refused)
}

// sameKeys reports whether a and b are the same credentials.
func sameKeys(a, b Credentials) bool {
	return a.AccessKey == b.AccessKey && a.SessionToken == b.SessionToken && a.SecretKey == b.SecretKey
}

// redactKey shows enough of an access key id to tell keys apart in a log:
// its first four characters. (An access key id is not a secret, but
// temporary ones are better not spread whole.)
func redactKey(id string) string {
	if len(id) <= 4 {
		return id
	}
	return id[:4] + "…"
}
