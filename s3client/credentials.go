package s3client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// DefaultEtcPasswdFile is the system-wide s3fs passwd file.
const DefaultEtcPasswdFile = "/etc/passwd-s3fs"

// Environment variables ResolveCredentials reads itself.
const (
	envAccessKeyID           = "AWS_ACCESS_KEY_ID"
	envSecretAccessKey       = "AWS_SECRET_ACCESS_KEY"
	envSessionToken          = "AWS_SESSION_TOKEN"
	envProfile               = "AWS_PROFILE"
	envSharedCredentialsFile = "AWS_SHARED_CREDENTIALS_FILE"
)

// maxCredentialFileSize bounds how much of a credentials file is read, so
// that a wrong path (a device, a huge file) fails instead of hanging.
const maxCredentialFileSize = 1 << 20

// CredentialOptions say where credentials may come from. Getenv, HomeDir
// and EtcPasswdFile are injectable for tests (the AWS SDK's own sources,
// such as ECS and instance metadata, read the process's environment).
type CredentialOptions struct {
	// Profile names a profile of the shared config and credentials files
	// (--profile); if empty, AWS_PROFILE; if that is unset too, "default"
	// is tried.
	Profile string
	// PasswdFile is an s3fs passwd file (--passwd-file).
	PasswdFile string
	// Bucket selects the bucket-specific lines of s3fs passwd files.
	Bucket string
	// Anonymous asks for unsigned requests (--anonymous).
	Anonymous bool
	// Region is the region of the SDK's own calls (STS, SSO) when the
	// profile names none (default "us-east-1").
	Region string
	// Log gets the renewals of expiring credentials (component s3client).
	Log *logrus.Entry

	Getenv        func(string) string // default os.Getenv
	HomeDir       string              // default os.UserHomeDir()
	EtcPasswdFile string              // default DefaultEtcPasswdFile
	// OnEC2 says whether instance metadata is worth asking (default: the
	// machine's DMI data says EC2).
	OnEC2 func() bool
}

func (o CredentialOptions) region() string {
	if o.Region == "" {
		return "us-east-1"
	}
	return o.Region
}

