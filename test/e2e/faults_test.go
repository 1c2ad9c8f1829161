package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
	"github.com/bucketfs/bucketfs/test/faultproxy"
	"github.com/bucketfs/bucketfs/test/harness"
)

// proxied starts a fault-injecting proxy in front of the suite's server
// and mounts bucket through it with args. The proxy closes after the
// mount is gone.
func proxied(t *testing.T, bucket string, args ...string) (*faultproxy.Proxy, *harness.Mount) {
	t.Helper()
	p, err := faultproxy.New(server.Endpoint, faultproxy.Options{Seed: 1, TLS: serverTLS(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, mountBucket(t, bucket, append([]string{"--endpoint", p.URL()}, args...)...)
}

// serverTLS trusts the suite's server's CA over HTTPS; nil over HTTP.
func serverTLS(t *testing.T) *tls.Config {
	t.Helper()
	if server.CAFile == "" {
		return nil
	}
	pem, err := os.ReadFile(server.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", server.CAFile)
	}
	return &tls.Config{RootCAs: pool}
}

// putRandom stores n random bytes at key with one PutObject (so the ETag
// is their MD5) and returns them.
func putRandom(t *testing.T, bucket, key string, n int) []byte {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	if _, err := client.PutObject(ctx(t), bucket, key, bytes.NewReader(data), int64(n), s3client.PutOptions{}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return data
}

// getObject reads a whole object with the suite's client.
func getObject(t *testing.T, bucket, key string) []byte {
	t.Helper()
	rc, _, err := client.GetObject(ctx(t), bucket, key, 0, -1)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return data
}

// catMount runs cat on a file of the mount and returns what it printed
// and its error.
func catMount(t *testing.T, path string) ([]byte, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command("cat", path)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		t.Logf("cat %s: %v: %s", filepath.Base(path), err, strings.TrimSpace(errOut.String()))
	}
	return out.Bytes(), err
}

// With one GET in ten broken (cut after the headers, reset in the
// middle, or refused with a 503), reads through the mount are exact; with
// every GET cut short, cat fails and prints nothing that is not the file.
func TestReadUnderFaults(t *testing.T) {
	bucket := newBucket(t)
	big := putRandom(t, bucket, "big", 64<<20)
	small := putRandom(t, bucket, "small", 300<<10)
	// 1 MiB GETs: enough of them for one in ten to break often.
	p, m := proxied(t, bucket, "--read-chunk", "1048576")
	p.SetRules(
		faultproxy.Rule{Ops: []faultproxy.Op{faultproxy.GetObject}, Fault: faultproxy.Truncate, Rate: 0.04, After: 100 << 10},
		faultproxy.Rule{Ops: []faultproxy.Op{faultproxy.GetObject}, Fault: faultproxy.ResetMidBody, Rate: 0.03, After: 1 << 20},
		faultproxy.Rule{Ops: []faultproxy.Op{faultproxy.GetObject}, Fault: faultproxy.Status503, Rate: 0.03},
	)
	for _, f := range []struct {
		name string
		want []byte
	}{{"big", big}, {"small", small}} {
		local := filepath.Join(t.TempDir(), f.name)
		if err := os.WriteFile(local, f.want, 0o644); err != nil {
			t.Fatal(err)
		}
		sh(t, "cmp", local, filepath.Join(m.Dir, f.name))
	}
	faults := p.Faults(faultproxy.GetObject, faultproxy.Truncate) + p.Faults(faultproxy.GetObject, faultproxy.ResetMidBody) +
		p.Faults(faultproxy.GetObject, faultproxy.Status503)
	t.Logf("%d GETs, %d broken", p.Requests(faultproxy.GetObject), faults)
	if faults == 0 {
		t.Fatalf("no fault was injected in %d GETs: the test proved nothing", p.Requests(faultproxy.GetObject))
	}

	// Every GET cut short: a fresh mount (no page cache) must fail the
	// read, and what cat printed is the start of the file, nothing else.
	p2, m2 := proxied(t, bucket, "--request-timeout", "10s")
	p2.SetRules(faultproxy.Rule{Ops: []faultproxy.Op{faultproxy.GetObject}, Fault: faultproxy.Truncate, After: 4096})
	start := time.Now()
	out, err := catMount(t, filepath.Join(m2.Dir, "big"))
	if err == nil {
		t.Fatalf("cat with every GET truncated: exit 0 with %d bytes, want a failure", len(out))
	}
	if !bytes.Equal(out, big[:len(out)]) {
		t.Errorf("cat with every GET truncated printed %d bytes that are not the file's start", len(out))
	}
	if len(out) == len(big) {
		t.Errorf("cat printed the whole file yet failed")
	}
	if d := time.Since(start); d > 90*time.Second {
		t.Errorf("the failing read took %v, want it bounded by the retries", d)
	}
	if !strings.Contains(m2.Log(), "s3 GetObject") {
		t.Errorf("the log does not name the failed GET:\n%s", m2.Log())
	}
}

// An object overwritten by another client (boto 2, as in the seed) while
// a slow reader is in the middle of it: the reader gets the old bytes
// exactly, then an error — never a mix — and a new open reads the new
// object. Both servers must honour If-Match on ranged GETs for this.
func TestReadWhileOverwritten(t *testing.T) {
	bucket := newBucket(t)
	old := putRandom(t, bucket, "f", 48<<20)

	// The server refuses a GET pinned to another version.
	p := make([]byte, 1000)
	if _, _, err := client.ReadObject(ctx(t), bucket, "f", 100, p, s3client.GetOptions{IfMatch: "0123456789abcdef0123456789abcdef"}); !errors.Is(err, s3client.ErrPreconditionFailed) {
		t.Fatalf("%s: ranged GET with a wrong If-Match: got %v, want 412 PreconditionFailed", sw.Server, err)
	}
	info, err := client.HeadObject(ctx(t), bucket, "f")
	if err != nil {
		t.Fatal(err)
	}
	if n, _, err := client.ReadObject(ctx(t), bucket, "f", 100, p, s3client.GetOptions{IfMatch: info.ETag}); err != nil || !bytes.Equal(p[:n], old[100:1100]) {
		t.Fatalf("%s: ranged GET with the right If-Match %s: %d bytes, %v", sw.Server, info.ETag, n, err)
	}

	// A small read-ahead: the reader cannot have fetched it all before
	// the overwrite.
	m := mountBucket(t, bucket, "--read-chunk", "1048576", "--read-ahead-chunks", "2", "--read-ahead-kib", "0")
	f, err := os.Open(filepath.Join(m.Dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var got []byte
	for len(got) < 2<<20 {
		n, err := f.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	updated := randomFile(t, 48<<20)
	boto(t, bucket, "put", "f", updated)
	var readErr error
	for readErr == nil {
		time.Sleep(20 * time.Millisecond)
		var n int
		n, readErr = f.Read(buf)
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, old[:len(got)]) {
		t.Fatalf("the reader got %d bytes that are not the old object's start: a mix of versions", len(got))
	}
	if !errors.Is(readErr, syscall.EIO) {
		t.Fatalf("reading on after the overwrite (%d bytes read): got %v, want EIO", len(got), readErr)
	}
	if !strings.Contains(m.Log(), "object changed while open") {
		t.Errorf("the log does not say the object changed")
	}
	want, err := os.ReadFile(updated)
	if err != nil {
		t.Fatal(err)
	}
	now, err := os.ReadFile(filepath.Join(m.Dir, "f"))
	if err != nil || !bytes.Equal(now, want) {
		t.Errorf("a new open: %v, %d bytes equal to the new object: %v", err, len(now), bytes.Equal(now, want))
	}
}

// A body damaged on the way (one bit flipped, length intact), read by a
// mount with --verify-md5: a whole sequential read fails with EIO at the
// end and the log says so.
func TestCorruptBody(t *testing.T) {
	bucket := newBucket(t)
	data := putRandom(t, bucket, "f", 8<<20+4321)
	p, m := proxied(t, bucket, "--verify-md5")
	p.SetRules(faultproxy.Rule{Ops: []faultproxy.Op{faultproxy.GetObject}, Fault: faultproxy.FlipByte, Count: 1, After: 1000})
	out, err := catMount(t, filepath.Join(m.Dir, "f"))
	if err == nil {
		t.Fatalf("cat of a corrupt body: exit 0, want EIO")
	}
	if p.Faults(faultproxy.GetObject, faultproxy.FlipByte) != 1 {
		t.Fatalf("flipped bodies: got %d, want 1", p.Faults(faultproxy.GetObject, faultproxy.FlipByte))
	}
	if len(out) == len(data) {
		t.Errorf("cat printed the whole (corrupt) file")
	}
	waitLogged(t, m, "corrupt object")
}

// waitLogged waits (5 s at most) for text in m's log: what bucketfs
// writes reaches the test through a pipe, maybe after the failure a
// command already saw.
func waitLogged(t *testing.T, m *harness.Mount, text string) {
	t.Helper()
	waitFor(t, 5*time.Second, "the log naming "+text, func() (string, bool) {
		log := m.Log()
		return log, strings.Contains(log, text)
	})
}

// Uploads failing for good (every PUT, multipart start, part and
// completion answered 500): cp over an existing file exits non-zero and
// the old object is intact — its bytes, not empty, not zeros.
func TestWritesFailingKeepOldObject(t *testing.T) {
	bucket := newBucket(t)
	oldSmall := putRandom(t, bucket, "small", 100<<10)
	oldBig := putRandom(t, bucket, "big", 3<<20)
	p, m := proxied(t, bucket, "--request-timeout", "10s")
	p.SetRules(faultproxy.Rule{Ops: []faultproxy.Op{faultproxy.PutObject, faultproxy.CreateMultipartUpload,
		faultproxy.UploadPart, faultproxy.CompleteMultipartUpload}, Fault: faultproxy.Status500})
	for _, f := range []struct {
		key  string
		size int
		old  []byte
	}{{"small", 200 << 10, oldSmall}, {"big", 20 << 20, oldBig}} {
		src := randomFile(t, f.size)
		out, err := exec.Command("cp", src, filepath.Join(m.Dir, f.key)).CombinedOutput()
		if err == nil {
			t.Errorf("cp of %d bytes over %s with uploads failing: exit 0, want a failure", f.size, f.key)
		}
		t.Logf("cp %s: %v: %s", f.key, err, strings.TrimSpace(string(out)))
		if got := getObject(t, bucket, f.key); !bytes.Equal(got, f.old) {
			t.Errorf("%s after the failed cp: %d bytes, not the old object's %d", f.key, len(got), len(f.old))
		}
	}
	if p.Faults(faultproxy.PutObject, faultproxy.Status500)+p.Faults(faultproxy.CreateMultipartUpload, faultproxy.Status500) == 0 {
		t.Fatalf("no upload was refused: the test proved nothing")
	}
}

// A GET whose body stops arriving fails the read within the bounds the
// mount was given (--idle-timeout, retries), instead of hanging.
func TestStalledRead(t *testing.T) {
	bucket := newBucket(t)
	putRandom(t, bucket, "f", 1<<20)
	p, m := proxied(t, bucket, "--idle-timeout", "1s", "--request-timeout", "5s")
	p.SetRules(faultproxy.Rule{Ops: []faultproxy.Op{faultproxy.GetObject}, Fault: faultproxy.Stall, After: 1000})
	start := time.Now()
	if _, err := catMount(t, filepath.Join(m.Dir, "f")); err == nil {
		t.Errorf("cat of a stalled body: exit 0, want a failure")
	}
	if d := time.Since(start); d > 45*time.Second {
		t.Errorf("the stalled read took %v, want it to fail within about 6 idle timeouts", d)
	}
	if !strings.Contains(m.Log(), "no progress") {
		t.Errorf("the log does not say the body stalled")
	}
}

// A 10 s outage of the server (every connection reset) in the middle of
// a 128 MiB cp: the parts in flight are retried and the copy completes
// with every byte right.
func TestOutageDuringCopy(t *testing.T) {
	bucket := newBucket(t)
	p, m := proxied(t, bucket)
	src := randomFile(t, 128<<20)
	done := make(chan error, 1)
	go func() {
		out, err := exec.Command("cp", src, filepath.Join(m.Dir, "big")).CombinedOutput()
		if err != nil {
			err = errors.New(err.Error() + ": " + string(out))
		}
		done <- err
	}()
	// Down once the upload is under way.
	deadline := time.Now().Add(30 * time.Second)
	for p.Requests(faultproxy.UploadPart) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p.SetDown(true)
	time.Sleep(10 * time.Second)
	p.SetDown(false)
	if err := <-done; err != nil {
		t.Fatalf("cp through a 10 s outage: %v", err)
	}
	if p.Stats().Refused == 0 {
		t.Errorf("no connection was refused during the outage: the test proved nothing")
	}
	want, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if got := getObject(t, bucket, "big"); !bytes.Equal(got, want) {
		t.Fatalf("object after the outage: %d bytes, equal %v", len(got), bytes.Equal(got, want))
	}
}

// With one request in ten failing (5xx, SlowDown; connection resets for
// all but the POSTs, which are not repeated after a network failure as
// the server may have acted), cp -r of 300 files and a 64 MiB file into
// the mount succeeds: every object equal to its file, none missing,
// none left as an unfinished multipart upload.
func TestCopyUnderFaults(t *testing.T) {
	bucket := newBucket(t)
	src := t.TempDir()
	tree := filepath.Join(src, "tree")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for i := 0; i < 300; i++ {
		data := make([]byte, 1000+i*37)
		rand.Read(data)
		name := filepath.Join("tree", "d"+string(rune('a'+i%10)), "f"+strings.Repeat("x", i%7)+"-"+time.Duration(i).String())
		if err := os.MkdirAll(filepath.Join(src, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		want[name] = data
	}
	big := make([]byte, 64<<20)
	rand.Read(big)
	if err := os.WriteFile(filepath.Join(tree, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	want["tree/big"] = big

	p, m := proxied(t, bucket)
	all := []faultproxy.Op{}
	notPost := []faultproxy.Op{faultproxy.GetObject, faultproxy.HeadObject, faultproxy.PutObject, faultproxy.UploadPart,
		faultproxy.CopyObject, faultproxy.DeleteObject, faultproxy.ListObjects, faultproxy.HeadBucket}
	p.SetRules(
		faultproxy.Rule{Ops: all, Fault: faultproxy.Status503, Rate: 0.03},
		faultproxy.Rule{Ops: all, Fault: faultproxy.SlowDown, Rate: 0.02},
		faultproxy.Rule{Ops: all, Fault: faultproxy.Status500, Rate: 0.02},
		faultproxy.Rule{Ops: notPost, Fault: faultproxy.Reset, Rate: 0.03},
	)
	if out, err := exec.Command("cp", "-r", tree, m.Dir).CombinedOutput(); err != nil {
		t.Fatalf("cp -r under 10%% faults: %v\n%s", err, out)
	}
	p.SetRules()
	var injected int64
	for _, n := range p.Stats().Faults {
		injected += n
	}
	t.Logf("%d faults injected", injected)
	if injected == 0 {
		t.Fatal("no fault injected: the test proved nothing")
	}
	for name, data := range want {
		if got := getObject(t, bucket, name); !bytes.Equal(got, data) {
			t.Errorf("%s: %d bytes, want %d equal bytes", name, len(got), len(data))
		}
	}
	if n := boto(t, bucket, "uploads"); n != "0" {
		t.Errorf("unfinished multipart uploads left: %s", n)
	}
}

// The mount's own multipart uploads carry their part size, so that
// --verify-md5 checks them too: on the real server the computed ETag
// (MD5 of the parts' MD5s) matches, and a flipped bit fails the read.
func TestVerifyMultipart(t *testing.T) {
	bucket := newBucket(t)
	m := mountBucket(t, bucket, "--part-size", "5242880")
	src := randomFile(t, 13<<20)
	sh(t, "cp", src, filepath.Join(m.Dir, "big"))
	if info, err := client.HeadObject(ctx(t), bucket, "big"); err != nil || !strings.HasSuffix(strings.Trim(info.ETag, `"`), "-3") {
		t.Fatalf("HEAD: %v, ETag %v; want a 3-part upload", err, info)
	}
	p, m2 := proxied(t, bucket, "--verify-md5")
	sh(t, "cmp", src, filepath.Join(m2.Dir, "big"))
	if strings.Contains(m2.Log(), "corrupt object") {
		t.Fatalf("an intact multipart object was found corrupt:\n%s", m2.Log())
	}
	if p.Requests(faultproxy.GetObject) == 0 {
		t.Fatal("the read went around the proxy")
	}
	p3, m4 := proxied(t, bucket, "--verify-md5")
	p3.SetRules(faultproxy.Rule{Ops: []faultproxy.Op{faultproxy.GetObject}, Fault: faultproxy.FlipByte, Count: 1, After: 5000})
	if _, err := catMount(t, filepath.Join(m4.Dir, "big")); err == nil {
		t.Errorf("cat of a damaged multipart object with --verify-md5: exit 0, want EIO")
	}
	waitLogged(t, m4, "corrupt object")
}
