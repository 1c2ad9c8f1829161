package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bucketfs/bucketfs/test/harness"
)

// Temporary credentials from a real STS: MinIO's AssumeRole. MinIO takes
// AssumeRole signed with its root user (the credentials it gives carry
// the root's policies), so no other user is made here.

// credProcessEnv makes the e2e test binary act as a credential_process
// (see credentialProcess) instead of running the suite.
const credProcessEnv = "BUCKETFS_TEST_CREDENTIAL_PROCESS"

// credentialProcess is the e2e binary run by bucketfs through a profile's
// credential_process: it gets temporary credentials from MinIO's STS (at
// BUCKETFS_TEST_STS_ENDPOINT, as BUCKETFS_TEST_STS_USER with
// BUCKETFS_TEST_STS_SECRET), appends their access key to
// BUCKETFS_TEST_STS_LOG, and prints them in the credential_process
// format with an Expiration BUCKETFS_TEST_STS_LIFE from now, earlier than
// the real one (MinIO's shortest is 15 minutes), to make bucketfs renew
// them soon.
func credentialProcess() int {
	life, err := time.ParseDuration(os.Getenv("BUCKETFS_TEST_STS_LIFE"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "credential process: BUCKETFS_TEST_STS_LIFE: %v\n", err)
		return 1
	}
	srv := &harness.Server{Endpoint: os.Getenv("BUCKETFS_TEST_STS_ENDPOINT"), CAFile: os.Getenv("BUCKETFS_TEST_STS_CA")}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := srv.AssumeRole(ctx, os.Getenv("BUCKETFS_TEST_STS_USER"), os.Getenv("BUCKETFS_TEST_STS_SECRET"), 15*time.Minute)
	if err != nil {
		fmt.Fprintf(os.Stderr, "credential process: %v\n", err)
		return 1
	}
	f, err := os.OpenFile(os.Getenv("BUCKETFS_TEST_STS_LOG"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		fmt.Fprintf(os.Stderr, "credential process: %v\n", err)
		return 1
	}
	fmt.Fprintf(f, "%s %s\n", time.Now().UTC().Format(time.RFC3339Nano), c.AccessKeyID)
	f.Close()
	out, _ := json.Marshal(map[string]any{
		"Version": 1, "AccessKeyId": c.AccessKeyID, "SecretAccessKey": c.SecretAccessKey,
		"SessionToken": c.SessionToken, "Expiration": time.Now().Add(life).UTC().Format(time.RFC3339),
	})
	fmt.Println(string(out))
	return 0
}

// needMinIOSTS skips, saying why, a test that gets temporary credentials
// from MinIO's STS on a Ceph RGW pass (RGW's STS needs rgw_s3_auth_use_sts,
// an STS key and IAM roles the throw-away cluster does not set up): the
// MinIO passes, plain and HTTPS, run it.
func needMinIOSTS(t *testing.T) {
	if server.Kind != harness.ServerMinIO {
		t.Skipf("%s: temporary credentials come from MinIO's STS; this test runs on the MinIO passes", sw.Server)
	}
}

// credEnv is the environment of a mount whose credentials come from
// somewhere other than the environment: no keys, an empty home, no
// instance metadata unless the test says.
func credEnv(t *testing.T, extra ...string) []string {
	home := t.TempDir()
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + home, "NO_PROXY=127.0.0.1,localhost"}
	return append(env, extra...)
}

// failedRequests are the S3 requests in a mount's debug log that got an
// error other than 404.
var failedRequest = regexp.MustCompile(`msg="s3 request".* status=(40[0-35-9]|4[1-9]\d|5\d\d)\b|request failed`)

