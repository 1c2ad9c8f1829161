// Package metrics serves a mount's Prometheus metrics (--metrics-listen):
// S3 requests by operation and status with their latency, bytes up and
// down, retries, clock-skew corrections and credential renewals (it is
// the s3client.Observer); FUSE operations by type with latency and
// errors (RawFS wraps the filesystem); and gauges the command registers
// from the filesystem's and caches' own counts. It knows the words of
// neither S3 nor the filesystem beyond operation names.
package metrics

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"
)

const namespace = "bucketfs"

// latencyBuckets go from 1 ms to about 33 s.
var latencyBuckets = prometheus.ExponentialBuckets(0.001, 2, 16)

// Metrics are one mount's metrics, in a registry of their own.
type Metrics struct {
	reg *prometheus.Registry

	s3Requests  *prometheus.CounterVec
	s3Latency   *prometheus.HistogramVec
	s3Retries   *prometheus.CounterVec
	skew        prometheus.Counter
	bytesUp     prometheus.Counter
	bytesDown   prometheus.Counter
	renewals    prometheus.Counter
	fuseOps     *prometheus.CounterVec
	fuseErrors  *prometheus.CounterVec
	fuseLatency *prometheus.HistogramVec
}

// New returns empty metrics, with Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		s3Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "s3",
			Name: "requests_total", Help: "S3 request attempts by operation and HTTP status (0: no answer)."},
			[]string{"op", "status"}),
		s3Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "s3",
			Name: "request_duration_seconds", Help: "Time to the answer's headers of S3 request attempts.",
			Buckets: latencyBuckets}, []string{"op"}),
		s3Retries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "s3",
			Name: "retries_total", Help: "S3 requests sent again after a failed attempt, by operation."},
			[]string{"op"}),
		skew: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "s3",
			Name: "clock_skew_corrections_total", Help: "Clock-skew corrections learnt from RequestTimeTooSkewed."}),
		bytesUp: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "s3",
			Name: "sent_bytes_total", Help: "Bytes of request bodies sent (uploads)."}),
		bytesDown: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "s3",
			Name: "received_bytes_total", Help: "Bytes of answer bodies received (downloads, listings)."}),
		renewals: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace,
			Name: "credential_renewals_total", Help: "Renewals of expiring credentials."}),
		fuseOps: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "fuse",
			Name: "operations_total", Help: "FUSE operations by type."}, []string{"op"}),
		fuseErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "fuse",
			Name: "errors_total", Help: "FUSE operations answered with an error, by type and errno (ENOENT of LOOKUP included)."},
			[]string{"op", "errno"}),
		fuseLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "fuse",
			Name: "operation_duration_seconds", Help: "Time bucketfs took to answer FUSE operations.",
			Buckets: latencyBuckets}, []string{"op"}),
	}
	m.reg.MustRegister(m.s3Requests, m.s3Latency, m.s3Retries, m.skew, m.bytesUp, m.bytesDown, m.renewals,
		m.fuseOps, m.fuseErrors, m.fuseLatency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Request counts one S3 attempt (s3client.Observer).
func (m *Metrics) Request(op string, status int, d time.Duration) {
	m.s3Requests.WithLabelValues(op, strconv.Itoa(status)).Inc()
	m.s3Latency.WithLabelValues(op).Observe(d.Seconds())
}

// Retry counts one retry of op (s3client.Observer).
func (m *Metrics) Retry(op string) { m.s3Retries.WithLabelValues(op).Inc() }

// SkewCorrected counts a clock-skew correction (s3client.Observer).
func (m *Metrics) SkewCorrected() { m.skew.Inc() }

// BytesSent counts request body bytes (s3client.Observer).
func (m *Metrics) BytesSent(n int64) { m.bytesUp.Add(float64(n)) }

// BytesReceived counts answer body bytes (s3client.Observer).
func (m *Metrics) BytesReceived(n int64) { m.bytesDown.Add(float64(n)) }

// CredentialsRenewed counts a credential renewal.
func (m *Metrics) CredentialsRenewed() { m.renewals.Inc() }

// Gauge registers a gauge whose value f gives at each scrape.
func (m *Metrics) Gauge(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, f))
}

// Counter registers a counter whose value f gives at each scrape.
func (m *Metrics) Counter(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, f))
}

// ListenAddr is addr with a bare port ("9100" or ":9100") on loopback.
func ListenAddr(addr string) (string, error) {
	if _, err := strconv.Atoi(addr); err == nil {
		return "127.0.0.1:" + addr, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("metrics address %q: want PORT or HOST:PORT", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// Serve serves the metrics at /metrics on addr (see ListenAddr) until
// the process ends; it returns once listening, or why it cannot.
func (m *Metrics) Serve(addr string, log *logrus.Entry) (net.Addr, error) {
	addr, err := ListenAddr(addr)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Errorf("metrics server stopped: %v", err)
		}
	}()
	return l.Addr(), nil
}
