package faultproxy

import "maps"

// FaultKey names a fault injected into an operation.
type FaultKey struct {
	Op    Op
	Fault Fault
}

// Stats are the proxy's counters since New.
type Stats struct {
	// Requests counts the requests the proxy read, by operation, faulted
	// ones included.
	Requests map[Op]int64
	// Faults counts the faults injected, by operation and kind; a fault
	// counts when a rule hits the request, even if (FlipByte past the end
	// of a body) it then has nothing to break.
	Faults map[FaultKey]int64
	// Refused counts the connections reset on arrival while down.
	Refused int64
}

// Stats returns a copy of the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	s := Stats{Requests: maps.Clone(p.requests), Faults: maps.Clone(p.faults)}
	p.mu.Unlock()
	s.Refused = p.ln.refusedConns()
	return s
}

// Requests returns how many requests for op the proxy has read.
func (p *Proxy) Requests(op Op) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests[op]
}

// Faults returns how many faults of kind f the proxy injected into op.
func (p *Proxy) Faults(op Op, f Fault) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults[FaultKey{op, f}]
}
