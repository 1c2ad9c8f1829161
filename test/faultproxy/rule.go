package faultproxy

import (
	"fmt"
	"slices"
	"strings"
)

// Fault is a kind of failure the proxy injects. The package doc says
// what each one looks like on the wire.
type Fault string

// The faults. Status500, Status503, SlowDown, Reset and StallHeaders
// answer without contacting the backend; the others forward the request
// and break the response (FlipByte on PutObject and UploadPart breaks the
// request body instead).
const (
	Status500    Fault = "Status500"
	Status503    Fault = "Status503"
	SlowDown     Fault = "SlowDown"
	Reset        Fault = "Reset"
	StallHeaders Fault = "StallHeaders"
	ResetMidBody Fault = "ResetMidBody"
	Truncate     Fault = "Truncate"
	Stall        Fault = "Stall"
	FlipByte     Fault = "FlipByte"
)

// valid reports whether f is one of the faults above.
func (f Fault) valid() bool {
	switch f {
	case Status500, Status503, SlowDown, Reset, StallHeaders, ResetMidBody, Truncate, Stall, FlipByte:
		return true
	}
	return false
}

// Rule says which requests get which fault.
type Rule struct {
	// Ops are the operations the rule applies to; empty means all.
	Ops []Op
	// KeyContains, if set, limits the rule to requests whose decoded
	// object key contains it (bucket operations have no key).
	KeyContains string
	// Fault is what happens to a request the rule hits.
	Fault Fault
	// Rate is the probability that a matching request is hit, drawn from
	// the proxy's seeded source. Values outside (0, 1), the zero value
	// included, mean every matching request.
	Rate float64
	// Count, if positive, makes the rule hit at most Count requests (the
	// next Count matching ones, if Rate does not thin them out) and then
	// stop. Zero means no limit.
	Count int
	// After is the offset of a body fault: the bytes of the body that
	// pass before ResetMidBody, Truncate or Stall strike, or the byte
	// whose lowest bit FlipByte inverts.
	After int64
}

// matches reports whether the rule applies to a request for op on key.
func (r Rule) matches(op Op, key string) bool {
	if len(r.Ops) > 0 && !slices.Contains(r.Ops, op) {
		return false
	}
	return r.KeyContains == "" || strings.Contains(key, r.KeyContains)
}

// check panics on a rule that cannot mean anything: rules are written
// by tests, and a typo must not pass as "no faults".
func (r Rule) check() {
	if !r.Fault.valid() {
		panic(fmt.Sprintf("faultproxy: rule has unknown fault %q", r.Fault))
	}
	if r.Count < 0 || r.After < 0 {
		panic(fmt.Sprintf("faultproxy: rule for %s has negative Count or After", r.Fault))
	}
}

// ruleState is a rule as installed by SetRules, with its remaining count.
type ruleState struct {
	Rule
	left int // hits left when Count > 0
}

// pick counts a request for op on key and returns the first rule that
// hits it. It draws a random number only for rules with 0 < Rate < 1, so
// a seed and a request order give the same faults every run.
func (p *Proxy) pick(op Op, key string) (Rule, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests[op]++
	for _, rs := range p.rules {
		if !rs.matches(op, key) || (rs.Count > 0 && rs.left == 0) {
			continue
		}
		if rs.Rate > 0 && rs.Rate < 1 && p.rng.Float64() >= rs.Rate {
			continue
		}
		if rs.Count > 0 {
			rs.left--
		}
		p.faults[FaultKey{op, rs.Fault}]++
		return rs.Rule, true
	}
	return Rule{}, false
}