// TestCredentialProcessRenewal: a profile whose credential_process hands
// out MinIO STS credentials (key, secret, session token) that say they
// expire 16 s after they are given: bucketfs renews them in the
// background, running the process again well before they expire, and
// the mount works all along, without a failed request.
func TestCredentialProcessRenewal(t *testing.T) {
	needMinIOSTS(t)
	bucket := newBucket(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stsLog := filepath.Join(dir, "sts.log")
	config := filepath.Join(dir, "config")
	profile := fmt.Sprintf("[profile sts]\ncredential_process = %s\n", self)
	if err := os.WriteFile(config, []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	const life = 16 * time.Second // usable for 6 s (10 s slack), renewed after 4.5
	env := credEnv(t, "AWS_CONFIG_FILE="+config, credProcessEnv+"=1",
		"BUCKETFS_TEST_STS_ENDPOINT="+server.Endpoint, "BUCKETFS_TEST_STS_USER="+server.AccessKey,
		"BUCKETFS_TEST_STS_SECRET="+server.SecretKey, "BUCKETFS_TEST_STS_LOG="+stsLog,
		"BUCKETFS_TEST_STS_LIFE="+life.String(), "BUCKETFS_TEST_STS_CA="+server.CAFile)
	m := harness.StartMount(t, harness.MountOptions{Binary: binary, Server: server, Source: bucket,
		Signature: sw.Signature, Args: []string{"--profile", "sts"}, Env: env})
	if !strings.Contains(m.Log(), `credentials: profile \"sts\" in `+config) || !strings.Contains(m.Log(), "ProcessProvider") ||
		!strings.Contains(m.Log(), "renewed in the background") {
		t.Errorf("mount log does not say the credentials come from the process of profile sts, renewed:\n%s", m.Log())
	}

	// Work through the mount for 3 lives of the credentials.
	end := time.Now().Add(3 * life)
	for i := 0; time.Now().Before(end); i++ {
		name := fmt.Sprintf("f%03d", i)
		want := fmt.Sprintf("file %d written at %s\n", i, time.Now().Format(time.RFC3339Nano))
		if err := os.WriteFile(filepath.Join(m.Dir, name), []byte(want), 0o644); err != nil {
			t.Fatalf("write %s at %s: %v", name, time.Now().Format(time.RFC3339Nano), err)
		}
		if got := getObject(t, bucket, name); string(got) != want {
			t.Fatalf("object %s: %q, want %q", name, got, want)
		}
		entries, err := os.ReadDir(m.Dir)
		if err != nil || len(entries) != i+1 {
			t.Fatalf("ls after %d files: %d entries, %v", i+1, len(entries), err)
		}
		time.Sleep(300 * time.Millisecond)
	}

	data, err := os.ReadFile(stsLog)
	if err != nil {
		t.Fatal(err)
	}
	calls := strings.Split(strings.TrimSpace(string(data)), "\n")
	// One at mount, then one every 4.5 s: at least 4 in 48 s.
	if len(calls) < 4 {
		t.Errorf("credential process ran %d times in %s, want at least 4 (at mount, then before each expiry):\n%s", len(calls), 3*life, data)
	}
	keys := map[string]bool{}
	for _, c := range calls {
		if f := strings.Fields(c); len(f) == 2 {
			keys[f[1]] = true
		}
	}
	if len(keys) != len(calls) {
		t.Errorf("%d different access keys from %d AssumeRole calls, want all different", len(keys), len(calls))
	}
	log := m.Log()
	renewals := strings.Count(log, "credentials renewed")
	t.Logf("in %s: the credential process ran %d times, %d renewals logged", 3*life, len(calls), renewals)
	if renewals < len(calls)-2 || renewals > len(calls)-1 {
		t.Errorf("%d renewals logged for %d process runs", renewals, len(calls))
	}
	if bad := failedRequest.FindAllString(log, 5); len(bad) > 0 {
		t.Errorf("failed requests across renewals:\n%s", strings.Join(bad, "\n"))
	}
	for k := range keys {
		// Access key ids are logged shortened; secrets never.
		if strings.Contains(log, k) {
			t.Errorf("the log shows a whole temporary access key id %s", k)
		}
	}
}

// metadataServer is a fake instance metadata (IMDSv2) or container
// credentials endpoint on 127.0.0.1 that serves real MinIO STS
// credentials.
type metadataServer struct {
	URL  string
	cred harness.TempCredentials

	mu   sync.Mutex // protects hits
	hits []string   // method and path of each request, with "token" or "no-token"
}

func (s *metadataServer) record(r *http.Request, how string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits = append(s.hits, r.Method+" "+r.URL.Path+" "+how)
}

func (s *metadataServer) Hits() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.hits...)
}