// ResolveCredentials returns the provider of the credentials to use and a
// short description of where they came from, for an info log; the
// description never contains a secret. The first source that yields a key
// wins:
//
//  1. o.Anonymous: no credentials;
//  2. o.PasswdFile, an s3fs passwd file;
//  3. profile o.Profile of the shared config and credentials files;
//  4. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN);
//  5. AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN (web identity, as on EKS);
//  6. profile $AWS_PROFILE of the shared files;
//  7. ~/.passwd-s3fs, then o.EtcPasswdFile;
//  8. profile "default" of the shared files, if it has credentials;
//  9. ECS container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or
//     _FULL_URI);
//  10. EC2 instance metadata (IMDSv2), on EC2 or with
//     AWS_EC2_METADATA_SERVICE_ENDPOINT set, unless AWS_EC2_METADATA_DISABLED;
//  11. otherwise anonymous.
//
// A profile may hold static keys, credential_process, role_arn with
// source_profile or credential_source (AssumeRole), web_identity_token_file
// or SSO settings: sources 3, 5, 6, 8, 9 and 10 are the AWS SDK's. The
// shared files are $AWS_CONFIG_FILE or ~/.aws/config and
// $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials. Sources 1 to 6 and 9
// are asked for explicitly, so any problem with them is an error. Sources
// 7 and 8 are only looked for: a file that is missing or that we may not
// open, or that has no key for us, is skipped, but one that is malformed
// or open to group or others is an error. Instance metadata that gives
// nothing leaves the mount anonymous. Credentials that expire come
// wrapped in a RenewingCredentials, which the caller closes. Errors name
// files, profiles and variables, never a secret.
func ResolveCredentials(ctx context.Context, o CredentialOptions) (CredentialsProvider, string, error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.HomeDir == "" {
		if h, err := os.UserHomeDir(); err == nil {
			o.HomeDir = h
		}
	}
	if o.EtcPasswdFile == "" {
		o.EtcPasswdFile = DefaultEtcPasswdFile
	}
	if o.OnEC2 == nil {
		o.OnEC2 = onEC2
	}
	static := func(c Credentials, src string, err error) (CredentialsProvider, string, error) {
		if err != nil {
			return nil, "", err
		}
		return StaticCredentials(c), src, nil
	}

	if o.Anonymous {
		return StaticCredentials{}, "anonymous", nil
	}

	if o.PasswdFile != "" {
		cred, src, _, err := credsFromPasswdFile(expandHome(o.PasswdFile, o.HomeDir), o.Bucket, true)
		return static(cred, src, err)
	}

	files := sharedFilesOf(o)
	if o.Profile != "" {
		return o.fromProfile(ctx, files, o.Profile, "")
	}

	id, secret := o.Getenv(envAccessKeyID), o.Getenv(envSecretAccessKey)
	switch {
	case id != "" && secret != "":
		cred := Credentials{AccessKey: id, SecretKey: secret, SessionToken: o.Getenv(envSessionToken)}
		src := "environment (" + envAccessKeyID + ", " + envSecretAccessKey
		if cred.SessionToken != "" {
			src += ", " + envSessionToken
		}
		return static(cred, src+")", nil)
	case id != "":
		return nil, "", fmt.Errorf("%s is set but %s is not", envAccessKeyID, envSecretAccessKey)
	case secret != "":
		return nil, "", fmt.Errorf("%s is set but %s is not", envSecretAccessKey, envAccessKeyID)
	}

	if p := o.Getenv(envWebIdentityToken); p != "" {
		return o.fromSDK(ctx, files, "", "web identity ("+envWebIdentityToken+" "+p+")")
	}

	if p := o.Getenv(envProfile); p != "" {
		return o.fromProfile(ctx, files, p, " ("+envProfile+")")
	}

	var implicitPasswd []string
	if o.HomeDir != "" {
		implicitPasswd = append(implicitPasswd, filepath.Join(o.HomeDir, ".passwd-s3fs"))
	}
	implicitPasswd = append(implicitPasswd, o.EtcPasswdFile)
	for _, path := range implicitPasswd {
		cred, src, ok, err := credsFromPasswdFile(path, o.Bucket, false)
		if err != nil || ok {
			return static(cred, src, err)
		}
	}

	found, has, err := files.profileStatus(ctx, "default")
	switch {
	case err != nil:
		return nil, "", err
	case found && has:
		return o.fromSDK(ctx, files, "default", fmt.Sprintf("profile %q in %s", "default", files))
	}

	if p := o.Getenv(envContainerRelative); p != "" {
		return o.fromSDK(ctx, files, "", "ECS container credentials ("+envContainerRelative+")")
	}
	if p := o.Getenv(envContainerFull); p != "" {
		return o.fromSDK(ctx, files, "", "container credentials ("+envContainerFull+" "+p+")")
	}

	if !strings.EqualFold(o.Getenv(envIMDSDisabled), "true") {
		if ep := o.Getenv(envIMDSEndpoint); ep != "" {
			return o.fromSDK(ctx, files, "", "EC2 instance metadata ("+envIMDSEndpoint+" "+ep+")")
		}
		if o.OnEC2() {
			p, src, err := o.fromSDK(ctx, files, "", "EC2 instance metadata")
			if err == nil {
				return p, src, nil
			}
			return StaticCredentials{}, fmt.Sprintf("anonymous (no credentials found; instance metadata: %v)", err), nil
		}
	}
	return StaticCredentials{}, "anonymous (no credentials found)", nil
}

// fromProfile is the SDK's credentials of the profile name, which must
// exist and have credentials. how is appended to it in messages.
func (o CredentialOptions) fromProfile(ctx context.Context, files sharedFiles, name, how string) (CredentialsProvider, string, error) {
	found, has, err := files.profileStatus(ctx, name)
	switch {
	case err != nil:
		return nil, "", err
	case !found:
		return nil, "", fmt.Errorf(sdkProfileNotExistFmt, name, how, files)
	case !has:
		return nil, "", fmt.Errorf("profile %q%s in %s has no credentials (no aws_access_key_id and aws_secret_access_key, "+
			"credential_process, role_arn, web_identity_token_file or sso settings)", name, how, files)
	}
	return o.fromSDK(ctx, files, name, fmt.Sprintf("profile %q%s in %s", name, how, files))
}

