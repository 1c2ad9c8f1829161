package faultproxy_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/test/faultproxy"
)

const objSize = 1 << 20

// getRule is a rule for every GetObject.
func getRule(f faultproxy.Fault, after int64) faultproxy.Rule {
	return faultproxy.Rule{Ops: []faultproxy.Op{faultproxy.GetObject}, Fault: f, After: after}
}

func TestStatusFaults(t *testing.T) {
	for _, tc := range []struct {
		fault  faultproxy.Fault
		status int
		code   string
	}{
		{faultproxy.Status500, 500, "<Code>InternalError</Code>"},
		{faultproxy.Status503, 503, "<Code>ServiceUnavailable</Code>"},
		{faultproxy.SlowDown, 503, "<Code>SlowDown</Code>"},
	} {
		t.Run(string(tc.fault), func(t *testing.T) {
			s, p := startStore(t)
			s.put("/b/k", pattern(100))
			p.SetRules(faultproxy.Rule{Fault: tc.fault})
			c := newClient(t, 5*time.Second)

			resp, err := c.Get(p.URL() + "/b/k")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.code) {
				t.Errorf("GET: got %d %q, want %d with %s", resp.StatusCode, body, tc.status, tc.code)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/xml" {
				t.Errorf("Content-Type %q, want application/xml", ct)
			}

			// A PUT, with and without 100-continue: answered, not written.
			for i, expect := range []bool{false, true} {
				req, _ := http.NewRequest("PUT", p.URL()+"/b/new", bytes.NewReader(pattern(300<<10)))
				if expect {
					req.Header.Set("Expect", "100-continue")
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatalf("PUT %d: %v", i, err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.status {
					t.Errorf("PUT %d: status %d, want %d", i, resp.StatusCode, tc.status)
				}
			}
			if _, ok := s.object("/b/new"); ok || s.requests() != 0 {
				t.Errorf("backend saw %d requests, object written %v; want none", s.requests(), ok)
			}
			wantFaults(t, p, faultproxy.GetObject, tc.fault, 1)
			wantFaults(t, p, faultproxy.PutObject, tc.fault, 2)
		})
	}
}

// isReset reports whether err is a connection reset (or, for a client
// still writing its body, a broken pipe).
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func TestReset(t *testing.T) {
	s, p := startStore(t)
	s.put("/b/k", pattern(100))
	p.SetRules(faultproxy.Rule{Fault: faultproxy.Reset})

	_, err := newClient(t, 5*time.Second).Get(p.URL() + "/b/k")
	if !isReset(err) {
		t.Errorf("GET: got %v, want connection reset", err)
	}
	// With 100-continue (as s3client sends), the client waits and reads
	// the RST; without, it may fail first writing its body on a dead
	// connection.
	req, _ := http.NewRequest("PUT", p.URL()+"/b/new", bytes.NewReader(pattern(1<<20)))
	req.Header.Set("Expect", "100-continue")
	_, err = newClient(t, 5*time.Second).Do(req)
	if !isReset(err) {
		t.Errorf("PUT with 100-continue: got %v, want connection reset", err)
	}
	req, _ = http.NewRequest("PUT", p.URL()+"/b/new", bytes.NewReader(pattern(1<<20)))
	if _, err = newClient(t, 5*time.Second).Do(req); err == nil {
		t.Error("PUT: no error, want a broken connection")
	}
	if _, ok := s.object("/b/new"); ok || s.requests() != 0 {
		t.Errorf("backend saw %d requests, object written %v; want none", s.requests(), ok)
	}
	wantFaults(t, p, faultproxy.GetObject, faultproxy.Reset, 1)
	wantFaults(t, p, faultproxy.PutObject, faultproxy.Reset, 2)
}

func TestResetMidBody(t *testing.T) {
	s, p := startStore(t)
	s.put("/b/k", pattern(objSize))
	p.SetRules(getRule(faultproxy.ResetMidBody, 1000))

	resp, err := newClient(t, 5*time.Second).Get(p.URL() + "/b/k")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != objSize {
		t.Errorf("got %d with length %d, want 200 with %d", resp.StatusCode, resp.ContentLength, objSize)
	}
	b, err := io.ReadAll(resp.Body)
	if !isReset(err) || len(b) > 1000 {
		t.Errorf("read %d bytes, %v; want at most 1000, connection reset", len(b), err)
	}
	wantFaults(t, p, faultproxy.GetObject, faultproxy.ResetMidBody, 1)
}

func TestTruncate(t *testing.T) {
	s, p := startStore(t)
	want := pattern(objSize)
	s.put("/b/k", want)
	p.SetRules(getRule(faultproxy.Truncate, 5000))

	resp, err := newClient(t, 5*time.Second).Get(p.URL() + "/b/k")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ContentLength != objSize {
		t.Errorf("Content-Length %d, want %d", resp.ContentLength, objSize)
	}
	b, err := io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) || !bytes.Equal(b, want[:5000]) {
		t.Errorf("read %d bytes, %v; want the first 5000, unexpected EOF", len(b), err)
	}
	wantFaults(t, p, faultproxy.GetObject, faultproxy.Truncate, 1)
}

