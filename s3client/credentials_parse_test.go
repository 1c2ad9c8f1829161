package s3client

import (
	"reflect"
	"strings"
	"testing"
)

func TestPasswdParse(t *testing.T) {
	gen := Credentials{AccessKey: "AKGEN", SecretKey: "s3cr3tGEN"}
	photos := Credentials{AccessKey: "AKPHOTOS", SecretKey: "s3cr3tPHOTOS"}
	keyed := Credentials{AccessKey: "AKKV", SecretKey: "s3cr3tKV"}
	tests := []struct {
		name    string
		data    string
		want    passwdEntries
		wantErr string
	}{
		{name: "empty", data: "", want: passwdEntries{}},
		{name: "generic", data: "AKGEN:s3cr3tGEN", want: passwdEntries{generic: gen}},
		{name: "bucket", data: "photos:AKPHOTOS:s3cr3tPHOTOS\n", want: passwdEntries{buckets: map[string]Credentials{"photos": photos}}},
		{
			name: "comments, blank lines, whitespace around, CRLF",
			data: "# a comment\r\n\r\n   \t\n\tAKGEN:s3cr3tGEN  \r\n  # indented comment\nphotos:AKPHOTOS:s3cr3tPHOTOS\r\n",
			want: passwdEntries{generic: gen, buckets: map[string]Credentials{"photos": photos}},
		},
		{
			name: "secret with = and / and +",
			data: "AKGEN:s3cr3t/a+b==\n",
			want: passwdEntries{generic: Credentials{AccessKey: "AKGEN", SecretKey: "s3cr3t/a+b=="}},
		},
		{
			name: "key=value format",
			data: "AWSAccessKeyId=AKKV\nAWSSecretKey=s3cr3tKV\nsomething_else=1\n",
			want: passwdEntries{keyed: keyed},
		},
		{name: "whitespace inside", data: "AKGEN: s3cr3tGEN", wantErr: "line 1: malformed, contains whitespace"},
		{name: "no colon", data: "# c\ns3cr3tPASTED", wantErr: "line 2: malformed, 0 colons"},
		{name: "too many fields", data: "a:b:c:s3cr3tX", wantErr: "line 1: malformed, 3 colons"},
		{name: "empty secret", data: "AKGEN:", wantErr: "line 1: malformed, empty field"},
		{name: "empty access key", data: ":s3cr3tX", wantErr: "line 1: malformed, empty field"},
		{name: "empty bucket", data: ":AK:s3cr3tX", wantErr: "line 1: malformed, empty field"},
		{name: "section header", data: "[default]\nAKGEN:s3cr3tGEN", wantErr: "line 1: malformed"},
		{name: "two generic lines", data: "AKGEN:s3cr3tGEN\nAKTWO:s3cr3tTWO", wantErr: "line 2: a second ACCESSKEY:SECRET line"},
		{name: "two lines for one bucket", data: "photos:A:s3cr3tA\nphotos:B:s3cr3tB", wantErr: `line 2: a second line for bucket "photos"`},
		{name: "AWSAccessKeyId alone", data: "AWSAccessKeyId=AKKV", wantErr: "AWSAccessKeyId without AWSSecretKey"},
		{name: "AWSSecretKey alone", data: "AWSSecretKey=s3cr3tKV", wantErr: "AWSSecretKey without AWSAccessKeyId"},
		{name: "AWSSecretKey empty", data: "AWSAccessKeyId=AKKV\nAWSSecretKey=", wantErr: "line 2: AWSSecretKey is empty"},
		{name: "AWSSecretKey twice", data: "AWSSecretKey=s3cr3tA\nAWSSecretKey=s3cr3tB", wantErr: "line 2: AWSSecretKey given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePasswd([]byte(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				checkNoCredSecret(t, "error", err.Error())
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if tt.want.buckets == nil {
				tt.want.buckets = map[string]Credentials{}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPasswdPick(t *testing.T) {
	gen := Credentials{AccessKey: "AKGEN", SecretKey: "s3cr3tGEN"}
	photos := Credentials{AccessKey: "AKPHOTOS", SecretKey: "s3cr3tPHOTOS"}
	keyed := Credentials{AccessKey: "AKKV", SecretKey: "s3cr3tKV"}
	both := passwdEntries{generic: gen, buckets: map[string]Credentials{"photos": photos}}
	onlyBucket := passwdEntries{buckets: map[string]Credentials{"photos": photos}}
	tests := []struct {
		name       string
		entries    passwdEntries
		bucket     string
		want       Credentials
		wantDetail string
		wantOK     bool
	}{
		{"bucket line wins", both, "photos", photos, ` (line for bucket "photos")`, true},
		{"generic for another bucket", both, "logs", gen, "", true},
		{"generic with no bucket", both, "", gen, "", true},
		{"only another bucket's line", onlyBucket, "logs", Credentials{}, "", false},
		{"only a bucket line and no bucket", onlyBucket, "", Credentials{}, "", false},
		{"key=value pair wins, as in s3fs", passwdEntries{keyed: keyed, generic: gen, buckets: both.buckets}, "photos", keyed, "", true},
		{"nothing", passwdEntries{}, "photos", Credentials{}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, detail, ok := tt.entries.pick(tt.bucket)
			if got != tt.want || detail != tt.wantDetail || ok != tt.wantOK {
				t.Errorf("got %+v, %q, %v, want %+v, %q, %v", got, detail, ok, tt.want, tt.wantDetail, tt.wantOK)
			}
		})
	}
}
