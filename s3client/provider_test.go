package s3client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

// fakeSource hands out credentials K1, K2, ... each living life; a
// retrieval waits for gate (if set) and fails while fail is set.
type fakeSource struct {
	life  time.Duration
	calls atomic.Int32
	fail  atomic.Bool
	gate  chan struct{}
}

func (f *fakeSource) Retrieve(ctx context.Context) (Credentials, error) {
	n := f.calls.Add(1)
	if f.gate != nil && n > 1 {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return Credentials{}, ctx.Err()
		}
	}
	if f.fail.Load() {
		return Credentials{}, errors.New("source is down")
	}
	c := Credentials{AccessKey: fmt.Sprintf("K%d", n), SecretKey: "SECRETVALUE", SessionToken: fmt.Sprintf("TOKEN-%d", n)}
	if f.life > 0 {
		c.Expires = time.Now().Add(f.life)
	}
	return c, nil
}

func TestRenewAt(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &RenewingCredentials{now: func() time.Time { return now }}
	for _, tt := range []struct {
		life, want time.Duration
	}{
		{time.Hour, 55*time.Minute - expirySlack},                  // 5 minutes ahead of the usable end
		{15 * time.Minute, (15*time.Minute - expirySlack) * 3 / 4}, // 3/4 of the usable life
		{expirySlack + 40*time.Second, 30 * time.Second},
	} {
		got := r.renewAt(Credentials{Expires: now.Add(tt.life)}).Sub(now)
		if got != tt.want {
			t.Errorf("life %s: renew after %s, want %s", tt.life, got, tt.want)
		}
	}
	if got := r.renewAt(Credentials{}); !got.IsZero() {
		t.Errorf("keys that do not expire: renew at %s, want never", got)
	}
}

