package s3client

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCredentialProcessRenewed: a profile with credential_process that
// hands out credentials expiring soon gives a RenewingCredentials, which
// runs the process again before they expire, through the SDK's cache.
func TestCredentialProcessRenewed(t *testing.T) {
	w := newCredWorld(t)
	script := filepath.Join(w.root, "creds.sh")
	calls := filepath.Join(w.root, "calls")
	// Each run counts itself and hands out AKPROC<n>, expiring in
	// expirySlack + 4s: usable for 4s, renewed after 3.
	life := int((expirySlack + 4*time.Second) / time.Second)
	body := fmt.Sprintf(`#!/bin/sh
echo x >> %s
n=$(wc -l < %s | tr -d ' ')
exp=$(date -u -d "+%d seconds" +%%Y-%%m-%%dT%%H:%%M:%%SZ)
printf '{"Version": 1, "AccessKeyId": "AKPROC%%s", "SecretAccessKey": "s3cr3tPROC", "SessionToken": "s3cr3tTOK", "Expiration": "%%s"}\n' "$n" "$exp"
`, calls, calls, life)
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("[profile proc]\ncredential_process = %s\n", script)
	if err := os.MkdirAll(filepath.Join(w.home, ".aws"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.home, ".aws", "config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p, source, err := ResolveCredentials(context.Background(), w.options(CredentialOptions{Profile: "proc"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	checkNoCredSecret(t, "source", source)
	if !strings.Contains(source, "ProcessProvider") || !strings.Contains(source, "renewed in the background") {
		t.Errorf("source %q: want the process provider, renewed", source)
	}
	r, ok := p.(*RenewingCredentials)
	if !ok {
		t.Fatalf("provider %T, want *RenewingCredentials", p)
	}
	defer r.Close()
	c, _ := r.Retrieve(context.Background())
	if c.AccessKey != "AKPROC1" || c.SessionToken != "s3cr3tTOK" || c.Expires.IsZero() {
		t.Fatalf("first credentials %+v, want AKPROC1 with a token and an expiry", c.AccessKey)
	}
	deadline := time.Now().Add(6 * time.Second)
	for r.Renewals() < 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	c, err = r.Retrieve(context.Background())
	if err != nil || c.AccessKey != "AKPROC2" {
		t.Fatalf("after %d renewals: %q, %v; want AKPROC2 from a second run of the process", r.Renewals(), c.AccessKey, err)
	}
}
