package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// opCounts counts S3 requests by short operation name ("GET", "HEAD",
// ...). A key "OP!STATUS" (bucketfs, raw) or "OP!4xx" (server counters)
// counts the failed ones among them; "OP!ERR" requests that got no answer.
type opCounts map[string]int

// shortOps are the names printed for s3client's and MinIO's operations.
var shortOps = map[string]string{
	"HeadBucket": "HEADBUCKET", "ListBuckets": "LISTBUCKETS",
	"ListObjectsV2": "LIST", "ListObjectsV1": "LISTv1",
	"HeadObject": "HEAD", "GetObject": "GET", "PutObject": "PUT",
	"CreateMultipartUpload": "MPU-START", "NewMultipartUpload": "MPU-START",
	"UploadPart": "PART", "PutObjectPart": "PART",
	"CompleteMultipartUpload": "MPU-END", "AbortMultipartUpload": "MPU-ABORT",
	"ListParts": "LISTPARTS", "ListObjectParts": "LISTPARTS",
	"CopyObject": "COPY", "UploadPartCopy": "PARTCOPY", "CopyObjectPart": "PARTCOPY",
	"DeleteObject": "DELETE", "DeleteMultipleObjects": "DELETE-MULTI",
}

// opOrder is the order operations are printed in; others follow sorted.
var opOrder = []string{"HEADBUCKET", "LISTBUCKETS", "LIST", "LISTv1", "HEAD", "GET", "PUT",
	"MPU-START", "PART", "MPU-END", "MPU-ABORT", "LISTPARTS", "COPY", "PARTCOPY", "DELETE", "DELETE-MULTI"}

func short(op string) string {
	if s, ok := shortOps[op]; ok {
		return s
	}
	return op
}

// add counts one request of op; status is its HTTP status, 0 if none came.
func (c opCounts) add(op string, status int) {
	op = short(op)
	c[op]++
	switch {
	case status == 0:
		c[op+"!ERR"]++
	case status >= 300:
		c[op+"!"+strconv.Itoa(status)]++
	}
}

func (c opCounts) total() int {
	n := 0
	for k, v := range c {
		if !strings.Contains(k, "!") {
			n += v
		}
	}
	return n
}

// minus is c less earlier (counters that only grow).
func (c opCounts) minus(earlier opCounts) opCounts {
	d := opCounts{}
	for k, v := range c {
		if v-earlier[k] != 0 {
			d[k] = v - earlier[k]
		}
	}
	return d
}

// String prints "LIST=1 HEAD=1001(1×404)".
func (c opCounts) String() string { return c.format(nil) }

