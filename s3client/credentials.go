package s3client

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultEtcPasswdFile is the system-wide s3fs passwd file.
const DefaultEtcPasswdFile = "/etc/passwd-s3fs"

// Environment variables ResolveCredentials reads.
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
// and EtcPasswdFile are injectable for tests.
type CredentialOptions struct {
	// Profile names a profile of the shared credentials file (--profile);
	// if empty, AWS_PROFILE; if that is unset too, "default" is tried.
	Profile string
	// PasswdFile is an s3fs passwd file (--passwd-file).
	PasswdFile string
	// Bucket selects the bucket-specific lines of s3fs passwd files.
	Bucket string
	// Anonymous asks for unsigned requests (--anonymous).
	Anonymous bool

	Getenv        func(string) string // default os.Getenv
	HomeDir       string              // default os.UserHomeDir()
	EtcPasswdFile string              // default DefaultEtcPasswdFile
}

// ResolveCredentials returns the credentials to use and a short description
// of where they came from, for an info log; the description never contains
// a secret. The first source that yields a key wins:
//
//  1. o.Anonymous: no credentials;
//  2. o.PasswdFile, an s3fs passwd file;
//  3. profile o.Profile of the shared credentials file;
//  4. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN);
//  5. profile $AWS_PROFILE of the shared credentials file;
//  6. ~/.passwd-s3fs, then o.EtcPasswdFile;
//  7. profile "default" of the shared credentials file;
//  8. otherwise anonymous.
//
// The shared credentials file is $AWS_SHARED_CREDENTIALS_FILE or
// ~/.aws/credentials. Sources 1 to 5 are asked for explicitly, so any
// problem with them is an error. Sources 6 and 7 are only looked for: a
// file that is missing or that we may not open, or that has no key for us,
// is skipped, but one that is malformed or open to group or others is an
// error. Errors name files, profiles and variables, never a secret.
func ResolveCredentials(o CredentialOptions) (Credentials, string, error) {
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

	if o.Anonymous {
		return Credentials{}, "anonymous", nil
	}

	if o.PasswdFile != "" {
		cred, src, _, err := credsFromPasswdFile(expandHome(o.PasswdFile, o.HomeDir), o.Bucket, true)
		return cred, src, err
	}

	shared := sharedCredentialsPath(o.Getenv, o.HomeDir)
	if o.Profile != "" {
		cred, src, _, err := credsFromProfile(shared, o.Profile, "", true)
		return cred, src, err
	}

	id, secret := o.Getenv(envAccessKeyID), o.Getenv(envSecretAccessKey)
	switch {
	case id != "" && secret != "":
		cred := Credentials{AccessKey: id, SecretKey: secret, SessionToken: o.Getenv(envSessionToken)}
		src := "environment (" + envAccessKeyID + ", " + envSecretAccessKey
		if cred.SessionToken != "" {
			src += ", " + envSessionToken
		}
		return cred, src + ")", nil
	case id != "":
		return Credentials{}, "", fmt.Errorf("%s is set but %s is not", envAccessKeyID, envSecretAccessKey)
	case secret != "":
		return Credentials{}, "", fmt.Errorf("%s is set but %s is not", envSecretAccessKey, envAccessKeyID)
	}

	if p := o.Getenv(envProfile); p != "" {
		cred, src, _, err := credsFromProfile(shared, p, " ("+envProfile+")", true)
		return cred, src, err
	}

	var implicitPasswd []string
	if o.HomeDir != "" {
		implicitPasswd = append(implicitPasswd, filepath.Join(o.HomeDir, ".passwd-s3fs"))
	}
	implicitPasswd = append(implicitPasswd, o.EtcPasswdFile)
	for _, path := range implicitPasswd {
		cred, src, ok, err := credsFromPasswdFile(path, o.Bucket, false)
		if err != nil || ok {
			return cred, src, err
		}
	}

	cred, src, ok, err := credsFromProfile(shared, "default", "", false)
	if err != nil || ok {
		return cred, src, err
	}
	return Credentials{}, "anonymous (no credentials found)", nil
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

// Keys of a shared credentials file profile.
const (
	iniAccessKeyID     = "aws_access_key_id"
	iniSecretAccessKey = "aws_secret_access_key"
	iniSessionToken    = "aws_session_token"
)

// credsFromProfile reads profile name of the shared credentials file at
// path. how is appended to the source (e.g. " (AWS_PROFILE)"). ok is false
// when the file or profile is missing, or the profile has no keys, and
// explicit is false; with explicit, those are errors.
func credsFromProfile(path, name, how string, explicit bool) (cred Credentials, source string, ok bool, err error) {
	if path == "" {
		if !explicit {
			return Credentials{}, "", false, nil
		}
		return Credentials{}, "", false, fmt.Errorf("profile %q%s: no shared credentials file (home directory unknown and %s unset)", name, how, envSharedCredentialsFile)
	}
	data, _, err := readCredentialFile(path)
	if err != nil {
		if !explicit && skipCredentialFile(err) {
			return Credentials{}, "", false, nil
		}
		if errors.Is(err, os.ErrNotExist) {
			return Credentials{}, "", false, fmt.Errorf("profile %q%s not found: shared credentials file %s does not exist", name, how, path)
		}
		return Credentials{}, "", false, fmt.Errorf("profile %q%s: cannot read shared credentials file: %w", name, how, err)
	}
	profiles, err := parseSharedCredentials(data)
	if err != nil {
		return Credentials{}, "", false, fmt.Errorf("shared credentials file %s: %w", path, err)
	}
	p, found := profiles[name]
	if !found {
		if !explicit {
			return Credentials{}, "", false, nil
		}
		names := make([]string, 0, len(profiles))
		for n := range profiles {
			names = append(names, n)
		}
		sort.Strings(names)
		return Credentials{}, "", false, fmt.Errorf("profile %q%s not found in %s (profiles: %s)", name, how, path, strings.Join(names, ", "))
	}
	id, secret := p[iniAccessKeyID], p[iniSecretAccessKey]
	switch {
	case id != "" && secret != "":
		return Credentials{AccessKey: id, SecretKey: secret, SessionToken: p[iniSessionToken]},
			fmt.Sprintf("profile %q%s in %s", name, how, path), true, nil
	case id != "":
		return Credentials{}, "", false, fmt.Errorf("profile %q in %s has %s but no %s", name, path, iniAccessKeyID, iniSecretAccessKey)
	case secret != "":
		return Credentials{}, "", false, fmt.Errorf("profile %q in %s has %s but no %s", name, path, iniSecretAccessKey, iniAccessKeyID)
	case explicit:
		return Credentials{}, "", false, fmt.Errorf("profile %q%s in %s has no %s and %s (only static keys are supported)", name, how, path, iniAccessKeyID, iniSecretAccessKey)
	}
	return Credentials{}, "", false, nil
}

// parseSharedCredentials parses the INI format of ~/.aws/credentials into
// profile name → key → value: "[name]" sections, "key = value" lines, and
// whole-line comments starting with '#' or ';'. Keys are case-insensitive;
// a repeated section adds to the first. Errors give the line number, never
// the line.
func parseSharedCredentials(data []byte) (map[string]map[string]string, error) {
	profiles := map[string]map[string]string{}
	var cur map[string]string
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			name, found := strings.CutSuffix(line[1:], "]")
			name = strings.TrimSpace(name)
			if !found || name == "" {
				return nil, fmt.Errorf("line %d: malformed section header, want [name]", n)
			}
			if profiles[name] == nil {
				profiles[name] = map[string]string{}
			}
			cur = profiles[name]
			continue
		}
		k, v, found := strings.Cut(line, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !found || k == "" {
			return nil, fmt.Errorf("line %d: malformed, want key = value", n)
		}
		if cur == nil {
			return nil, fmt.Errorf("line %d: key = value outside a [profile] section", n)
		}
		cur[k] = strings.TrimSpace(v)
	}
	return profiles, nil
}
