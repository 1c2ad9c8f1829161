package s3client

import (
	"context"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

func TestAddressing(t *testing.T) {
	for _, tc := range []struct {
		endpoint, addressing, bucket string
		wantHost, wantPath           string
		wantWarn                     string // a word of the logged fallback reason, or ""
	}{
		{"http://s3.test:9000", AddressingVirtual, "photos", "photos.s3.test:9000", "/k", ""},
		{"https://s3.test", AddressingVirtual, "a-b-1", "a-b-1.s3.test", "/k", ""},
		{"http://s3.test:9000", AddressingVirtual, "my.photos", "my.photos.s3.test:9000", "/k", ""},
		{"https://s3.test", AddressingVirtual, "my.photos", "s3.test", "/my.photos/k", "wildcard"},
		{"http://s3.test:9000", AddressingVirtual, "Photos", "s3.test:9000", "/Photos/k", "DNS"},
		{"http://s3.test:9000", AddressingVirtual, "under_score", "s3.test:9000", "/under_score/k", "DNS"},
		{"http://s3.test:9000", AddressingVirtual, "trailing-", "s3.test:9000", "/trailing-/k", "DNS"},
		{"http://s3.test:9000", AddressingVirtual, "a-.b", "s3.test:9000", "/a-.b/k", "DNS"},
		{"http://s3.test:9000", AddressingVirtual, "ab", "s3.test:9000", "/ab/k", "DNS"},
		{"http://s3.test:9000", AddressingPath, "photos", "s3.test:9000", "/photos/k", ""},
		{"http://s3.test:9000", AddressingAuto, "photos", "s3.test:9000", "/photos/k", ""},
		{"https://s3.amazonaws.com", AddressingAuto, "photos", "photos.s3.amazonaws.com", "/k", ""},
		{"https://s3.amazonaws.com", AddressingAuto, "Photos", "s3.amazonaws.com", "/Photos/k", ""},
	} {
		logger, hook := test.NewNullLogger()
		c, err := New(Options{Endpoint: tc.endpoint, Addressing: tc.addressing, Signature: "v4",
			Credentials: Credentials{AccessKey: "AKIDEXAMPLE", SecretKey: "secret"}, Log: logrus.NewEntry(logger)})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ { // the fallback is logged once per bucket
			req, err := c.buildHTTP(context.Background(), &request{method: "GET", bucket: tc.bucket, key: "k"}, c.opts.Credentials)
			if err != nil {
				t.Fatal(err)
			}
			if req.URL.Host != tc.wantHost || req.URL.Path != tc.wantPath {
				t.Errorf("%s %s bucket %q: got %s%s, want %s%s", tc.endpoint, tc.addressing, tc.bucket,
					req.URL.Host, req.URL.Path, tc.wantHost, tc.wantPath)
			}
		}
		var warns []string
		for _, e := range hook.AllEntries() {
			if e.Level == logrus.WarnLevel {
				warns = append(warns, e.Message)
			}
		}
		switch {
		case tc.wantWarn == "" && len(warns) != 0:
			t.Errorf("bucket %q: got warnings %q, want none", tc.bucket, warns)
		case tc.wantWarn != "" && (len(warns) != 1 || !strings.Contains(warns[0], tc.wantWarn) || !strings.Contains(warns[0], "path style")):
			t.Errorf("bucket %q: got warnings %q, want one saying path style because of %q", tc.bucket, warns, tc.wantWarn)
		}
	}
}
