package e2e

// The distributed MinIO tests: a 4-node erasure-coded MinIO (four
// processes on 127.0.0.1, one drive each) behind a round-robin TCP
// balancer, with nodes killed and restarted under a mount's copies. Each
// starts its own cluster, so they run only with
// BUCKETFS_TEST_DISTRIBUTED=1; otherwise they say so and skip.
//
// What a killed node costs a writer: MinIO's write locks are held on a
// quorum of nodes' lockers, refreshed by their owner every 10 s, and a
// live node drops a dead owner's entry once it is a minute old, in a
// sweep that runs once a minute. A PutObject, part or completion of a key
// the killed node was writing is held by the live nodes until then — up
// to 2 minutes — which the mount's uploads outlast (s3client
// DefaultUploadTimeout, 3 minutes); a metadata call never meets it.

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
	"github.com/bucketfs/bucketfs/test/harness"
)

// distributed starts a 4-node MinIO and a bucket on it, or skips the
// test unless BUCKETFS_TEST_DISTRIBUTED=1.
func distributed(t *testing.T, bucket string) (*harness.Cluster, *s3client.Client) {
	t.Helper()
	if os.Getenv("BUCKETFS_TEST_DISTRIBUTED") != "1" {
		t.Skip("a 4-node MinIO: set BUCKETFS_TEST_DISTRIBUTED=1 to run it")
	}
	start := time.Now()
	c, err := harness.StartMinIOCluster(4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	t.Logf("4-node MinIO up behind %s in %.1fs", c.Balancer.Addr(), time.Since(start).Seconds())
	srv := c.Server()
	// The checks' GETs may meet a lock a killed node left on a key (up to
	// 2 minutes): they wait as long as the mount's uploads do.
	cl, err := s3client.New(s3client.Options{Endpoint: srv.Endpoint, RequestTimeout: s3client.DefaultUploadTimeout,
		Credentials: s3client.Credentials{AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}})
	if err != nil {
		t.Fatal(err)
	}
	// A new cluster may drop the first answer (seen: 409
	// BucketAlreadyOwnedByYou to the retry): the bucket is ours either way.
	var s3err *s3client.Error
	if err := cl.CreateBucket(ctx(t), bucket); err != nil && !(errors.As(err, &s3err) && s3err.Code == "BucketAlreadyOwnedByYou") {
		t.Fatal(err)
	}
	return c, cl
}

// mountCluster mounts bucket of c with args and one log line per S3
// request, printed but for the 200s if the test fails.
func mountCluster(t *testing.T, c *harness.Cluster, bucket string, args ...string) *harness.Mount {
	t.Helper()
	log := filepath.Join(t.TempDir(), "s3.log")
	m := harness.StartMount(t, harness.MountOptions{Binary: binary, Server: c.Server(), Source: bucket,
		Args: append([]string{"--debug-s3", "--log-file", log}, args...)})
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("grep", "-v", "status=200", log).Output()
			t.Logf("mount %s's log, but for the 200s:\n%s", m.Dir, out)
			return
		}
		t.Logf("mount %s: %s", m.Dir, retrySummary(t, log))
	})
	return m
}

// retrySummary says how many attempts of the S3 log at path were retried,
// and how long the slowest call that was retried took from its first
// attempt to its success.
func retrySummary(t *testing.T, path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	retries := 0
	first := map[string]time.Time{} // a retried call's first failure, by op and key
	var slowest time.Duration
	var slowestCall string
	for _, line := range strings.Split(string(data), "\n") {
		at, err := time.Parse(time.RFC3339, logField(line, "time"))
		if err != nil {
			continue
		}
		call := logField(line, "op") + " " + logField(line, "key")
		switch {
		case strings.Contains(line, "msg=\"retrying"):
			retries++
			if _, ok := first[call]; !ok {
				first[call] = at
			}
		case strings.Contains(line, "status=2"):
			if t0, ok := first[call]; ok {
				if d := at.Sub(t0); d > slowest {
					slowest, slowestCall = d, call
				}
				delete(first, call)
			}
		}
	}
	return fmt.Sprintf("%d retries; the slowest call that was retried took %v (%s)", retries, slowest, slowestCall)
}

// logField is the value of name=value (value quoted or not) in a logrus
// text line, "" if absent.
func logField(line, name string) string {
	i := strings.Index(line, " "+name+"=")
	if i < 0 && strings.HasPrefix(line, name+"=") {
		i = -1
	} else if i < 0 {
		return ""
	}
	v := line[i+len(name)+2:]
	if strings.HasPrefix(v, "\"") {
		if j := strings.Index(v[1:], "\""); j >= 0 {
			return v[1 : j+1]
		}
		return ""
	}
	if j := strings.IndexByte(v, ' '); j >= 0 {
		return v[:j]
	}
	return v
}