// TestRenewingInBackground: credentials that live expirySlack + 800ms
// (usable for 800ms) are renewed at 3/4 of that, in the background, while
// Retrieve answers at once all along.
func TestRenewingInBackground(t *testing.T) {
	src := &fakeSource{life: expirySlack + 800*time.Millisecond}
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.InfoLevel)
	r, err := NewRenewingCredentials(context.Background(), src, logrus.NewEntry(log))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	first, _ := r.Retrieve(ctx)
	if first.AccessKey != "K1" {
		t.Fatalf("first credentials %q, want K1", first.AccessKey)
	}
	deadline := time.Now().Add(3 * src.life)
	for r.Renewals() < 2 && time.Now().Before(deadline) {
		start := time.Now()
		c, err := r.Retrieve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 50*time.Millisecond {
			t.Errorf("Retrieve took %s: it waited for a renewal", d)
		}
		if !r.usable(c) {
			t.Errorf("Retrieve gave expired credentials %s", c.AccessKey)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := r.Renewals(); n < 2 {
		t.Fatalf("%d renewals in %s, want 2", n, 3*src.life)
	}
	c, _ := r.Retrieve(ctx)
	if c.AccessKey == "K1" {
		t.Errorf("still K1 after %d renewals", r.Renewals())
	}
	var infos int
	for _, e := range hook.AllEntries() {
		if strings.Contains(e.Message, "credentials renewed") && e.Level == logrus.InfoLevel {
			infos++
		}
		if strings.Contains(e.Message, "SECRETVALUE") || strings.Contains(e.Message, "TOKEN-") {
			t.Errorf("log shows a secret or token: %q", e.Message)
		}
	}
	if infos < 2 {
		t.Errorf("%d info lines about renewals, want one per renewal", infos)
	}
}

// TestRenewingNeverBlocksWhileValid: a renewal that hangs does not hold up
// Retrieve while the current credentials are good.
func TestRenewingNeverBlocksWhileValid(t *testing.T) {
	src := &fakeSource{life: expirySlack + 400*time.Millisecond, gate: make(chan struct{})}
	r, err := NewRenewingCredentials(context.Background(), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Renewal starts at 300ms and hangs on the gate.
	for src.calls.Load() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	c, err := r.Retrieve(context.Background())
	if err != nil || c.AccessKey != "K1" {
		t.Fatalf("during a hung renewal: %v, %q; want K1", err, c.AccessKey)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("Retrieve took %s during a renewal", d)
	}
	close(src.gate)
	for r.Renewals() < 1 {
		time.Sleep(10 * time.Millisecond)
	}
	if c, _ := r.Retrieve(context.Background()); c.AccessKey != "K2" {
		t.Errorf("after the renewal: %q, want K2", c.AccessKey)
	}
}

// TestRenewingExpiredWaits: when renewals fail until the credentials
// expire, Retrieve fails (rather than sign with dead keys); once the source
// is back, Retrieve waits for a retrieval and gets fresh ones.
func TestRenewingExpiredWaits(t *testing.T) {
	src := &fakeSource{life: expirySlack + 300*time.Millisecond}
	log, hook := test.NewNullLogger()
	r, err := NewRenewingCredentials(context.Background(), src, logrus.NewEntry(log))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src.fail.Store(true)
	time.Sleep(400 * time.Millisecond)
	if _, err := r.Retrieve(context.Background()); err == nil || !strings.Contains(err.Error(), "source is down") {
		t.Errorf("expired, source down: got %v, want the source's error", err)
	}
	warned := false
	for _, e := range hook.AllEntries() {
		warned = warned || e.Level == logrus.WarnLevel && strings.Contains(e.Message, "renewal failed")
	}
	if !warned {
		t.Error("no warning about the failed background renewal")
	}
	src.fail.Store(false)
	c, err := r.Retrieve(context.Background())
	if err != nil || c.AccessKey == "K1" || !r.usable(c) {
		t.Errorf("source back: got %v, %+v; want fresh credentials", err, c.AccessKey)
	}
}

func TestInvalidate(t *testing.T) {
	src := &fakeSource{}
	r, err := NewRenewingCredentials(context.Background(), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	k1, _ := r.Retrieve(context.Background())
	if err := r.Invalidate(context.Background(), k1); err != nil {
		t.Fatal(err)
	}
	k2, _ := r.Retrieve(context.Background())
	if k2.AccessKey != "K2" {
		t.Fatalf("after invalidating K1: %q, want K2", k2.AccessKey)
	}
	// A late refusal of K1 (a request signed before the renewal) must
	// not renew again.
	if err := r.Invalidate(context.Background(), k1); err != nil {
		t.Fatal(err)
	}
	if n := src.calls.Load(); n != 2 {
		t.Errorf("%d retrievals after invalidating stale K1, want 2", n)
	}
}

// TestInvalidateConcurrent: many requests refused at once cause one
// retrieval, not one each.
func TestInvalidateConcurrent(t *testing.T) {
	src := &fakeSource{gate: make(chan struct{})}
	r, err := NewRenewingCredentials(context.Background(), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	k1, _ := r.Retrieve(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Invalidate(context.Background(), k1); err != nil {
				t.Error(err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(src.gate)
	wg.Wait()
	if n := src.calls.Load(); n != 2 {
		t.Errorf("%d retrievals for 20 refusals of K1, want 2", n)
	}
}

// credServer answers 200 to requests signed with an access key in good,
// and 400 code otherwise; it counts requests per access key.
func credServer(t *testing.T, code string, good ...string) (*httptest.Server, *sync.Map) {
	t.Helper()
	var seen sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		_, rest, _ := strings.Cut(auth, "Credential=")
		key, _, _ := strings.Cut(rest, "/")
		n, _ := seen.LoadOrStore(key, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		for _, g := range good {
			if key == g {
				w.WriteHeader(http.StatusOK)
				if r.Method == http.MethodGet {
					fmt.Fprint(w, `<ListAllMyBucketsResult><Buckets></Buckets></ListAllMyBucketsResult>`)
				}
				return
			}
		}
		writeError(w, http.StatusBadRequest, code)
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func count(m *sync.Map, key string) int {
	n, ok := m.Load(key)
	if !ok {
		return 0
	}
	return int(n.(*atomic.Int32).Load())
}

// TestClientRetriesOnceWithFreshCredentials: a request refused with
// ExpiredToken (or InvalidAccessKeyId, InvalidToken) is sent again, once,
// with credentials retrieved after the refusal.
func TestClientRetriesOnceWithFreshCredentials(t *testing.T) {
	for _, code := range []string{"ExpiredToken", "InvalidAccessKeyId", "InvalidToken"} {
		t.Run(code, func(t *testing.T) {
			srv, seen := credServer(t, code, "K2")
			r, err := NewRenewingCredentials(context.Background(), &fakeSource{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			c, err := New(Options{Endpoint: srv.URL, CredentialsProvider: r, RetryBase: time.Millisecond, Signature: SignatureV4})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.ListBuckets(context.Background()); err != nil {
				t.Fatalf("ListBuckets: %v", err)
			}
			if k1, k2 := count(seen, "K1"), count(seen, "K2"); k1 != 1 || k2 != 1 {
				t.Errorf("requests with K1, K2: %d, %d; want 1, 1", k1, k2)
			}
		})
	}
}

// TestClientRetriesOnlyOnce: credentials the server keeps refusing fail
// the request after one retry with fresh ones.
func TestClientRetriesOnlyOnce(t *testing.T) {
	srv, seen := credServer(t, "ExpiredToken")
	r, err := NewRenewingCredentials(context.Background(), &fakeSource{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Endpoint: srv.URL, CredentialsProvider: r, RetryBase: time.Millisecond, Signature: SignatureV4})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListBuckets(context.Background())
	var s3err *Error
	if !errors.As(err, &s3err) || s3err.Code != "ExpiredToken" {
		t.Fatalf("ListBuckets: %v, want the server's refusal", err)
	}
	total := count(seen, "K1") + count(seen, "K2") + count(seen, "K3")
	if total != 2 || count(seen, "K3") != 0 {
		t.Errorf("%d requests (K1 %d, K2 %d, K3 %d), want 2: one retry", total, count(seen, "K1"), count(seen, "K2"), count(seen, "K3"))
	}
}

// TestClientStaticKeysNotRetried: fixed keys cannot change, so a refusal
// is final at once.
func TestClientStaticKeysNotRetried(t *testing.T) {
	srv, seen := credServer(t, "InvalidAccessKeyId")
	c, err := New(Options{Endpoint: srv.URL, Credentials: Credentials{AccessKey: "K1", SecretKey: "s"}, RetryBase: time.Millisecond, Signature: SignatureV4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListBuckets(context.Background()); err == nil {
		t.Fatal("ListBuckets with refused static keys succeeded")
	}
	if n := count(seen, "K1"); n != 1 {
		t.Errorf("%d requests with refused static keys, want 1", n)
	}
}

// TestClientHeadRetriedAfterRenewal: a HEAD's bare 400 names no error; it
// is retried once only if the credentials changed since it was signed.
func TestClientHeadRetriedAfterRenewal(t *testing.T) {
	srv, seen := credServer(t, "ExpiredToken", "K2")
	r, err := NewRenewingCredentials(context.Background(), &fakeSource{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Endpoint: srv.URL, CredentialsProvider: r, RetryBase: time.Millisecond, Signature: SignatureV4})
	if err != nil {
		t.Fatal(err)
	}
	// Not renewed: the 400 stands, and no retrieval is forced.
	if err := c.HeadBucket(context.Background(), "b"); err == nil {
		t.Fatal("HEAD refused with unchanged credentials succeeded")
	}
	if n := count(seen, "K1"); n != 1 {
		t.Errorf("%d HEADs with K1, want 1", n)
	}
	// Renewed while the HEAD was under way: retried with K2.
	k1 := Credentials{AccessKey: "K1", SecretKey: "SECRETVALUE", SessionToken: "TOKEN-1"}
	if err := r.Invalidate(context.Background(), k1); err != nil {
		t.Fatal(err)
	}
	_, err = c.once(context.Background(), &request{op: "HeadBucket", method: http.MethodHead, bucket: "b"}, time.Now().Add(time.Second), k1)
	if err == nil {
		t.Fatal("HEAD with K1 succeeded")
	}
	if !c.refreshRefused(context.Background(), &request{method: http.MethodHead}, err, k1) {
		t.Errorf("bare 400 to a HEAD signed with K1 after renewal to K2: not retried")
	}
}