func TestStall(t *testing.T) {
	s, p := startStore(t)
	s.put("/b/k", pattern(objSize))
	p.SetRules(getRule(faultproxy.Stall, 4096))

	start := time.Now()
	resp, err := newClient(t, 300*time.Millisecond).Get(p.URL() + "/b/k")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || len(b) != 4096 {
		t.Errorf("read %d bytes, %v; want 4096, a timeout", len(b), err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("gave up after %v", d)
	}
	wantFaults(t, p, faultproxy.GetObject, faultproxy.Stall, 1)
}

func TestStallHeaders(t *testing.T) {
	s, p := startStore(t)
	s.put("/b/k", pattern(100))
	p.SetRules(faultproxy.Rule{Fault: faultproxy.StallHeaders})

	_, err := newClient(t, 300*time.Millisecond).Get(p.URL() + "/b/k")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("GET: got %v, want a timeout", err)
	}
	req, _ := http.NewRequest("PUT", p.URL()+"/b/new", bytes.NewReader(pattern(1<<20)))
	_, err = newClient(t, 300*time.Millisecond).Do(req)
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("PUT: got %v, want a timeout", err)
	}
	if s.requests() != 0 {
		t.Errorf("backend saw %d requests, want none", s.requests())
	}
	wantFaults(t, p, faultproxy.GetObject, faultproxy.StallHeaders, 1)
	wantFaults(t, p, faultproxy.PutObject, faultproxy.StallHeaders, 1)
}

// TestCloseUnblocksStalls checks that Close frees clients stalled in
// headers and in a body, which have no timeout of their own.
func TestCloseUnblocksStalls(t *testing.T) {
	s, p := startStore(t)
	s.put("/b/k", pattern(objSize))
	s.put("/b/h", pattern(10))
	p.SetRules(
		faultproxy.Rule{KeyContains: "h", Fault: faultproxy.StallHeaders},
		getRule(faultproxy.Stall, 10),
	)
	c := newClient(t, 0)
	resp, err := c.Get(p.URL() + "/b/k")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	errs := make(chan error, 2)
	go func() {
		_, err := io.ReadAll(resp.Body)
		errs <- err
	}()
	go func() {
		_, err := c.Get(p.URL() + "/b/h")
		errs <- err
	}()
	for p.Faults(faultproxy.GetObject, faultproxy.StallHeaders) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	p.Close()
	for range 2 {
		select {
		case err := <-errs:
			if err == nil {
				t.Error("stalled request succeeded")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close left a client stalled")
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
}

func TestFlipByte(t *testing.T) {
	s, p := startStore(t)
	want := pattern(100 << 10)
	s.put("/b/k", want)
	p.SetRules(faultproxy.Rule{Ops: []faultproxy.Op{faultproxy.GetObject, faultproxy.PutObject}, Fault: faultproxy.FlipByte, After: 12345})
	c := newClient(t, 5*time.Second)

	resp, err := c.Get(p.URL() + "/b/k")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	oneBitAt(t, "GET", got, want, 12345)

	req, _ := http.NewRequest("PUT", p.URL()+"/b/up", bytes.NewReader(want))
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	stored, _ := s.object("/b/up")
	oneBitAt(t, "PUT", stored, want, 12345)
	wantFaults(t, p, faultproxy.GetObject, faultproxy.FlipByte, 1)
	wantFaults(t, p, faultproxy.PutObject, faultproxy.FlipByte, 1)
}

// oneBitAt fails unless got is want with one bit of byte at changed.
func oneBitAt(t *testing.T, what string, got, want []byte, at int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d bytes, want %d", what, len(got), len(want))
	}
	var diff []int
	for i := range got {
		if got[i] != want[i] {
			diff = append(diff, i)
		}
	}
	if len(diff) != 1 || diff[0] != at || got[at]^want[at] != 1 {
		t.Errorf("%s: bytes differ at %v, want only at %d by one bit", what, diff, at)
	}
}

// TestLostAck checks the body faults on a response without a body: the
// PUT is done on the backend, the client gets no answer.
func TestLostAck(t *testing.T) {
	for _, tc := range []struct {
		fault faultproxy.Fault
		ok    func(error) bool
	}{
		{faultproxy.ResetMidBody, isReset},
		{faultproxy.Truncate, func(err error) bool { return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) }},
		{faultproxy.Stall, func(err error) bool { var ne net.Error; return errors.As(err, &ne) && ne.Timeout() }},
	} {
		t.Run(string(tc.fault), func(t *testing.T) {
			s, p := startStore(t)
			p.SetRules(faultproxy.Rule{Ops: []faultproxy.Op{faultproxy.PutObject}, Fault: tc.fault})
			req, _ := http.NewRequest("PUT", p.URL()+"/b/k", bytes.NewReader(pattern(1000)))
			_, err := newClient(t, 500*time.Millisecond).Do(req)
			if !tc.ok(err) {
				t.Errorf("PUT: got %v", err)
			}
			if b, _ := s.object("/b/k"); len(b) != 1000 {
				t.Errorf("backend holds %d bytes, want 1000", len(b))
			}
			wantFaults(t, p, faultproxy.PutObject, tc.fault, 1)
		})
	}
}

func TestSetDown(t *testing.T) {
	s, p := startStore(t)
	s.put("/b/k", pattern(objSize))
	c := newClient(t, 5*time.Second)
	get := func() error {
		resp, err := c.Get(p.URL() + "/b/k")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}
	// An open, stalled connection is cut too.
	p.SetRules(getRule(faultproxy.Stall, 10))
	resp, err := c.Get(p.URL() + "/b/k")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p.SetRules()

	p.SetDown(true)
	if _, err := io.ReadAll(resp.Body); !isReset(err) {
		t.Errorf("stalled body: got %v, want connection reset", err)
	}
	for i := range 3 {
		if err := get(); err == nil {
			t.Errorf("GET %d while down succeeded", i)
		}
	}
	if st := p.Stats(); st.Refused == 0 {
		t.Errorf("no connection refused while down: %+v", st)
	}
	p.SetDown(false)
	if err := get(); err != nil {
		t.Errorf("GET after the outage: %v", err)
	}
}