// writeRandomTree writes n small random files under dir, in 10 directories,
// and big files of the sizes given (big0, big1, ...), and returns dir.
func writeRandomTree(t *testing.T, dir string, n int, big ...int64) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		d := filepath.Join(dir, fmt.Sprintf("d%02d", i%10))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, 1000+i*97)
		rand.Read(data)
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%03d", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, size := range big {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("big%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(f, rand.Reader, size); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// md5Reader is the hex MD5 of what r holds.
func md5Reader(r io.Reader) (string, error) {
	h := md5.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// treeMD5s is the MD5 of every regular file under root, by its path
// relative to root with prefix before it.
func treeMD5s(t *testing.T, root, prefix string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, _ := filepath.Rel(root, p)
		sums[prefix+rel], err = md5Reader(f)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("md5 of the tree %s: %v", root, err)
	}
	return sums
}

// bucketMD5s lists every key of bucket and returns the MD5 of each
// object's body, read with GETs, and the directory markers (keys ending
// in "/") apart.
func bucketMD5s(t *testing.T, cl *s3client.Client, bucket string) (sums map[string]string, markers []string) {
	t.Helper()
	sums = map[string]string{}
	in := s3client.ListInput{}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for {
		page, err := cl.ListObjects(cctx, bucket, in)
		if err != nil {
			t.Fatalf("list %s: %v", bucket, err)
		}
		for _, o := range page.Objects {
			if strings.HasSuffix(o.Key, "/") && o.Size == 0 {
				markers = append(markers, o.Key)
				continue
			}
			sum, err := getMD5(cctx, t, cl, bucket, o.Key)
			if errors.Is(err, s3client.ErrNotFound) {
				continue // listed, but not there: absent
			}
			if err != nil {
				t.Errorf("listed %s/%s, but GET: %v", bucket, o.Key, err)
				continue
			}
			sums[o.Key] = sum
		}
		if !page.IsTruncated {
			return sums, markers
		}
		in.ContinuationToken = page.NextContinuationToken
	}
}

// getMD5 is the MD5 of the object's body. A key MinIO lists but answers
// NoSuchKey for (seen right after a rolling restart) is asked again for
// a minute, and the test says how long it took to come back, or that it
// did not: then the error is ErrNotFound.
func getMD5(ctx context.Context, t *testing.T, cl *s3client.Client, bucket, key string) (string, error) {
	start := time.Now()
	for missing := false; ; missing = true {
		body, _, err := cl.GetObject(ctx, bucket, key, 0, -1)
		if err == nil {
			if missing {
				t.Logf("listed %s/%s: GET answered NoSuchKey, then the object after %v", bucket, key, time.Since(start).Round(time.Second))
			}
			sum, err := md5Reader(body)
			body.Close()
			return sum, err
		}
		if !errors.Is(err, s3client.ErrNotFound) {
			return "", err
		}
		if time.Since(start) > time.Minute {
			t.Logf("listed %s/%s, but GET answered NoSuchKey for %v: absent", bucket, key, time.Since(start).Round(time.Second))
			return "", err
		}
		time.Sleep(5 * time.Second)
	}
}

// checkMarkers fails the test for a directory marker that is not a
// directory of a file in want.
func checkMarkers(t *testing.T, markers []string, want map[string]string) {
	t.Helper()
	dirs := map[string]bool{}
	for k := range want {
		for d := filepath.Dir(k); d != "."; d = filepath.Dir(d) {
			dirs[d+"/"] = true
		}
	}
	for _, m := range markers {
		if !dirs[m] {
			t.Errorf("bucket holds the marker %q of no directory copied", m)
		}
	}
}