// fromSDK loads the SDK's chain (for profile, or its default chain) and
// retrieves credentials once: failing that is an error, since the source
// was asked for. Expiring credentials come in a RenewingCredentials.
func (o CredentialOptions) fromSDK(ctx context.Context, files sharedFiles, profile, what string) (CredentialsProvider, string, error) {
	p, err := loadSDK(ctx, o, files, profile)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	v, err := p.p.Retrieve(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, redactSDKError(err))
	}
	first := Credentials{AccessKey: v.AccessKeyID, SecretKey: v.SecretAccessKey, SessionToken: v.SessionToken}
	src := what
	if v.Source != "" {
		src += ", through " + v.Source
	}
	if !v.CanExpire {
		return StaticCredentials(first), src, nil
	}
	first.Expires = v.Expires
	src += fmt.Sprintf(", temporary: expire at %s, renewed in the background", v.Expires.UTC().Format(time.RFC3339))
	return newRenewingFrom(first, p, o.Log, time.Now), src, nil
}

// expandHome replaces a leading "~/" in path by home, as a shell would.
func expandHome(path, home string) string {
	if home != "" && strings.HasPrefix(path, "~/") {
		return filepath.Join(home, path[2:])
	}
	return path
}

// sharedCredentialsPath returns $AWS_SHARED_CREDENTIALS_FILE, else
// ~/.aws/credentials, else "" when the home directory is unknown.
func sharedCredentialsPath(getenv func(string) string, home string) string {
	if p := getenv(envSharedCredentialsFile); p != "" {
		return expandHome(p, home)
	}
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".aws", "credentials")
}

// readCredentialFile reads at most maxCredentialFileSize bytes of path and
// returns them with the file's permission bits.
func readCredentialFile(path string) ([]byte, os.FileMode, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCredentialFileSize+1))
	if err != nil {
		return nil, 0, err
	}
	if len(data) > maxCredentialFileSize {
		return nil, 0, fmt.Errorf("%s is larger than %d bytes", path, maxCredentialFileSize)
	}
	return data, fi.Mode().Perm(), nil
}

// skipCredentialFile reports whether err from reading an implicit
// credentials file means "not there for us" rather than a problem to report.
func skipCredentialFile(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission)
}

// credsFromPasswdFile reads the s3fs passwd file at path and picks the
// credentials for bucket. ok is false when the file has nothing for us and
// explicit is false; with explicit, that is an error.
func credsFromPasswdFile(path, bucket string, explicit bool) (cred Credentials, source string, ok bool, err error) {
	data, mode, err := readCredentialFile(path)
	if err != nil {
		if !explicit && skipCredentialFile(err) {
			return Credentials{}, "", false, nil
		}
		return Credentials{}, "", false, fmt.Errorf("cannot read passwd file: %w", err)
	}
	if err := checkPasswdMode(path, mode); err != nil {
		return Credentials{}, "", false, err
	}
	entries, err := parsePasswd(data)
	if err != nil {
		return Credentials{}, "", false, fmt.Errorf("passwd file %s: %w", path, err)
	}
	cred, detail, ok := entries.pick(bucket)
	if !ok {
		if !explicit {
			return Credentials{}, "", false, nil
		}
		if bucket != "" {
			return Credentials{}, "", false, fmt.Errorf("passwd file %s has no line for bucket %q and no ACCESSKEY:SECRET line", path, bucket)
		}
		return Credentials{}, "", false, fmt.Errorf("passwd file %s has no ACCESSKEY:SECRET line", path)
	}
	return cred, "passwd file " + path + detail, true, nil
}

// checkPasswdMode refuses a passwd file that group or others have any
// permission on, as s3fs does for files other than /etc/passwd-s3fs.
func checkPasswdMode(path string, mode os.FileMode) error {
	if mode&0o077 != 0 {
		return fmt.Errorf("passwd file %s is accessible by group or others (mode %04o): chmod 600 it", path, mode)
	}
	return nil
}

