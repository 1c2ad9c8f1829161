package s3client

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every secret and session token in these tests contains credSecretMark,
// so one strings.Contains finds a secret leaked into an error or a source.
const credSecretMark = "s3cr3t"

// credFile is a file a test case creates. path may start with "~/" (the
// test's home) or "$ROOT/" (the test's temporary root), or be "$ETC" (the
// test's stand-in for /etc/passwd-s3fs).
type credFile struct {
	path string
	mode os.FileMode
	data string
}

// credWorld is a temporary home and root that credFiles are created in.
type credWorld struct {
	root, home, etc string
	expand          *strings.Replacer
}

func newCredWorld(t *testing.T, files ...credFile) credWorld {
	t.Helper()
	root := t.TempDir()
	w := credWorld{root: root, home: filepath.Join(root, "home"), etc: filepath.Join(root, "etc", "passwd-s3fs")}
	w.expand = strings.NewReplacer("~/", w.home+"/", "$ROOT", w.root, "$ETC", w.etc)
	for _, dir := range []string{w.home, filepath.Dir(w.etc)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		path := w.expand.Replace(f.path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(f.data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, f.mode); err != nil { // WriteFile's mode is subject to umask
			t.Fatal(err)
		}
	}
	return w
}

// options returns o with its paths expanded and Getenv, HomeDir and
// EtcPasswdFile pointing into w.
func (w credWorld) options(o CredentialOptions, env map[string]string) CredentialOptions {
	o.PasswdFile = w.expand.Replace(o.PasswdFile)
	o.Getenv = func(k string) string { return w.expand.Replace(env[k]) }
	o.HomeDir = w.home
	o.EtcPasswdFile = w.etc
	o.OnEC2 = func() bool { return false }
	return o
}

// resolve is ResolveCredentials and a first Retrieve of what it gives.
func resolve(o CredentialOptions) (Credentials, string, error) {
	p, source, err := ResolveCredentials(context.Background(), o)
	if err != nil {
		return Credentials{}, "", err
	}
	c, err := p.Retrieve(context.Background())
	return c, source, err
}

// checkNoCredSecret fails if s contains a secret.
func checkNoCredSecret(t *testing.T, what, s string) {
	t.Helper()
	if strings.Contains(s, credSecretMark) {
		t.Errorf("%s %q contains a secret", what, s)
	}
}

const (
	credHomePasswd     = "AKHOME:s3cr3tHOME\n"
	credEtcPasswd      = "AKETC:s3cr3tETC\n"
	credExplicitPasswd = "# for bucketfs\n\nAKGEN:s3cr3tGEN\nphotos:AKPHOTOS:s3cr3tPHOTOS\n  logs:AKLOGS:s3cr3tLOGS  \n"
	credSharedINI      = `# shared credentials
; written by hand
[default]
aws_access_key_id = AKDEF
aws_secret_access_key=s3cr3tDEF

[work]
  aws_access_key_id   =   AKWORK
aws_secret_access_key	=	s3cr3tWORK
aws_session_token = s3cr3tTOKWORK

# a profile with no static keys
[sso]
sso_start_url = https://example.com/start

[half]
aws_access_key_id = AKHALF
`
)

var (
	fileHomePasswd     = credFile{"~/.passwd-s3fs", 0o600, credHomePasswd}
	fileEtcPasswd      = credFile{"$ETC", 0o600, credEtcPasswd}
	fileExplicitPasswd = credFile{"$ROOT/passwd", 0o600, credExplicitPasswd}
	fileSharedINI      = credFile{"~/.aws/credentials", 0o600, credSharedINI}
	credAllFiles       = []credFile{fileHomePasswd, fileEtcPasswd, fileExplicitPasswd, fileSharedINI}

	credEnvKeysAndToken = map[string]string{"AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "s3cr3tENV", "AWS_SESSION_TOKEN": "s3cr3tTOKENV"}
	credEnvEverything   = map[string]string{"AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "s3cr3tENV", "AWS_PROFILE": "work"}
	credEnvProfileWork  = map[string]string{"AWS_PROFILE": "work"}
)

func TestResolveCredentials(t *testing.T) {
	tests := []struct {
		name       string
		opts       CredentialOptions
		env        map[string]string
		files      []credFile
		want       Credentials
		wantSource string // with ~/, $ROOT and $ETC expanded
		wantErr    string // a substring, expanded likewise; "" for success
	}{
		// Precedence: each source beats all those below it.
		{
			name:       "anonymous beats everything",
			opts:       CredentialOptions{Anonymous: true, PasswdFile: "$ROOT/passwd", Profile: "work"},
			env:        credEnvEverything,
			files:      credAllFiles,
			wantSource: "anonymous",
		},
		{
			name:       "passwd file option beats profile option and environment",
			opts:       CredentialOptions{PasswdFile: "$ROOT/passwd", Profile: "work"},
			env:        credEnvEverything,
			files:      credAllFiles,
			want:       Credentials{AccessKey: "AKGEN", SecretKey: "s3cr3tGEN"},
			wantSource: "passwd file $ROOT/passwd",
		},
		{
			name:       "profile option beats environment keys and AWS_PROFILE",
			opts:       CredentialOptions{Profile: "default"},
			env:        credEnvEverything,
			files:      credAllFiles,
			want:       Credentials{AccessKey: "AKDEF", SecretKey: "s3cr3tDEF"},
			wantSource: `profile "default" in ~/.aws/config or ~/.aws/credentials, through SharedConfigCredentials: ~/.aws/credentials`,
		},
		{
			name:       "environment keys beat AWS_PROFILE and files",
			env:        credEnvEverything,
			files:      credAllFiles,
			want:       Credentials{AccessKey: "AKENV", SecretKey: "s3cr3tENV"},
			wantSource: "environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)",
		},
		{
			name:       "environment keys with session token",
			env:        credEnvKeysAndToken,
			want:       Credentials{AccessKey: "AKENV", SecretKey: "s3cr3tENV", SessionToken: "s3cr3tTOKENV"},
			wantSource: "environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)",
		},
		{
			name:       "AWS_PROFILE beats passwd files and default profile, with session token",
			env:        credEnvProfileWork,
			files:      credAllFiles,
			want:       Credentials{AccessKey: "AKWORK", SecretKey: "s3cr3tWORK", SessionToken: "s3cr3tTOKWORK"},
			wantSource: `profile "work" (AWS_PROFILE) in ~/.aws/config or ~/.aws/credentials, through SharedConfigCredentials: ~/.aws/credentials`,
		},
		{
			name:       "home passwd file beats etc passwd file and default profile",
			files:      credAllFiles,
			want:       Credentials{AccessKey: "AKHOME", SecretKey: "s3cr3tHOME"},
			wantSource: "passwd file ~/.passwd-s3fs",
		},
		{
			name:       "etc passwd file beats default profile",
			files:      []credFile{fileEtcPasswd, fileSharedINI},
			want:       Credentials{AccessKey: "AKETC", SecretKey: "s3cr3tETC"},
			wantSource: "passwd file $ETC",
		},
		{
			name:       "default profile",
			files:      []credFile{fileSharedINI},
			want:       Credentials{AccessKey: "AKDEF", SecretKey: "s3cr3tDEF"},
			wantSource: `profile "default" in ~/.aws/config or ~/.aws/credentials, through SharedConfigCredentials: ~/.aws/credentials`,
		},
		{
			name:       "nothing found is anonymous",
			wantSource: "anonymous (no credentials found)",
		},
		{
			name:       "AWS_SESSION_TOKEN alone is ignored",
			env:        map[string]string{"AWS_SESSION_TOKEN": "s3cr3tTOKENV"},
			wantSource: "anonymous (no credentials found)",
		},

		// Only one of a pair.
		{
			name:    "AWS_ACCESS_KEY_ID without AWS_SECRET_ACCESS_KEY",
			env:     map[string]string{"AWS_ACCESS_KEY_ID": "AKENV"},
			files:   credAllFiles,
			wantErr: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
		},
		{
			name:    "AWS_SECRET_ACCESS_KEY without AWS_ACCESS_KEY_ID",
			env:     map[string]string{"AWS_SECRET_ACCESS_KEY": "s3cr3tENV"},
			files:   credAllFiles,
			wantErr: "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not",
		},

		// Passwd file option.
		{
			name:       "passwd file bucket line beats generic line",
			opts:       CredentialOptions{PasswdFile: "$ROOT/passwd", Bucket: "photos"},
			files:      credAllFiles,
			want:       Credentials{AccessKey: "AKPHOTOS", SecretKey: "s3cr3tPHOTOS"},
			wantSource: `passwd file $ROOT/passwd (line for bucket "photos")`,
		},
		{
			name:       "passwd file bucket line with surrounding whitespace",
			opts:       CredentialOptions{PasswdFile: "$ROOT/passwd", Bucket: "logs"},
			files:      credAllFiles,
			want:       Credentials{AccessKey: "AKLOGS", SecretKey: "s3cr3tLOGS"},
			wantSource: `passwd file $ROOT/passwd (line for bucket "logs")`,
		},
		{
			name:       "passwd file generic line for another bucket",
			opts:       CredentialOptions{PasswdFile: "$ROOT/passwd", Bucket: "other"},
			files:      credAllFiles,
			want:       Credentials{AccessKey: "AKGEN", SecretKey: "s3cr3tGEN"},
			wantSource: "passwd file $ROOT/passwd",
		},
		{
			name:    "passwd file with no line for the bucket",
			opts:    CredentialOptions{PasswdFile: "$ROOT/p", Bucket: "other"},
			files:   []credFile{{"$ROOT/p", 0o600, "photos:AKPHOTOS:s3cr3tPHOTOS\n"}},
			wantErr: `passwd file $ROOT/p has no line for bucket "other" and no ACCESSKEY:SECRET line`,
		},
		{
			name:    "passwd file with only comments",
			opts:    CredentialOptions{PasswdFile: "$ROOT/p"},
			files:   []credFile{{"$ROOT/p", 0o600, "# AKOLD:s3cr3tOLD\n\n"}},
			wantErr: "passwd file $ROOT/p has no ACCESSKEY:SECRET line",
		},
		{
			name:       "passwd file with ~ expanded",
			opts:       CredentialOptions{PasswdFile: "~/my-passwd"},
			files:      []credFile{{"~/my-passwd", 0o400, "AKMY:s3cr3tMY"}},
			want:       Credentials{AccessKey: "AKMY", SecretKey: "s3cr3tMY"},
			wantSource: "passwd file ~/my-passwd",
		},
		{
			name:    "passwd file missing",
			opts:    CredentialOptions{PasswdFile: "$ROOT/nope"},
			files:   credAllFiles,
			wantErr: "cannot read passwd file: open $ROOT/nope: no such file or directory",
		},
		{
			name:    "passwd file unreadable",
			opts:    CredentialOptions{PasswdFile: "$ROOT/dir"},
			files:   []credFile{{"$ROOT/dir/x", 0o600, ""}}, // $ROOT/dir is a directory
			wantErr: "cannot read passwd file",
		},
		{
			name:    "passwd file open to others",
			opts:    CredentialOptions{PasswdFile: "$ROOT/p"},
			files:   []credFile{{"$ROOT/p", 0o644, "AKGEN:s3cr3tGEN\n"}},
			wantErr: "passwd file $ROOT/p is accessible by group or others (mode 0644): chmod 600 it",
		},
		{
			name:    "passwd file malformed line",
			opts:    CredentialOptions{PasswdFile: "$ROOT/p"},
			files:   []credFile{{"$ROOT/p", 0o600, "AKGEN:s3cr3tGEN\ns3cr3tPASTED\n"}},
			wantErr: "passwd file $ROOT/p: line 2: malformed",
		},

		// Implicit passwd files.
		{
			name:    "home passwd file open to group is refused, not skipped",
			files:   []credFile{{"~/.passwd-s3fs", 0o640, credHomePasswd}, fileSharedINI},
			wantErr: "passwd file ~/.passwd-s3fs is accessible by group or others (mode 0640)",
		},
		{
			name:    "etc passwd file open to others is refused, not skipped",
			files:   []credFile{{"$ETC", 0o644, credEtcPasswd}, fileSharedINI},
			wantErr: "passwd file $ETC is accessible by group or others (mode 0644)",
		},
		{
			name:    "home passwd file malformed",
			files:   []credFile{{"~/.passwd-s3fs", 0o600, "a:b:c:d\n"}, fileSharedINI},
			wantErr: "passwd file ~/.passwd-s3fs: line 1: malformed, 3 colons",
		},
		{
			name:       "home passwd file without a line for the bucket is skipped",
			opts:       CredentialOptions{Bucket: "other"},
			files:      []credFile{{"~/.passwd-s3fs", 0o600, "photos:AKPHOTOS:s3cr3tPHOTOS\n"}, fileEtcPasswd},
			want:       Credentials{AccessKey: "AKETC", SecretKey: "s3cr3tETC"},
			wantSource: "passwd file $ETC",
		},
		{
			name:       "home passwd file bucket line",
			opts:       CredentialOptions{Bucket: "photos"},
			files:      []credFile{{"~/.passwd-s3fs", 0o600, "AKHOME:s3cr3tHOME\nphotos:AKPHOTOS:s3cr3tPHOTOS\n"}},
			want:       Credentials{AccessKey: "AKPHOTOS", SecretKey: "s3cr3tPHOTOS"},
			wantSource: `passwd file ~/.passwd-s3fs (line for bucket "photos")`,
		},

		// Profiles.
		{
			name:       "profile option with session token",
			opts:       CredentialOptions{Profile: "work"},
			files:      credAllFiles,
			want:       Credentials{AccessKey: "AKWORK", SecretKey: "s3cr3tWORK", SessionToken: "s3cr3tTOKWORK"},
			wantSource: `profile "work" in ~/.aws/config or ~/.aws/credentials, through SharedConfigCredentials: ~/.aws/credentials`,
		},
		{
			name:    "profile option not in file",
			opts:    CredentialOptions{Profile: "prod"},
			files:   credAllFiles,
			wantErr: `profile "prod" not found in ~/.aws/config or ~/.aws/credentials`,
		},
		{
			name:    "AWS_PROFILE not in file",
			env:     map[string]string{"AWS_PROFILE": "prod"},
			files:   credAllFiles,
			wantErr: `profile "prod" (AWS_PROFILE) not found in ~/.aws/config or ~/.aws/credentials`,
		},
		{
			name:    "profile option without a credentials file",
			opts:    CredentialOptions{Profile: "work"},
			wantErr: `profile "work" not found in ~/.aws/config or ~/.aws/credentials`,
		},
		{
			name:    "AWS_PROFILE without a credentials file",
			env:     credEnvProfileWork,
			files:   []credFile{fileHomePasswd},
			wantErr: `profile "work" (AWS_PROFILE) not found in ~/.aws/config or ~/.aws/credentials`,
		},
		{
			name:    "profile with access key only",
			opts:    CredentialOptions{Profile: "half"},
			files:   credAllFiles,
			wantErr: `profile "half" in ~/.aws/config or ~/.aws/credentials: error fetching config from profile, half, Error using profile: 2, partial credentials found for profile half`,
		},
		{
			name:    "profile with no static keys",
			opts:    CredentialOptions{Profile: "sso"},
			files:   credAllFiles,
			wantErr: `profile "sso" in ~/.aws/config or ~/.aws/credentials: profile "sso" is configured to use SSO but is missing required configuration: sso_region, sso_account_id, sso_role_name`,
		},
		{
			name:    "profile with no credentials",
			opts:    CredentialOptions{Profile: "regiononly"},
			files:   []credFile{{"~/.aws/config", 0o600, "[profile regiononly]\nregion = eu-west-1\n"}},
			wantErr: `profile "regiononly" in ` + "~/.aws/config or ~/.aws/credentials" + ` has no credentials`,
		},
		{
			name:       "profile in the config file",
			opts:       CredentialOptions{Profile: "cfg"},
			files:      []credFile{{"~/.aws/config", 0o600, "[profile cfg]\naws_access_key_id = AKCFG\naws_secret_access_key = s3cr3tCFG\n"}},
			want:       Credentials{AccessKey: "AKCFG", SecretKey: "s3cr3tCFG"},
			wantSource: `profile "cfg" in ~/.aws/config or ~/.aws/credentials, through SharedConfigCredentials: ~/.aws/config`,
		},
		{
			name:       "default profile with no static keys is skipped",
			files:      []credFile{{"~/.aws/credentials", 0o600, "[default]\nregion = eu-west-1\n"}},
			wantSource: "anonymous (no credentials found)",
		},
		{
			name:    "default profile with secret key only",
			files:   []credFile{{"~/.aws/credentials", 0o600, "[default]\naws_secret_access_key = s3cr3tDEF\n"}},
			wantErr: `profile "default" in ~/.aws/config or ~/.aws/credentials: error fetching config from profile, default, Error using profile: 2, partial credentials found for profile default`,
		},
		{
			name:       "no default profile in file",
			files:      []credFile{{"~/.aws/credentials", 0o600, "[work]\naws_access_key_id = AKWORK\naws_secret_access_key = s3cr3tWORK\n"}},
			wantSource: "anonymous (no credentials found)",
		},
		{
			name:       "AWS_SHARED_CREDENTIALS_FILE",
			env:        map[string]string{"AWS_SHARED_CREDENTIALS_FILE": "$ROOT/creds"},
			files:      []credFile{fileSharedINI, {"$ROOT/creds", 0o600, "[default]\naws_access_key_id=AKALT\naws_secret_access_key=s3cr3tALT\n"}},
			want:       Credentials{AccessKey: "AKALT", SecretKey: "s3cr3tALT"},
			wantSource: `profile "default" in ~/.aws/config or $ROOT/creds, through SharedConfigCredentials: $ROOT/creds`,
		},
		{
			name:       "AWS_SHARED_CREDENTIALS_FILE missing is not an error for the default profile",
			env:        map[string]string{"AWS_SHARED_CREDENTIALS_FILE": "$ROOT/nope"},
			files:      []credFile{fileSharedINI},
			wantSource: "anonymous (no credentials found)",
		},
		{
			name:    "malformed credentials file",
			files:   []credFile{{"~/.aws/credentials", 0o600, "[default]\naws_access_key_id = AKDEF\ns3cr3tPASTED\n"}},
			wantErr: `profile "default" in ~/.aws/config or ~/.aws/credentials: error fetching config from profile, default, Error using profile: 2, partial credentials found`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newCredWorld(t, tt.files...)
			got, source, err := resolve(w.options(tt.opts, tt.env))
			if err != nil {
				checkNoCredSecret(t, "error", err.Error())
			}
			checkNoCredSecret(t, "source", source)
			if tt.wantErr != "" {
				want := w.expand.Replace(tt.wantErr)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("got error %v, want one containing %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if want := w.expand.Replace(tt.wantSource); source != want {
				t.Errorf("got source %q, want %q", source, want)
			}
		})
	}
}

// TestResolveCredentialsDefaults checks that a zero Getenv and HomeDir mean
// the process's environment and $HOME.
func TestResolveCredentialsDefaults(t *testing.T) {
	w := newCredWorld(t, fileHomePasswd)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", w.home)

	got, source, err := resolve(CredentialOptions{EtcPasswdFile: w.etc, OnEC2: func() bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Credentials{AccessKey: "AKHOME", SecretKey: "s3cr3tHOME"}); got != want || source != "passwd file "+w.home+"/.passwd-s3fs" {
		t.Errorf("got %+v from %q, want %+v from ~/.passwd-s3fs", got, source, want)
	}

	t.Setenv("AWS_ACCESS_KEY_ID", "AKENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s3cr3tENV")
	got, _, err = resolve(CredentialOptions{EtcPasswdFile: w.etc, OnEC2: func() bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Credentials{AccessKey: "AKENV", SecretKey: "s3cr3tENV"}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestPasswdFileModes checks s3fs's rule: no permission bits for group or
// others.
func TestPasswdFileModes(t *testing.T) {
	tests := []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o700, true},
		{0o640, false},
		{0o644, false},
		{0o604, false},
		{0o660, false},
		{0o620, false},
		{0o610, false},
		{0o601, false},
		{0o666, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%04o", tt.mode), func(t *testing.T) {
			w := newCredWorld(t, credFile{"$ROOT/p", tt.mode, "AKGEN:s3cr3tGEN\n"})
			got, _, err := resolve(w.options(CredentialOptions{PasswdFile: "$ROOT/p"}, nil))
			if tt.ok {
				if err != nil || got.AccessKey != "AKGEN" {
					t.Errorf("got %+v, %v, want AKGEN accepted", got, err)
				}
				return
			}
			want := fmt.Sprintf("passwd file %s/p is accessible by group or others (mode %04o): chmod 600 it", w.root, tt.mode)
			if err == nil || err.Error() != want {
				t.Errorf("got error %v, want %q", err, want)
			}
			if got != (Credentials{}) {
				t.Errorf("got %+v with the error, want empty credentials", got)
			}
		})
	}
}
