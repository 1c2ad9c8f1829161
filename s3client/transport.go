package s3client

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// newTransport returns a keep-alive transport with a pool sized for
// parallel part uploads, timeouts on every phase before the body, and
// the system CAs plus opts.CAFiles.
func newTransport(opts Options) (*http.Transport, error) {
	tlsConf, err := tlsConfig(opts)
	if err != nil {
		return nil, err
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		// A backstop: each attempt's watchdog (once) gives up first.
		ResponseHeaderTimeout: max(opts.RequestTimeout, opts.UploadTimeout) + time.Second,
	}, nil
}

// tlsConfig trusts the system CAs and the PEM files in opts.CAFiles.
func tlsConfig(opts Options) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: opts.InsecureSkipVerify}
	if len(opts.CAFiles) == 0 {
		return conf, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, f := range opts.CAFiles {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", f)
		}
	}
	conf.RootCAs = pool
	return conf, nil
}
