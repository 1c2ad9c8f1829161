package s3client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The example keys, time and host of AWS's S3 SigV4 documentation
// ("Signature Calculations for the Authorization Header: Transferring
// Payload in a Single Chunk", sig-v4-header-based-auth.html).
const (
	exampleAccessKey = "AKIAIOSFODNN7EXAMPLE"
	exampleSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	exampleHost      = "examplebucket.s3.amazonaws.com"
	exampleAmzDate   = "20130524T000000Z"
	// exampleSigningKey is kSigning for 20130524/us-east-1/s3; it matches
	// an independent openssl HMAC chain and other SDKs' tests.
	exampleSigningKey = "dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378"
	welcomePayload    = "Welcome to Amazon S3."
	welcomeHash       = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
)

var (
	exampleTime  = time.Date(2013, time.May, 24, 0, 0, 0, 0, time.UTC)
	exampleCreds = Credentials{AccessKey: exampleAccessKey, SecretKey: exampleSecretKey}
)

// exampleHeader returns the headers every documented example signs plus extra.
func exampleHeader(payloadHash string, extra ...string) http.Header {
	h := http.Header{}
	h.Set("Host", exampleHost)
	h.Set("X-Amz-Date", exampleAmzDate)
	h.Set("X-Amz-Content-Sha256", payloadHash)
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return h
}

// awsExamples are the four documented single-chunk examples, with every
// intermediate value the documentation gives.
var awsExamples = []struct {
	name          string
	req           v4Request
	canonical     string
	canonicalHash string // the hash in the documented string to sign
	signedHeaders string
	signature     string
}{
	{
		name: "GET Object",
		req: v4Request{Method: "GET", EscapedPath: "/test.txt",
			Header: exampleHeader(emptyPayloadHash, "Range", "bytes=0-9"), PayloadHash: emptyPayloadHash},
		canonical: "GET\n/test.txt\n\n" +
			"host:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n" +
			"x-amz-content-sha256:" + emptyPayloadHash + "\nx-amz-date:20130524T000000Z\n\n" +
			"host;range;x-amz-content-sha256;x-amz-date\n" + emptyPayloadHash,
		canonicalHash: "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
		signedHeaders: "host;range;x-amz-content-sha256;x-amz-date",
		signature:     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
	},
	{
		name: "PUT Object",
		req: v4Request{Method: "PUT", EscapedPath: "/test%24file.text",
			Header: exampleHeader(welcomeHash, "Date", "Fri, 24 May 2013 00:00:00 GMT",
				"X-Amz-Storage-Class", "REDUCED_REDUNDANCY"),
			PayloadHash: welcomeHash},
		canonical: "PUT\n/test%24file.text\n\n" +
			"date:Fri, 24 May 2013 00:00:00 GMT\nhost:examplebucket.s3.amazonaws.com\n" +
			"x-amz-content-sha256:" + welcomeHash + "\nx-amz-date:20130524T000000Z\n" +
			"x-amz-storage-class:REDUCED_REDUNDANCY\n\n" +
			"date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n" + welcomeHash,
		canonicalHash: "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
		signedHeaders: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
		signature:     "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
	},
	{
		name: "GET Bucket Lifecycle",
		req: v4Request{Method: "GET", EscapedPath: "/", RawQuery: "lifecycle=",
			Header: exampleHeader(emptyPayloadHash), PayloadHash: emptyPayloadHash},
		canonical: "GET\n/\nlifecycle=\n" +
			"host:examplebucket.s3.amazonaws.com\n" +
			"x-amz-content-sha256:" + emptyPayloadHash + "\nx-amz-date:20130524T000000Z\n\n" +
			"host;x-amz-content-sha256;x-amz-date\n" + emptyPayloadHash,
		canonicalHash: "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
		signedHeaders: "host;x-amz-content-sha256;x-amz-date",
		signature:     "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
	},
	{
		name: "Get Bucket (List Objects)",
		req: v4Request{Method: "GET", EscapedPath: "/", RawQuery: "max-keys=2&prefix=J",
			Header: exampleHeader(emptyPayloadHash), PayloadHash: emptyPayloadHash},
		canonical: "GET\n/\nmax-keys=2&prefix=J\n" +
			"host:examplebucket.s3.amazonaws.com\n" +
			"x-amz-content-sha256:" + emptyPayloadHash + "\nx-amz-date:20130524T000000Z\n\n" +
			"host;x-amz-content-sha256;x-amz-date\n" + emptyPayloadHash,
		canonicalHash: "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
		signedHeaders: "host;x-amz-content-sha256;x-amz-date",
		signature:     "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
	},
}

