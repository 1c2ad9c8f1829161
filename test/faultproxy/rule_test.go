package faultproxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/test/faultproxy"
)

// statuses GETs url n times and returns the status codes.
func statuses(t *testing.T, c *http.Client, url string, n int) []int {
	t.Helper()
	codes := make([]int, n)
	for i := range codes {
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes[i] = resp.StatusCode
	}
	return codes
}

func TestCount(t *testing.T) {
	s, p := startStore(t)
	s.put("/b/k", pattern(10))
	p.SetRules(faultproxy.Rule{Ops: []faultproxy.Op{faultproxy.GetObject}, Fault: faultproxy.Status503, Count: 2})
	c := newClient(t, 5*time.Second)

	got := statuses(t, c, p.URL()+"/b/k", 5)
	want := []int{503, 503, 200, 200, 200}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	wantFaults(t, p, faultproxy.GetObject, faultproxy.Status503, 2)
	if n := p.Requests(faultproxy.GetObject); n != 5 {
		t.Errorf("Requests(GetObject) = %d, want 5", n)
	}
	if s.requests() != 3 {
		t.Errorf("backend saw %d requests, want 3", s.requests())
	}

	// SetRules starts the count afresh.
	p.SetRules(faultproxy.Rule{Fault: faultproxy.Status500, Count: 1})
	if got := statuses(t, c, p.URL()+"/b/k", 2); got[0] != 500 || got[1] != 200 {
		t.Errorf("after SetRules: statuses %v, want [500 200]", got)
	}
}

// hits returns which of n GETs a Rate 0.3 rule hits on a proxy seeded
// with seed.
func hits(t *testing.T, seed uint64, n int) []bool {
	t.Helper()
	backend := httptest.NewServer(&store{objects: map[string][]byte{"/b/k": pattern(10)}})
	defer backend.Close()
	p, err := faultproxy.New(backend.URL, faultproxy.Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetRules(faultproxy.Rule{Fault: faultproxy.Status500, Rate: 0.3})
	codes := statuses(t, newClient(t, 5*time.Second), p.URL()+"/b/k", n)
	hit := make([]bool, n)
	var count int64
	for i, c := range codes {
		hit[i] = c == 500
		if hit[i] {
			count++
		}
	}
	wantFaults(t, p, faultproxy.GetObject, faultproxy.Status500, count)
	return hit
}

func TestRate(t *testing.T) {
	const n = 200
	a, b, other := hits(t, 7, n), hits(t, 7, n), hits(t, 8, n)
	count, same := 0, true
	differs := false
	for i := range a {
		if a[i] {
			count++
		}
		same = same && a[i] == b[i]
		differs = differs || a[i] != other[i]
	}
	if count < n*3/20 || count > n*9/20 {
		t.Errorf("Rate 0.3 hit %d of %d requests", count, n)
	}
	if !same {
		t.Error("the same seed gave different faults")
	}
	if !differs {
		t.Error("seeds 7 and 8 gave the same faults")
	}
}

func TestRuleFilters(t *testing.T) {
	s, p := startStore(t)
	for _, k := range []string{"/b/good", "/b/bad-1", "/b/bad-2"} {
		s.put(k, pattern(10))
	}
	p.SetRules(
		faultproxy.Rule{KeyContains: "bad", Fault: faultproxy.Status500, Count: 1},
		faultproxy.Rule{KeyContains: "bad", Ops: []faultproxy.Op{faultproxy.GetObject}, Fault: faultproxy.SlowDown},
		faultproxy.Rule{Ops: []faultproxy.Op{faultproxy.HeadObject}, Fault: faultproxy.Status503},
	)
	c := newClient(t, 5*time.Second)
	get := func(path string) int { return statuses(t, c, p.URL()+path, 1)[0] }

	for _, tc := range []struct {
		path string
		want int
	}{
		{"/b/good", 200},
		{"/b/bad-1", 500}, // the first rule, once
		{"/b/bad-1", 503}, // then the second
		{"/b/bad-2", 503},
		{"/b/good", 200},
	} {
		if got := get(tc.path); got != tc.want {
			t.Errorf("GET %s: got %d, want %d", tc.path, got, tc.want)
		}
	}
	resp, err := c.Head(p.URL() + "/b/good")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("HEAD: got %d, want 503", resp.StatusCode)
	}
	wantFaults(t, p, faultproxy.GetObject, faultproxy.Status500, 1)
	wantFaults(t, p, faultproxy.GetObject, faultproxy.SlowDown, 2)
	wantFaults(t, p, faultproxy.HeadObject, faultproxy.Status503, 1)
	if st := p.Stats(); st.Requests[faultproxy.GetObject] != 5 || st.Requests[faultproxy.HeadObject] != 1 {
		t.Errorf("stats %+v, want 5 GETs and 1 HEAD", st)
	}
}

func TestSetRulesPanicsOnNonsense(t *testing.T) {
	_, p := startStore(t)
	for _, r := range []faultproxy.Rule{{Fault: "Typo"}, {}, {Fault: faultproxy.Truncate, After: -1}, {Fault: faultproxy.Reset, Count: -1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetRules(%+v) did not panic", r)
				}
			}()
			p.SetRules(r)
		}()
	}
}