// Keys of the s3fs passwd file's "key=value" lines.
const (
	passwdKeyAccessKey = "AWSAccessKeyId"
	passwdKeySecretKey = "AWSSecretKey"
)

// passwdEntries are the credentials an s3fs passwd file holds.
type passwdEntries struct {
	keyed   Credentials            // from AWSAccessKeyId= and AWSSecretKey= lines
	generic Credentials            // from an ACCESSKEY:SECRET line
	buckets map[string]Credentials // from BUCKET:ACCESSKEY:SECRET lines
}

// pick returns the credentials for bucket: the key=value pair if any (s3fs
// gives it precedence), else the bucket's own line, else the generic line.
// detail says which bucket line was used.
func (e passwdEntries) pick(bucket string) (cred Credentials, detail string, ok bool) {
	if e.keyed.AccessKey != "" {
		return e.keyed, "", true
	}
	if c, found := e.buckets[bucket]; found && bucket != "" {
		return c, fmt.Sprintf(" (line for bucket %q)", bucket), true
	}
	if e.generic.AccessKey != "" {
		return e.generic, "", true
	}
	return Credentials{}, "", false
}

// parsePasswd parses an s3fs passwd file: lines ACCESSKEY:SECRET or
// BUCKET:ACCESSKEY:SECRET, or the pair AWSAccessKeyId=KEY and
// AWSSecretKey=SECRET; surrounding whitespace is trimmed, and blank lines
// and lines starting with '#' are ignored. Errors give the line number,
// never the line.
func parsePasswd(data []byte) (passwdEntries, error) {
	const want = "want ACCESSKEY:SECRET or BUCKET:ACCESSKEY:SECRET"
	e := passwdEntries{buckets: map[string]Credentials{}}
	haveGeneric := false
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if strings.ContainsAny(line, " \t") {
			return passwdEntries{}, fmt.Errorf("line %d: malformed, contains whitespace (%s)", n, want)
		}
		if k, v, found := strings.Cut(line, "="); found && !strings.Contains(k, ":") {
			var dst *string
			switch k {
			case passwdKeyAccessKey:
				dst = &e.keyed.AccessKey
			case passwdKeySecretKey:
				dst = &e.keyed.SecretKey
			default:
				continue // other s3fs settings
			}
			if *dst != "" {
				return passwdEntries{}, fmt.Errorf("line %d: %s given twice", n, k)
			}
			if v == "" {
				return passwdEntries{}, fmt.Errorf("line %d: %s is empty", n, k)
			}
			*dst = v
			continue
		}
		fields := strings.Split(line, ":")
		for _, f := range fields {
			if f == "" {
				return passwdEntries{}, fmt.Errorf("line %d: malformed, empty field (%s)", n, want)
			}
		}
		switch len(fields) {
		case 2:
			if haveGeneric {
				return passwdEntries{}, fmt.Errorf("line %d: a second ACCESSKEY:SECRET line", n)
			}
			haveGeneric = true
			e.generic = Credentials{AccessKey: fields[0], SecretKey: fields[1]}
		case 3:
			if _, dup := e.buckets[fields[0]]; dup {
				return passwdEntries{}, fmt.Errorf("line %d: a second line for bucket %q", n, fields[0])
			}
			e.buckets[fields[0]] = Credentials{AccessKey: fields[1], SecretKey: fields[2]}
		default:
			return passwdEntries{}, fmt.Errorf("line %d: malformed, %d colons (%s)", n, len(fields)-1, want)
		}
	}
	switch {
	case e.keyed.AccessKey != "" && e.keyed.SecretKey == "":
		return passwdEntries{}, fmt.Errorf("%s without %s", passwdKeyAccessKey, passwdKeySecretKey)
	case e.keyed.SecretKey != "" && e.keyed.AccessKey == "":
		return passwdEntries{}, fmt.Errorf("%s without %s", passwdKeySecretKey, passwdKeyAccessKey)
	}
	return e, nil
}

// Keys of a shared credentials file profile, as errors name them.
const (
	iniAccessKeyID     = "aws_access_key_id"
	iniSecretAccessKey = "aws_secret_access_key"
)
