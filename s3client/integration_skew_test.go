package s3client_test

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

// statusCounter is a RoundTripper that records the status of every
// response it passes on.
type statusCounter struct {
	base http.RoundTripper

	mu       sync.Mutex // protects the field below
	statuses []int
}

func (s *statusCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	if err == nil {
		s.mu.Lock()
		s.statuses = append(s.statuses, resp.StatusCode)
		s.mu.Unlock()
	}
	return resp, err
}

// count returns how many responses had status, and how many there were.
func (s *statusCounter) count(status int) (n, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.statuses {
		if st == status {
			n++
		}
	}
	return n, len(s.statuses)
}

// skewOps are the calls a skewed client makes, each against bucket, where
// the object "dir/x" exists.
var skewOps = map[string]func(ctx context.Context, c *s3client.Client, bucket string) error{
	"HeadBucket": func(ctx context.Context, c *s3client.Client, bucket string) error {
		return c.HeadBucket(ctx, bucket)
	},
	"HeadObject": func(ctx context.Context, c *s3client.Client, bucket string) error {
		_, err := c.HeadObject(ctx, bucket, "dir/x")
		return err
	},
	"ListObjects": func(ctx context.Context, c *s3client.Client, bucket string) error {
		_, err := c.ListObjects(ctx, bucket, s3client.ListInput{Prefix: "dir/", Delimiter: "/"})
		return err
	},
	"PutObject": func(ctx context.Context, c *s3client.Client, bucket string) error {
		_, err := c.PutObject(ctx, bucket, "dir/y z", strings.NewReader("skewed"), 6, s3client.PutOptions{})
		return err
	},
	"GetObject": func(ctx context.Context, c *s3client.Client, bucket string) error {
		rc, _, err := c.GetObject(ctx, bucket, "dir/x", 0, -1)
		if err == nil {
			rc.Close()
		}
		return err
	},
	"DeleteObject": func(ctx context.Context, c *s3client.Client, bucket string) error {
		return c.DeleteObject(ctx, bucket, "dir/y z")
	},
}

func TestIntegrationClockSkew(t *testing.T) {
	for _, sig := range signatures {
		t.Run(sig, func(t *testing.T) {
			bucket := newBucket(t, newClient(t, sig))
			if _, err := newClient(t, sig).PutObject(testCtx(t), bucket, "dir/x", bytes.NewReader([]byte("x")), 1, s3client.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, skew := range []time.Duration{-20 * time.Minute, 20 * time.Minute} {
				// HEAD answers have no body to name RequestTimeTooSkewed.
				for _, first := range []string{"HeadBucket", "ListObjects", "PutObject"} {
					t.Run(skew.String()+"/"+first, func(t *testing.T) {
						testClockSkew(t, sig, bucket, skew, first)
					})
				}
			}
		})
	}
}

// testClockSkew checks that a client whose clock is off by skew gets
// through its first call, first, with one refused try, and through every
// later call without any, saying so in one warning.
func testClockSkew(t *testing.T, sig, bucket string, skew time.Duration, first string) {
	counter := &statusCounter{base: http.DefaultTransport}
	logger, hook := test.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	srv := integrationServer(t)
	c, err := s3client.New(s3client.Options{
		Endpoint:    srv.Endpoint,
		Signature:   sig,
		Credentials: s3client.Credentials{AccessKey: srv.AccessKey, SecretKey: srv.SecretKey},
		RetryBase:   10 * time.Millisecond,
		HTTPClient:  &http.Client{Transport: counter},
		Now:         func() time.Time { return time.Now().Add(skew) },
		Log:         logrus.NewEntry(logger),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if err := skewOps[first](ctx, c, bucket); err != nil {
		t.Fatalf("first call: %v", err)
	}
	if n, total := counter.count(http.StatusForbidden); n != 1 || total != 2 {
		t.Errorf("first call: got %d 403s in %d responses, want 1 in 2", n, total)
	}
	for _, name := range []string{"HeadBucket", "HeadObject", "ListObjects", "PutObject", "GetObject", "DeleteObject", first} {
		if err := skewOps[name](ctx, c, bucket); err != nil {
			t.Errorf("%s after the first call: %v", name, err)
		}
	}
	if n, total := counter.count(http.StatusForbidden); n != 1 || total != 9 {
		t.Errorf("got %d 403s in %d responses, want 1 in 9", n, total)
	}
	var warnings []string
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.WarnLevel {
			warnings = append(warnings, e.Message)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "skew") {
		t.Errorf("warnings: got %q, want one about the clock skew", warnings)
	}
	// The warning gives how far the server's clock is ahead of ours: -skew.
	if len(warnings) == 1 {
		m := regexp.MustCompile(`server time is (\S+) ahead`).FindStringSubmatch(warnings[0])
		if m == nil {
			t.Fatalf("warning %q does not say by how much", warnings[0])
		}
		if d, err := time.ParseDuration(m[1]); err != nil || (d+skew).Abs() > 2*time.Second {
			t.Errorf("warning %q: got offset %s, want %s", warnings[0], m[1], -skew)
		}
	}
}
