package e2e

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/s3client"
	"github.com/bucketfs/bucketfs/test/harness"
)

// scrape fetches a mount's metrics and returns each sample's value by
// its name and labels as printed (e.g. `bucketfs_s3_requests_total{op="GetObject",status="200"}`).
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: HTTP %d, %v", resp.StatusCode, err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// delta is after minus before for each sample whose name matches re.
func delta(before, after map[string]float64, re string) map[string]float64 {
	m := regexp.MustCompile(re)
	d := map[string]float64{}
	for k, v := range after {
		if m.MatchString(k) && v != before[k] {
			d[k] = v - before[k]
		}
	}
	return d
}

// TestMetrics: with --metrics-listen, after a cp into the mount and a cat
// of an object, the scrape shows one PutObject and one GetObject more (by
// operation and status), the bytes each moved, and the FUSE writes and
// reads that carried them.
func TestMetrics(t *testing.T) {
	bucket := newBucket(t)
	port, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	m := mountBucket(t, bucket, "--metrics-listen", strconv.Itoa(port))
	if !strings.Contains(m.Log(), "metrics at http://"+addr+"/metrics") {
		t.Errorf("mount log does not say where the metrics are:\n%s", m.Log())
	}
	const size = 300 << 10
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if _, err := client.PutObject(ctx(t), bucket, "to-cat", strings.NewReader(string(data)), size, s3client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	src := randomFile(t, size)

	before := scrape(t, addr)
	sh(t, "cp", src, filepath.Join(m.Dir, "copied"))
	afterCp := scrape(t, addr)
	puts := delta(before, afterCp, `^bucketfs_s3_requests_total\{op="(PutObject|CreateMultipartUpload|UploadPart)"`)
	if len(puts) != 1 || puts[`bucketfs_s3_requests_total{op="PutObject",status="200"}`] != 1 {
		t.Errorf("requests to upload by cp: %v, want one PutObject 200", puts)
	}
	if up := afterCp["bucketfs_s3_sent_bytes_total"] - before["bucketfs_s3_sent_bytes_total"]; up != size {
		t.Errorf("bytes sent by cp: %v, want %d", up, size)
	}
	// (RELEASE comes after close(2) has returned: maybe after the scrape.)
	if w := delta(before, afterCp, `^bucketfs_fuse_operations_total\{op="(write|create|flush)"\}`); len(w) != 3 {
		t.Errorf("FUSE operations of cp: %v, want write, create and flush", w)
	}

	out := sh(t, "cat", filepath.Join(m.Dir, "to-cat"))
	if out != string(data) {
		t.Fatalf("cat gave %d bytes, want the object's %d", len(out), size)
	}
	time.Sleep(100 * time.Millisecond) // reads ahead that cat did not wait for
	afterCat := scrape(t, addr)
	gets := delta(afterCp, afterCat, `^bucketfs_s3_requests_total\{op="GetObject"`)
	if len(gets) != 1 || gets[`bucketfs_s3_requests_total{op="GetObject",status="200"}`] != 1 &&
		gets[`bucketfs_s3_requests_total{op="GetObject",status="206"}`] != 1 {
		t.Errorf("GETs of cat: %v, want one", gets)
	}
	if down := afterCat["bucketfs_s3_received_bytes_total"] - afterCp["bucketfs_s3_received_bytes_total"]; down < size {
		t.Errorf("bytes received by cat: %v, want at least %d", down, size)
	}
	if r := afterCat[`bucketfs_fuse_operations_total{op="read"}`] - afterCp[`bucketfs_fuse_operations_total{op="read"}`]; r < 1 {
		t.Errorf("FUSE reads of cat: %v", r)
	}
	if afterCat[`bucketfs_s3_request_duration_seconds_count{op="GetObject"}`] < 1 {
		t.Error("no GetObject latency observed")
	}
	for _, name := range []string{"bucketfs_upload_parts_in_flight", "bucketfs_upload_buffered_bytes",
		"bucketfs_attr_cache_hits_total", "bucketfs_attr_cache_entries", "bucketfs_credential_renewals_total",
		"bucketfs_s3_clock_skew_corrections_total"} {
		if _, ok := afterCat[name]; !ok {
			t.Errorf("scrape lacks %s", name)
		}
	}
	if v := afterCat["bucketfs_upload_parts_in_flight"]; v != 0 {
		t.Errorf("upload parts in flight after cp finished: %v", v)
	}
}
