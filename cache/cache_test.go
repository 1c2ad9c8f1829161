package cache

import (
	"testing"
	"time"
)

// clock is a settable time source for a Cache's now field.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// withClock makes c read the time from a new clock and returns it.
func withClock[V any](c *Cache[V]) *clock {
	clk := &clock{t: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	c.now = clk.now
	return clk
}

func TestPutGet(t *testing.T) {
	c := New[int](Options{})
	c.Put("a", 1)
	c.Put("b", 2)
	c.Put("a", 3) // replaces
	tests := []struct {
		name   string
		want   Entry[int]
		wantOK bool
	}{
		{"a", Entry[int]{Value: 3}, true},
		{"b", Entry[int]{Value: 2}, true},
		{"c", Entry[int]{}, false},
	}
	for _, tt := range tests {
		got, ok := c.Get(tt.name)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Get(%q) = %+v, %v; want %+v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
	if got, want := c.Len(), 2; got != want {
		t.Errorf("Len() = %v, want %v", got, want)
	}
}

func TestPutMissing(t *testing.T) {
	c := New[string](Options{})
	c.PutMissing("gone")
	got, ok := c.Get("gone")
	if !ok || !got.Missing {
		t.Fatalf("Get after PutMissing = %+v, %v; want a missing entry", got, ok)
	}
	// A positive Put replaces the negative entry, and the reverse.
	c.Put("gone", "back")
	if got, _ := c.Get("gone"); got.Missing || got.Value != "back" {
		t.Errorf("Get after Put = %+v, want value %q", got, "back")
	}
	c.PutMissing("gone")
	if got, _ := c.Get("gone"); !got.Missing || got.Value != "" {
		t.Errorf("Get after second PutMissing = %+v, want missing with zero value", got)
	}
}

func TestNegativeEntriesExpireFirst(t *testing.T) {
	c := New[int](Options{TTL: time.Minute, NegativeTTL: 5 * time.Second})
	clk := withClock(c)
	c.Put("pos", 1)
	c.PutMissing("neg")

	clk.advance(4 * time.Second)
	if _, ok := c.Get("neg"); !ok {
		t.Errorf("negative entry gone after 4s, want fresh until 5s")
	}
	clk.advance(2 * time.Second)
	if e, ok := c.Get("neg"); ok {
		t.Errorf("negative entry after 6s = %+v, want expired", e)
	}
	if e, ok := c.Get("pos"); !ok || e.Value != 1 {
		t.Errorf("positive entry after 6s = %+v, %v; want value 1", e, ok)
	}
}

func TestPositiveTTL(t *testing.T) {
	c := New[int](Options{TTL: 10 * time.Second})
	clk := withClock(c)
	c.Put("a", 1)
	clk.advance(10 * time.Second)
	if _, ok := c.Get("a"); !ok {
		t.Errorf("entry gone at exactly TTL, want fresh")
	}
	clk.advance(time.Nanosecond)
	if e, ok := c.Get("a"); ok {
		t.Errorf("entry after TTL = %+v, want expired", e)
	}
	if got, want := c.Len(), 0; got != want {
		t.Errorf("Len() after expired Get = %v, want %v", got, want)
	}
	// Putting again restarts the TTL from the new time.
	c.Put("a", 2)
	clk.advance(9 * time.Second)
	if e, ok := c.Get("a"); !ok || e.Value != 2 {
		t.Errorf("Get after re-Put = %+v, %v; want value 2", e, ok)
	}
}

func TestRemove(t *testing.T) {
	c := New[int](Options{})
	c.Put("a", 1)
	c.PutMissing("b")
	c.Remove("a")
	c.Remove("b")
	c.Remove("never") // no-op
	for _, name := range []string{"a", "b"} {
		if e, ok := c.Get(name); ok {
			t.Errorf("Get(%q) after Remove = %+v, want nothing", name, e)
		}
	}
	if got, want := c.Len(), 0; got != want {
		t.Errorf("Len() = %v, want %v", got, want)
	}
}

func TestSizeBoundEvictsLeastRecentlyUsed(t *testing.T) {
	c := New[int](Options{Size: 2})
	c.Put("a", 1)
	c.Put("b", 2)
	c.Put("c", 3) // evicts a, the oldest
	if _, ok := c.Get("a"); ok {
		t.Errorf("a still cached, want evicted")
	}
	if got, want := c.Len(), 2; got != want {
		t.Errorf("Len() = %v, want %v", got, want)
	}
	c.Get("b")    // b is now more recent than c
	c.Put("d", 4) // evicts c
	for name, want := range map[string]bool{"b": true, "c": false, "d": true} {
		if _, ok := c.Get(name); ok != want {
			t.Errorf("Get(%q) ok = %v, want %v", name, ok, want)
		}
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name string
		in   Options
		want Options
	}{
		{"defaults", Options{}, Options{Size: DefaultSize, TTL: 30 * time.Second, NegativeTTL: 5 * time.Second}},
		{"negative values", Options{Size: -1, TTL: -1, NegativeTTL: -1}, Options{Size: DefaultSize, TTL: 30 * time.Second, NegativeTTL: 5 * time.Second}},
		{"kept", Options{Size: 7, TTL: time.Minute, NegativeTTL: time.Second}, Options{Size: 7, TTL: time.Minute, NegativeTTL: time.Second}},
		{"negative TTL capped", Options{TTL: time.Second, NegativeTTL: time.Hour}, Options{Size: DefaultSize, TTL: time.Second, NegativeTTL: time.Second}},
		{"default negative TTL capped", Options{TTL: 2 * time.Second}, Options{Size: DefaultSize, TTL: 2 * time.Second, NegativeTTL: 2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := New[int](tt.in).opts; got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNegativeTTLCappedBehaviour(t *testing.T) {
	c := New[int](Options{TTL: 2 * time.Second, NegativeTTL: time.Hour})
	clk := withClock(c)
	c.PutMissing("x")
	clk.advance(3 * time.Second)
	if e, ok := c.Get("x"); ok {
		t.Errorf("negative entry after TTL = %+v, want expired", e)
	}
}