func TestPayloadHashes(t *testing.T) {
	for in, want := range map[string]string{"": emptyPayloadHash, welcomePayload: welcomeHash} {
		sum := sha256.Sum256([]byte(in))
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("sha256(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestV4CanonicalRequestAWSExamples(t *testing.T) {
	for _, tt := range awsExamples {
		t.Run(tt.name, func(t *testing.T) {
			got, signed := v4CanonicalRequest(tt.req)
			if got != tt.canonical {
				t.Errorf("canonical request:\ngot  %q\nwant %q", got, tt.canonical)
			}
			if signed != tt.signedHeaders {
				t.Errorf("signed headers: got %v, want %v", signed, tt.signedHeaders)
			}
			sum := sha256.Sum256([]byte(got))
			if h := hex.EncodeToString(sum[:]); h != tt.canonicalHash {
				t.Errorf("canonical request hash: got %v, want %v", h, tt.canonicalHash)
			}
		})
	}
}

func TestV4StringToSignAWSExamples(t *testing.T) {
	scope := v4Scope(exampleTime, "us-east-1")
	if want := "20130524/us-east-1/s3/aws4_request"; scope != want {
		t.Fatalf("scope: got %v, want %v", scope, want)
	}
	for _, tt := range awsExamples {
		t.Run(tt.name, func(t *testing.T) {
			got := v4StringToSign(exampleTime, scope, tt.canonical)
			want := "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n" + tt.canonicalHash
			if got != want {
				t.Errorf("string to sign:\ngot  %q\nwant %q", got, want)
			}
		})
	}
}

func TestV4SigningKey(t *testing.T) {
	if got := hex.EncodeToString(v4SigningKey(exampleSecretKey, exampleTime, "us-east-1")); got != exampleSigningKey {
		t.Errorf("signing key: got %v, want %v", got, exampleSigningKey)
	}
	// The day is the UTC day, whatever the zone of the time given.
	pdt := exampleTime.In(time.FixedZone("PDT", -7*3600)) // 23 May, 17:00 local
	if got := hex.EncodeToString(v4SigningKey(exampleSecretKey, pdt, "us-east-1")); got != exampleSigningKey {
		t.Errorf("signing key from a non-UTC time: got %v, want %v", got, exampleSigningKey)
	}
	if got, want := v4Scope(pdt, "eu-west-1"), "20130524/eu-west-1/s3/aws4_request"; got != want {
		t.Errorf("scope from a non-UTC time: got %v, want %v", got, want)
	}
}

func TestV4SignatureAWSExamples(t *testing.T) {
	key := v4SigningKey(exampleSecretKey, exampleTime, "us-east-1")
	scope := v4Scope(exampleTime, "us-east-1")
	for _, tt := range awsExamples {
		t.Run(tt.name, func(t *testing.T) {
			if got := v4Signature(key, v4StringToSign(exampleTime, scope, tt.canonical)); got != tt.signature {
				t.Errorf("signature: got %v, want %v", got, tt.signature)
			}
			want := "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
				"SignedHeaders=" + tt.signedHeaders + ", Signature=" + tt.signature
			if got := signV4(tt.req, exampleCreds, "us-east-1", exampleTime); got != want {
				t.Errorf("signV4:\ngot  %v\nwant %v", got, want)
			}
		})
	}
}

func TestV4SignedHeaderNames(t *testing.T) {
	h := http.Header{}
	for _, name := range []string{
		"Host", "Date", "Content-Md5", "Content-Type", "Range", "X-Amz-Date", "X-Amz-Meta-Mode",
		"User-Agent", "Expect", "Content-Length", "Authorization", "Accept-Encoding", "If-Match",
	} {
		h.Set(name, "v")
	}
	got := strings.Join(v4SignedHeaderNames(h), ";")
	want := "content-md5;content-type;date;host;range;x-amz-date;x-amz-meta-mode"
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestV4CanonicalHeaderValues(t *testing.T) {
	h := http.Header{}
	h.Set("Host", "h")
	h.Set("X-Amz-Meta-Note", "  a   b \t c  ")
	h.Add("X-Amz-Meta-List", "one")
	h.Add("X-Amz-Meta-List", " two  2 ")
	got, _ := v4CanonicalRequest(v4Request{Method: "GET", Header: h, PayloadHash: unsignedPayload})
	want := "GET\n/\n\nhost:h\nx-amz-meta-list:one,two 2\nx-amz-meta-note:a b c\n\n" +
		"host;x-amz-meta-list;x-amz-meta-note\nUNSIGNED-PAYLOAD"
	if got != want {
		t.Errorf("canonical request:\ngot  %q\nwant %q", got, want)
	}
}

// newExampleClient is a Client for the documented host at the documented time.
func newExampleClient(t *testing.T, cred Credentials) *Client {
	t.Helper()
	c, err := New(Options{Endpoint: "https://" + exampleHost, Credentials: cred,
		Now: func() time.Time { return exampleTime }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The GET Object example through Client.signV4, the glue that sets the
// x-amz-* headers and picks the payload hash.
func TestClientSignGetObjectExample(t *testing.T) {
	c := newExampleClient(t, exampleCreds)
	req, err := http.NewRequest(http.MethodGet, "https://"+exampleHost+"/test.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Range", "bytes=0-9")
	req.Header.Set("User-Agent", "bucketfs")
	c.signV4(req, "/test.txt", exampleCreds)
	want := "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
		"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=" + awsExamples[0].signature
	if got := req.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization:\ngot  %v\nwant %v", got, want)
	}
	for name, want := range map[string]string{
		"X-Amz-Date": exampleAmzDate, "X-Amz-Content-Sha256": emptyPayloadHash, "Host": "",
	} {
		if got := req.Header.Get(name); got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
}

// The two bucket examples through buildHTTP: path, query and signature
// exactly as documented, from url.Values in any order.
func TestBuildHTTPBucketExamples(t *testing.T) {
	c := newExampleClient(t, exampleCreds)
	tests := []struct {
		query   url.Values
		wantURL string
		wantSig string
	}{
		{url.Values{"lifecycle": {""}}, "https://examplebucket.s3.amazonaws.com/?lifecycle=", awsExamples[2].signature},
		{url.Values{"prefix": {"J"}, "max-keys": {"2"}}, "https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J", awsExamples[3].signature},
	}
	for _, tt := range tests {
		req, err := c.buildHTTP(context.Background(), &request{op: "Test", method: http.MethodGet, query: tt.query}, c.opts.Credentials)
		if err != nil {
			t.Fatal(err)
		}
		if got := req.URL.String(); got != tt.wantURL {
			t.Errorf("URL: got %v, want %v", got, tt.wantURL)
		}
		if got := req.Header.Get("Authorization"); !strings.HasSuffix(got, "Signature="+tt.wantSig) {
			t.Errorf("%v: Authorization: got %v, want signature %v", tt.query, got, tt.wantSig)
		}
	}
}

func TestSignAnonymousAndSessionToken(t *testing.T) {
	r := &request{op: "Test", method: http.MethodGet, query: url.Values{"lifecycle": {""}}}
	req, err := newExampleClient(t, Credentials{}).buildHTTP(context.Background(), r, Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	if got := req.Header.Get("Authorization"); got != "" {
		t.Errorf("anonymous Authorization: got %q, want none", got)
	}

	cred := exampleCreds
	cred.SessionToken = "token/with+chars="
	req, err = newExampleClient(t, cred).buildHTTP(context.Background(), r, cred)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.Header.Get("X-Amz-Security-Token"); got != cred.SessionToken {
		t.Errorf("X-Amz-Security-Token: got %q, want %q", got, cred.SessionToken)
	}
	if got := req.Header.Get("Authorization"); !strings.Contains(got, "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,") {
		t.Errorf("session token not signed: %v", got)
	}
}

func TestURIEncode(t *testing.T) {
	tests := []struct {
		in        string
		keepSlash bool
		want      string
	}{
		{"", true, ""},
		{"AZaz09-_.~", false, "AZaz09-_.~"},
		{"a b", true, "a%20b"},
		{"dir/sub/file.txt", true, "dir/sub/file.txt"},
		{"dir/sub/file.txt", false, "dir%2Fsub%2Ffile.txt"},
		{"test$file.text", true, "test%24file.text"},
		{"a+b", true, "a%2Bb"},
		{"100%", true, "100%25"},
		{"%2F", true, "%252F"},
		{"what?", true, "what%3F"},
		{"#1", true, "%231"},
		{"a&b=c", false, "a%26b%3Dc"},
		{"~user", true, "~user"},
		{"!*'()", true, "%21%2A%27%28%29"},
		{":@,;[]", true, "%3A%40%2C%3B%5B%5D"},
		{"é", true, "%C3%A9"},
		{"雪/❄", true, "%E9%9B%AA/%E2%9D%84"},
		{"\x00\x7f\xff", true, "%00%7F%FF"},
		{"a/../b//c", true, "a/../b//c"},
	}
	for _, tt := range tests {
		if got := uriEncode(tt.in, tt.keepSlash); got != tt.want {
			t.Errorf("uriEncode(%q, %v): got %v, want %v", tt.in, tt.keepSlash, got, tt.want)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct {
		name string
		in   url.Values
		want string
	}{
		{"nil", nil, ""},
		{"empty", url.Values{}, ""},
		{"no value", url.Values{"lifecycle": {""}}, "lifecycle="},
		{"sorted by key", url.Values{"prefix": {"J"}, "max-keys": {"2"}}, "max-keys=2&prefix=J"},
		{"sorted by value", url.Values{"a": {"z", "b", ""}}, "a=&a=b&a=z"},
		{"slash and space encoded", url.Values{"prefix": {"dir/a b/"}}, "prefix=dir%2Fa%20b%2F"},
		{"reserved encoded", url.Values{"continuation-token": {"1+x/y=="}, "start-after": {"a&b?c#d"}},
			"continuation-token=1%2Bx%2Fy%3D%3D&start-after=a%26b%3Fc%23d"},
		{"percent and unreserved", url.Values{"v": {"100%~!*'()"}}, "v=100%25~%21%2A%27%28%29"},
		{"unicode", url.Values{"prefix": {"été/雪"}}, "prefix=%C3%A9t%C3%A9%2F%E9%9B%AA"},
		// SigV4 sorts the encoded names and values: '%' (0x25) sorts
		// before every unreserved character, whatever the raw byte was.
		{"sorted after encoding: names", url.Values{"a.": {"1"}, "a/": {"2"}}, "a%2F=2&a.=1"},
		{"sorted after encoding: non-ASCII", url.Values{"az": {"1"}, "aé": {"2"}}, "a%C3%A9=2&az=1"},
		{"sorted after encoding: values", url.Values{"k": {"a.", "a/"}}, "k=a%2F&k=a."},
		{"key before longer key", url.Values{"a-b": {"1"}, "a": {"2"}}, "a=2&a-b=1"},
	}
	for _, tt := range tests {
		if got := canonicalQuery(tt.in); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