func startMetadataServer(t *testing.T, h func(s *metadataServer, w http.ResponseWriter, r *http.Request)) *metadataServer {
	t.Helper()
	cred, err := server.AssumeRole(ctx(t), server.AccessKey, server.SecretKey, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &metadataServer{URL: "http://" + l.Addr().String(), cred: cred}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(s, w, r) })}
	go hs.Serve(l)
	t.Cleanup(func() {
		hs.Close()
		if t.Failed() {
			t.Logf("metadata requests: %q", s.Hits())
		}
	})
	return s
}

const imdsToken = "imds-session-token-for-the-test"

// imdsHandler answers as EC2 instance metadata does with IMDSv2 required:
// a PUT of /latest/api/token gives a session token, without which every
// GET is refused with 401.
func imdsHandler(s *metadataServer, w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
		s.record(r, "token-request")
		if r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
			http.Error(w, "missing TTL", http.StatusBadRequest)
			return
		}
		w.Header().Set("X-aws-ec2-metadata-token-ttl-seconds", r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds"))
		fmt.Fprint(w, imdsToken)
		return
	}
	if r.Header.Get("X-aws-ec2-metadata-token") != imdsToken {
		s.record(r, "no-token")
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	s.record(r, "token")
	switch r.URL.Path {
	case "/latest/meta-data/iam/security-credentials/", "/latest/meta-data/iam/security-credentials-extended/":
		fmt.Fprint(w, "bucketfs-test-role")
	case "/latest/meta-data/iam/security-credentials/bucketfs-test-role",
		"/latest/meta-data/iam/security-credentials-extended/bucketfs-test-role":
		json.NewEncoder(w).Encode(map[string]string{
			"Code": "Success", "Type": "AWS-HMAC", "LastUpdated": time.Now().UTC().Format(time.RFC3339),
			"AccessKeyId": s.cred.AccessKeyID, "SecretAccessKey": s.cred.SecretAccessKey,
			"Token": s.cred.SessionToken, "Expiration": s.cred.Expiration.UTC().Format(time.RFC3339),
		})
	default:
		http.NotFound(w, r)
	}
}

const containerAuth = "container-authorization-for-the-test"