// format prints c; an op whose count varied over runs gets its range
// from spread: "GET=6[3-9]".
func (c opCounts) format(spread map[string][2]int) string {
	if c == nil {
		return "n/a"
	}
	var ops []string
	for k := range c {
		if !strings.Contains(k, "!") {
			ops = append(ops, k)
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		a, b := slices.Index(opOrder, ops[i]), slices.Index(opOrder, ops[j])
		if a < 0 {
			a = len(opOrder)
		}
		if b < 0 {
			b = len(opOrder)
		}
		if a != b {
			return a < b
		}
		return ops[i] < ops[j]
	})
	var parts []string
	for _, op := range ops {
		s := fmt.Sprintf("%s=%d", op, c[op])
		if r, ok := spread[op]; ok && r[0] != r[1] {
			s += fmt.Sprintf("[%d-%d]", r[0], r[1])
		}
		var fails []string
		for k, v := range c {
			if status, ok := strings.CutPrefix(k, op+"!"); ok && v > 0 {
				fails = append(fails, fmt.Sprintf("%d×%s", v, status))
			}
		}
		if len(fails) > 0 {
			sort.Strings(fails)
			s += "(" + strings.Join(fails, ",") + ")"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// medianCounts is, per key, the median over runs, printed with the
// range of the keys that varied.
func medianCounts(runs []opCounts) string {
	med, spread := medianSpread(runs)
	return med.format(spread)
}

func medianSpread(runs []opCounts) (opCounts, map[string][2]int) {
	if len(runs) == 0 {
		return nil, nil
	}
	keys := map[string]bool{}
	for _, r := range runs {
		if r == nil {
			return nil, nil
		}
		for k := range r {
			keys[k] = true
		}
	}
	out, spread := opCounts{}, map[string][2]int{}
	for k := range keys {
		vals := make([]int, len(runs))
		for i, r := range runs {
			vals[i] = r[k]
		}
		slices.Sort(vals)
		if v := vals[len(vals)/2]; v != 0 {
			out[k] = v
		}
		spread[k] = [2]int{vals[0], vals[len(vals)-1]}
	}
	return out, spread
}

// reOp, reStatus and reBytes pick the fields of an s3client "s3 request" line that
// logrus's text formatter wrote (keys sorted, values quoted if needed).
var (
	reOp     = regexp.MustCompile(`(?:^| )op=(\w+)`)
	reStatus = regexp.MustCompile(`(?:^| )status=(\d+)`)
	reBytes  = regexp.MustCompile(`(?:^| )bytes_in=(-?\d+)`)
)

// logCounts counts the requests a bucketfs --debug-s3 log records from
// offset from on, and sums the Content-Length of the GET answers (what
// the GETs asked for, not necessarily what was read).
func logCounts(path string, from int64) (opCounts, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil, 0, err
	}
	c := opCounts{}
	var getBytes int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		answered := strings.Contains(line, `msg="s3 request"`)
		if !answered && !strings.Contains(line, `msg="request failed`) {
			continue
		}
		m := reOp.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		status := 0
		if s := reStatus.FindStringSubmatch(line); answered && s != nil {
			status, _ = strconv.Atoi(s[1])
		}
		c.add(m[1], status)
		if b := reBytes.FindStringSubmatch(line); m[1] == "GetObject" && b != nil {
			n, _ := strconv.ParseInt(b[1], 10, 64)
			getBytes += max(n, 0)
		}
	}
	return c, getBytes, sc.Err()
}

// countingHook counts the raw client's requests from its log entries.
type countingHook struct {
	mu     sync.Mutex // protects counts
	counts opCounts
}

func (h *countingHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h *countingHook) Fire(e *logrus.Entry) error {
	answered := e.Message == "s3 request"
	if !answered && !strings.HasPrefix(e.Message, "request failed") {
		return nil
	}
	op, _ := e.Data["op"].(string)
	status, _ := e.Data["status"].(int)
	if !answered {
		status = 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts.add(op, status)
	return nil
}

// snapshot copies the counts so far.
func (h *countingHook) snapshot() opCounts {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := make(opCounts, len(h.counts))
	for k, v := range h.counts {
		c[k] = v
	}
	return c
}

// nopFormatter formats nothing: the raw client's log is only counted.
type nopFormatter struct{}

func (nopFormatter) Format(*logrus.Entry) ([]byte, error) { return nil, nil }

// reMetric matches MinIO's per-API counters (metrics v3, updated at once;
// the v2 node metrics are cached for seconds):
// minio_api_requests_total{name="GetObject",server="...",type="s3"} 12
var reMetric = regexp.MustCompile(`^minio_api_requests_(total|4xx_errors_total|5xx_errors_total)\{([^}]*)\} (\S+)$`)
var reName = regexp.MustCompile(`name="([^"]+)"`)

// serverCounts reads MinIO's counters of S3 requests by API.
func (b *bench) serverCounts() (opCounts, error) {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	resp, err := hc.Get(b.srv.Endpoint + "/minio/metrics/v3/api/requests")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s", resp.Status)
	}
	c := opCounts{}
	sc := bufio.NewScanner(resp.Body)
	found := false
	for sc.Scan() {
		m := reMetric.FindStringSubmatch(sc.Text())
		if m == nil || !strings.Contains(m[2], `type="s3"`) {
			continue
		}
		name := reName.FindStringSubmatch(m[2])
		if name == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			continue
		}
		found = true
		op := short(name[1])
		switch m[1] {
		case "total":
			c[op] += int(v)
		case "4xx_errors_total":
			c[op+"!4xx"] += int(v)
		case "5xx_errors_total":
			c[op+"!5xx"] += int(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("metrics: no minio_api_requests_total")
	}
	return c, nil
}
