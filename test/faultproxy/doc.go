// Package faultproxy is a reverse proxy for S3 that injects faults, for
// end-to-end tests of how bucketfs (or any S3 client) survives a broken
// network, load balancer or server.
//
// A Proxy listens on a free port of 127.0.0.1, forwards every request to
// one S3 server (MinIO, Ceph RGW) and breaks the requests that the
// current rules pick. Tests change the rules while the client runs.
// Only the standard library is used; only loopback addresses are meant.
//
// # Forwarding
//
// A request reaches the server as the client signed it: the same Host
// header, the same request-target byte for byte (the raw, percent-encoded
// path and query are not re-encoded), all end-to-end headers
// (Authorization, Content-MD5, Expect, x-amz-*; only hop-by-hop headers
// such as Connection are dropped, and nothing is added), so SigV2 and
// SigV4 signatures stay valid. Bodies stream both ways through one 32 KiB
// buffer per request; the proxy keeps connections to the server alive.
// "Expect: 100-continue" goes end to end: the proxy asks the client for
// the body only once the server has asked the proxy. Requests are
// path-style (/bucket/key); Classify names their S3 operation, which
// rules and counters use.
//
// # Faults on the wire
//
// Answered by the proxy; the server never sees the request, so nothing
// is written:
//
//   - Status500: "500 Internal Server Error" with an S3 error document,
//     <Error><Code>InternalError</Code>…</Error>.
//   - Status503: 503 with <Code>ServiceUnavailable</Code>.
//   - SlowDown: 503 with <Code>SlowDown</Code>, S3's throttling answer.
//     For these three an uploaded body is read and dropped first; a
//     client that sent "Expect: 100-continue" gets the error instead of
//     the 100 and does not send its body (the connection then closes).
//   - Reset: the request headers are read, then the connection is closed
//     with a TCP RST (SO_LINGER 0): the client sees "connection reset by
//     peer" and no response.
//   - StallHeaders: the request is read and never answered; the
//     connection stays open until the client gives up or the proxy is
//     closed. The client sees its own timeout.
//
// Forwarded, the server does the work, and the response is broken
// after Rule.After bytes of its body (status line and headers, with the
// server's full Content-Length, arrive intact):
//
//   - ResetMidBody: After bytes, then a TCP RST: "connection reset by
//     peer" while reading the body (bytes in flight may be lost with it).
//   - Truncate: After bytes, then a clean close (FIN): reading the body
//     ends early with io.ErrUnexpectedEOF.
//   - Stall: After bytes, then silence until the client gives up or the
//     proxy is closed; the body never completes.
//
// If the body has no byte past After (HEAD, most PUT and DELETE answers,
// After beyond the object's size), these three strike before the status
// line instead: the request took effect on the server but the client
// gets a reset, an EOF, or no answer — a lost acknowledgement.
//
//   - FlipByte: forwarded whole, but the lowest bit of the body byte at
//     offset After is inverted: the length is right, the data silently
//     wrong. For PutObject and UploadPart it is the uploaded body that is
//     corrupted on its way to the server (Content-MD5 or a signed payload
//     hash should make the server refuse it); otherwise the response
//     body. Past the end of the body nothing is flipped.
//
// An outage is not a rule: SetDown(true) resets every open client
// connection at once and every new one as soon as it is accepted
// (connect succeeds, the first read or write fails with "connection
// reset by peer"), keeping the port; SetDown(false) ends it, and clients
// reconnect to the same URL.
//
// # Rules
//
// SetRules replaces the rule list atomically. Each request is counted
// and then tried against the rules in order; the first rule that matches
// (by Ops and KeyContains) and hits (by Rate, drawn from a source seeded
// with Options.Seed, and its remaining Count) decides the fault; with no
// such rule the request is forwarded untouched. Stats, Requests and
// Faults report the counters, so a test can check that the fault it
// meant to test did happen.
//
// # Use
//
// Point the client's endpoint at URL() instead of the server: bucketfs is
// mounted with --endpoint set to it (path-style addressing, which
// bucketfs uses for any endpoint but AWS).
//
//	p, err := faultproxy.New(minio.URL, faultproxy.Options{Seed: 1})
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(func() { p.Close() })
//	// mount: bucketfs --endpoint p.URL() bucket mnt
//	p.SetRules(faultproxy.Rule{
//		Ops:   []faultproxy.Op{faultproxy.GetObject},
//		Fault: faultproxy.Truncate,
//		After: 1 << 20,
//		Count: 1,
//	})
//	// read a big file: the first GET breaks after 1 MiB, the retry works
//	if n := p.Faults(faultproxy.GetObject, faultproxy.Truncate); n != 1 {
//		t.Fatalf("truncated %d GETs, want 1", n)
//	}
//
// A stalled connection holds its handler until the client closes it or
// Close is called, so Close before the server it forwards to.
package faultproxy