// diffSums compares got with want and returns what is missing, extra and
// different, each sorted.
func diffSums(got, want map[string]string) (missing, extra, different []string) {
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			missing = append(missing, k)
		case g != w:
			different = append(different, k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	sort.Strings(different)
	return missing, extra, different
}

// TestDistributedMinIO copies a tree of 300 files into a mount (cp -r),
// SIGKILLs a node a second into it — the one serving the PUT in flight,
// so that the PUT dies with it and, if the node held the key's lock,
// its retries are held by the live nodes until the lock expires — and
// then copies a 256 MiB file in with the node still dead. It reads
// everything back through a second mount, then restarts the node. Both
// copies must succeed; the MD5 of every file read through the mount, and
// of every object read with GETs after a full listing, must equal the
// source's: nothing missing, nothing extra.
func TestDistributedMinIO(t *testing.T) {
	t.Parallel() // most of it is waiting: a held PUT, up to 2 minutes
	bucket := "e2e-distributed"
	c, cl := distributed(t, bucket)
	m := mountCluster(t, c, bucket)
	src := writeRandomTree(t, filepath.Join(t.TempDir(), "tree"), 300)
	big := writeRandomTree(t, filepath.Join(t.TempDir(), "big"), 0, 256<<20)
	want := treeMD5s(t, src, "tree/")
	for k, v := range treeMD5s(t, big, "") {
		want[k] = v
	}

	killed := make(chan *harness.Node, 1)
	go func() {
		time.Sleep(time.Second)
		victim := c.Nodes[c.Balancer.LastUsed()]
		victim.Kill()
		killed <- victim
	}()
	start := time.Now()
	out, err := exec.Command("cp", "-r", src, filepath.Join(m.Dir, "tree")).CombinedOutput()
	victim := <-killed
	if err != nil {
		t.Fatalf("cp -r with node %d SIGKILLed a second into it: %v\n%s", victim.Port, err, out)
	}
	t.Logf("cp -r of 300 files, node %d SIGKILLed a second into it: %.1fs", victim.Port, time.Since(start).Seconds())
	start = time.Now()
	sh(t, "cp", filepath.Join(big, "big0"), filepath.Join(m.Dir, "big0"))
	t.Logf("cp of 256 MiB with node %d dead: %.1fs", victim.Port, time.Since(start).Seconds())

	start = time.Now()
	reader := mountCluster(t, c, bucket) // a fresh mount: nothing in the page cache
	got := treeMD5s(t, reader.Dir, "")
	t.Logf("read back through a new mount with node %d dead: %.1fs", victim.Port, time.Since(start).Seconds())
	if missing, extra, different := diffSums(got, want); len(missing)+len(extra)+len(different) > 0 {
		t.Errorf("read through the mount: missing %q, extra %q, different %q", missing, extra, different)
	}

	start = time.Now()
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("node %d restarted, cluster healthy in %.1fs", victim.Port, time.Since(start).Seconds())
	raw, markers := bucketMD5s(t, cl, bucket)
	if missing, extra, different := diffSums(raw, want); len(missing)+len(extra)+len(different) > 0 {
		t.Errorf("objects in the bucket (list and GET): missing %q, extra %q, different %q", missing, extra, different)
	}
	checkMarkers(t, markers, want)
}

// TestDistributedRollingRestart restarts the four nodes one at a time
// (SIGTERM, start, wait until the cluster is healthy) while cp -r copies
// a tree into the mount again and again, each time under a new name,
// until the last node is back. Each cp either succeeds or fails loudly
// (a non-zero exit); every object in the bucket must equal its source
// byte for byte (MD5) or be absent, and every file of a cp that
// succeeded must be there.
func TestDistributedRollingRestart(t *testing.T) {
	t.Parallel()
	bucket := "e2e-rolling"
	c, cl := distributed(t, bucket)
	m := mountCluster(t, c, bucket)
	src := writeRandomTree(t, filepath.Join(t.TempDir(), "tree"), 100, 24<<20)
	base := treeMD5s(t, src, "")

	restarted := make(chan error, 1)
	go func() { restarted <- rollingRestart(t, c) }()
	start := time.Now()
	want := map[string]string{}   // every file of every cp, by key
	required := map[string]bool{} // the keys of the cps that succeeded
	var failures []string
	var restartErr error
	for round := 0; ; round++ {
		name := fmt.Sprintf("copy%02d", round)
		out, err := exec.Command("cp", "-r", src, filepath.Join(m.Dir, name)).CombinedOutput()
		for rel, sum := range base {
			want[name+"/"+rel] = sum
			required[name+"/"+rel] = required[name+"/"+rel] || err == nil
		}
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v: %s", name, err, strings.TrimSpace(string(out))))
		}
		select {
		case restartErr = <-restarted:
		default:
			continue
		}
		t.Logf("%d cp -r of 100 files and 24 MiB during the rolling restart, %d failed loudly, in %.1fs",
			round+1, len(failures), time.Since(start).Seconds())
		break
	}
	if restartErr != nil {
		t.Fatal(restartErr)
	}
	for _, f := range failures {
		t.Logf("cp failed loudly: %s", f)
	}

	got, markers := bucketMD5s(t, cl, bucket)
	_, extra, different := diffSums(got, want)
	if len(extra)+len(different) > 0 {
		t.Errorf("objects in the bucket: extra %q, different from their source %q", extra, different)
	}
	var lost []string
	for k, req := range required {
		if _, ok := got[k]; req && !ok {
			lost = append(lost, k)
		}
	}
	sort.Strings(lost)
	if len(lost) > 0 {
		t.Errorf("files of a cp that succeeded missing from the bucket: %q", lost)
	}
	checkMarkers(t, markers, want)
}

// rollingRestart stops each node of c in turn with SIGTERM, starts it
// again and waits until every node sees every drive online, as an
// operator does before restarting the next.
func rollingRestart(t *testing.T, c *harness.Cluster) error {
	time.Sleep(time.Second)
	for _, nd := range c.Nodes {
		start := time.Now()
		nd.Stop()
		stopped := time.Since(start)
		if err := nd.Start(); err != nil {
			return err
		}
		if err := c.WaitAllOnline(2 * time.Minute); err != nil {
			return err
		}
		t.Logf("node %d: stopped in %.1fs, back and seen online by all in %.1fs", nd.Port, stopped.Seconds(), time.Since(start).Seconds())
	}
	return nil
}
