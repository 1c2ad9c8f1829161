package metrics

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"
)

func TestListenAddr(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"9100", "127.0.0.1:9100"},
		{":9100", "127.0.0.1:9100"},
		{"0.0.0.0:9100", "0.0.0.0:9100"},
		{"[::1]:9100", "[::1]:9100"},
		{"localhost:0", "localhost:0"},
	} {
		got, err := ListenAddr(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ListenAddr(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := ListenAddr("nonsense"); err == nil {
		t.Error("ListenAddr(nonsense) succeeded")
	}
}

func TestS3Counts(t *testing.T) {
	m := New()
	m.Request("PutObject", 200, 5*time.Millisecond)
	m.Request("PutObject", 200, 7*time.Millisecond)
	m.Request("GetObject", 0, time.Second)
	m.Retry("GetObject")
	m.BytesSent(10)
	m.BytesReceived(20)
	m.SkewCorrected()
	m.CredentialsRenewed()
	if got := testutil.ToFloat64(m.s3Requests.WithLabelValues("PutObject", "200")); got != 2 {
		t.Errorf("PutObject 200: %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.s3Requests.WithLabelValues("GetObject", "0")); got != 1 {
		t.Errorf("GetObject without answer: %v, want 1", got)
	}
	if got := testutil.CollectAndCount(m.s3Latency); got != 2 {
		t.Errorf("%d latency histograms, want one per op (2)", got)
	}
	for name, c := range map[string]float64{
		"retries": testutil.ToFloat64(m.s3Retries.WithLabelValues("GetObject")), "sent": testutil.ToFloat64(m.bytesUp) / 10,
		"received": testutil.ToFloat64(m.bytesDown) / 20, "skew": testutil.ToFloat64(m.skew), "renewals": testutil.ToFloat64(m.renewals),
	} {
		if c != 1 {
			t.Errorf("%s: %v, want 1", name, c)
		}
	}
}

// failingFS answers every LOOKUP ENOENT and every GETATTR OK.
type failingFS struct{ fuse.RawFileSystem }

func (failingFS) Lookup(<-chan struct{}, *fuse.InHeader, string, *fuse.EntryOut) fuse.Status {
	return fuse.ENOENT
}

func (failingFS) GetAttr(<-chan struct{}, *fuse.GetAttrIn, *fuse.AttrOut) fuse.Status { return fuse.OK }

func TestRawFSCounts(t *testing.T) {
	m := New()
	fs := m.RawFS(failingFS{fuse.NewDefaultRawFileSystem()})
	fs.Lookup(nil, &fuse.InHeader{}, "x", &fuse.EntryOut{})
	fs.Lookup(nil, &fuse.InHeader{}, "y", &fuse.EntryOut{})
	fs.GetAttr(nil, &fuse.GetAttrIn{}, &fuse.AttrOut{})
	if got := testutil.ToFloat64(m.fuseOps.WithLabelValues("lookup")); got != 2 {
		t.Errorf("lookups %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.fuseErrors.WithLabelValues("lookup", "ENOENT")); got != 2 {
		t.Errorf("lookup errors ENOENT %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.fuseOps.WithLabelValues("getattr")); got != 1 {
		t.Errorf("getattrs %v, want 1", got)
	}
	if got := testutil.CollectAndCount(m.fuseErrors); got != 1 {
		t.Errorf("%d error series, want 1 (GETATTR answered OK)", got)
	}
}

func TestServe(t *testing.T) {
	m := New()
	m.Gauge("test_gauge", "A test gauge.", func() float64 { return 42 })
	m.Request("HeadBucket", 200, time.Millisecond)
	l := logrus.New()
	l.SetOutput(io.Discard)
	addr, err := m.Serve("0", logrus.NewEntry(l))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(addr.String(), "127.0.0.1:") {
		t.Errorf("serving on %s, want loopback", addr)
	}
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"bucketfs_test_gauge 42", `bucketfs_s3_requests_total{op="HeadBucket",status="200"} 1`, "go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}