// containerHandler answers as the ECS container credentials endpoint,
// requiring the authorization token bucketfs was given.
func containerHandler(s *metadataServer, w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != containerAuth {
		s.record(r, "no-token")
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	s.record(r, "token")
	if r.URL.Path != "/v2/credentials/bucketfs-test" {
		http.NotFound(w, r)
		return
	}
	json.NewEncoder(w).Encode(map[string]string{
		"RoleArn": "arn:aws:iam::000000000000:role/bucketfs-test", "AccessKeyId": s.cred.AccessKeyID,
		"SecretAccessKey": s.cred.SecretAccessKey, "Token": s.cred.SessionToken,
		"Expiration": s.cred.Expiration.UTC().Format(time.RFC3339),
	})
}

// checkMountWorks copies a file in through the mount, checks it arrived,
// and reads it back through the mount.
func checkMountWorks(t *testing.T, m *harness.Mount, bucket string) {
	t.Helper()
	src := randomFile(t, 200<<10)
	sh(t, "cp", src, filepath.Join(m.Dir, "copied"))
	want, _ := os.ReadFile(src)
	if got := getObject(t, bucket, "copied"); string(got) != string(want) {
		t.Fatalf("object copied through the mount: %d bytes, want %d", len(got), len(want))
	}
	sh(t, "cmp", src, filepath.Join(m.Dir, "copied"))
}

// TestIMDSv2Credentials: with AWS_EC2_METADATA_SERVICE_ENDPOINT pointing
// at a fake instance metadata service, bucketfs takes the role's
// credentials (real MinIO STS ones) through IMDSv2's session token.
func TestIMDSv2Credentials(t *testing.T) {
	needMinIOSTS(t)
	bucket := newBucket(t)
	md := startMetadataServer(t, imdsHandler)
	m := harness.StartMount(t, harness.MountOptions{Binary: binary, Server: server, Source: bucket,
		Signature: sw.Signature, Env: credEnv(t, "AWS_EC2_METADATA_SERVICE_ENDPOINT="+md.URL)})
	if !strings.Contains(m.Log(), "credentials: EC2 instance metadata (AWS_EC2_METADATA_SERVICE_ENDPOINT "+md.URL+")") ||
		!strings.Contains(m.Log(), "EC2RoleProvider") || !strings.Contains(m.Log(), "renewed in the background") {
		t.Errorf("mount log does not say the credentials come from instance metadata:\n%s", m.Log())
	}
	checkMountWorks(t, m, bucket)
	hits := md.Hits()
	var tokens, creds int
	for _, h := range hits {
		if strings.HasSuffix(h, "no-token") {
			t.Errorf("metadata asked without an IMDSv2 token: %s", h)
		}
		if strings.HasPrefix(h, "PUT /latest/api/token") {
			tokens++
		}
		if strings.Contains(h, "/bucketfs-test-role ") {
			creds++
		}
	}
	if tokens == 0 || creds == 0 {
		t.Errorf("metadata requests %q: want a token PUT and a GET of the role's credentials", hits)
	}
}

// TestContainerCredentials: AWS_CONTAINER_CREDENTIALS_FULL_URI with
// AWS_CONTAINER_AUTHORIZATION_TOKEN, as on ECS and EKS Pod Identity.
func TestContainerCredentials(t *testing.T) {
	needMinIOSTS(t)
	bucket := newBucket(t)
	md := startMetadataServer(t, containerHandler)
	uri := md.URL + "/v2/credentials/bucketfs-test"
	m := harness.StartMount(t, harness.MountOptions{Binary: binary, Server: server, Source: bucket,
		Signature: sw.Signature, Env: credEnv(t, "AWS_CONTAINER_CREDENTIALS_FULL_URI="+uri,
			"AWS_CONTAINER_AUTHORIZATION_TOKEN="+containerAuth)})
	if !strings.Contains(m.Log(), "credentials: container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI "+uri+")") {
		t.Errorf("mount log does not say the credentials come from the container endpoint:\n%s", m.Log())
	}
	checkMountWorks(t, m, bucket)
	hits := md.Hits()
	if len(hits) == 0 {
		t.Fatal("the container credentials endpoint was never asked")
	}
	for _, h := range hits {
		if !strings.HasSuffix(h, " token") {
			t.Errorf("container credentials asked without the authorization token: %s", h)
		}
	}
	if strings.Contains(m.Log(), containerAuth) || strings.Contains(m.Log(), md.cred.SecretAccessKey) {
		t.Error("the log shows the container authorization token or a secret")
	}
}

// TestAssumeRoleProfile: a profile with role_arn and source_profile, its
// STS endpoint set in a services section: the AWS SDK's AssumeRole
// provider gets MinIO STS credentials with the source profile's keys.
func TestAssumeRoleProfile(t *testing.T) {
	needMinIOSTS(t)
	bucket := newBucket(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	profiles := fmt.Sprintf(`[profile base]
aws_access_key_id = %s
aws_secret_access_key = %s

[profile role]
role_arn = arn:minio:iam:::role/bucketfs-test
source_profile = base
duration_seconds = 900
services = local

[services local]
sts =
  endpoint_url = %s
`, server.AccessKey, server.SecretKey, server.Endpoint)
	if server.CAFile != "" {
		// The SDK's STS client trusts the run's CA through the profile.
		profiles = strings.Replace(profiles, "services = local\n", "services = local\nca_bundle = "+server.CAFile+"\n", 1)
	}
	if err := os.WriteFile(config, []byte(profiles), 0o600); err != nil {
		t.Fatal(err)
	}
	m := harness.StartMount(t, harness.MountOptions{Binary: binary, Server: server, Source: bucket,
		Signature: sw.Signature, Env: credEnv(t, "AWS_CONFIG_FILE="+config, "AWS_PROFILE=role")})
	if !strings.Contains(m.Log(), `credentials: profile \"role\" (AWS_PROFILE) in `+config) ||
		!strings.Contains(m.Log(), "AssumeRoleProvider") || !strings.Contains(m.Log(), "renewed in the background") {
		t.Errorf("mount log does not say the credentials come from AssumeRole of profile role:\n%s", m.Log())
	}
	checkMountWorks(t, m, bucket)
	if strings.Contains(m.Log(), server.SecretKey) {
		t.Error("the log shows the source profile's secret")
	}
}
