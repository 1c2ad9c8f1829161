package s3client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// This file is where the AWS SDK for Go v2 comes in: its credential
// providers (config.LoadDefaultConfig, of which only Credentials is used)
// know every AWS-shaped source — shared config and credentials files with
// profiles, credential_process, source_profile + role_arn, web identity,
// SSO, ECS container credentials and EC2 instance metadata. Requests are
// still signed by our own signers.

// Environment variables of the AWS sources that are only looked for.
const (
	envConfigFile         = "AWS_CONFIG_FILE"
	envWebIdentityToken   = "AWS_WEB_IDENTITY_TOKEN_FILE"
	envContainerRelative  = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
	envContainerFull      = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
	envIMDSEndpoint       = "AWS_EC2_METADATA_SERVICE_ENDPOINT"
	envIMDSDisabled       = "AWS_EC2_METADATA_DISABLED"
	sdkProfileNotExistFmt = "profile %q%s not found in %s"
)

// awsProvider is an aws.CredentialsProvider as a CredentialsProvider.
type awsProvider struct {
	p aws.CredentialsProvider
}

// Retrieve asks the SDK for credentials. The SDK's CredentialsCache would
// answer with the credentials it holds until they expire: it is emptied
// first, so that a renewal (RenewingCredentials asks ahead of expiry)
// really fetches new ones.
func (a awsProvider) Retrieve(ctx context.Context) (Credentials, error) {
	if c, ok := a.p.(*aws.CredentialsCache); ok {
		c.Invalidate()
	}
	v, err := a.p.Retrieve(ctx)
	if err != nil {
		return Credentials{}, err
	}
	c := Credentials{AccessKey: v.AccessKeyID, SecretKey: v.SecretAccessKey, SessionToken: v.SessionToken}
	if v.CanExpire {
		c.Expires = v.Expires
	}
	return c, nil
}

// sharedFiles are the shared config and credentials files.
type sharedFiles struct {
	config, credentials string // "" when the home directory is unknown
}

func sharedFilesOf(o CredentialOptions) sharedFiles {
	f := sharedFiles{credentials: sharedCredentialsPath(o.Getenv, o.HomeDir)}
	switch p := o.Getenv(envConfigFile); {
	case p != "":
		f.config = expandHome(p, o.HomeDir)
	case o.HomeDir != "":
		f.config = filepath.Join(o.HomeDir, ".aws", "config")
	}
	return f
}

func (f sharedFiles) list(path string) []string {
	if path == "" {
		return []string{}
	}
	return []string{path}
}

func (f sharedFiles) String() string {
	var names []string
	for _, p := range []string{f.config, f.credentials} {
		if p != "" {
			names = append(names, p)
		}
	}
	if len(names) == 0 {
		return "no shared config or credentials file (home directory unknown)"
	}
	return strings.Join(names, " or ")
}

// profileStatus says whether profile name of the shared files exists and
// has a way to get credentials. A missing file is no error: the profile
// is then not found.
func (f sharedFiles) profileStatus(ctx context.Context, name string) (found, hasCreds bool, err error) {
	sc, err := config.LoadSharedConfigProfile(ctx, name, func(o *config.LoadSharedConfigOptions) {
		o.ConfigFiles, o.CredentialsFiles = f.list(f.config), f.list(f.credentials)
	})
	var notExist config.SharedConfigProfileNotExistError
	if errors.As(err, &notExist) {
		return false, false, nil
	}
	if err != nil {
		return true, false, fmt.Errorf("profile %q in %s: %s", name, f, oneLine(redactSDKError(err)))
	}
	switch {
	case sc.Credentials.AccessKeyID != "" && sc.Credentials.SecretAccessKey == "":
		return true, false, fmt.Errorf("profile %q in %s has %s but no %s", name, f, iniAccessKeyID, iniSecretAccessKey)
	case sc.Credentials.SecretAccessKey != "" && sc.Credentials.AccessKeyID == "":
		return true, false, fmt.Errorf("profile %q in %s has %s but no %s", name, f, iniSecretAccessKey, iniAccessKeyID)
	}
	has := sc.Credentials.HasKeys() || sc.RoleARN != "" || sc.SourceProfileName != "" || sc.CredentialSource != "" ||
		sc.CredentialProcess != "" || sc.WebIdentityTokenFile != "" || sc.SSOSessionName != "" ||
		sc.SSOStartURL != "" || sc.SSOAccountID != "" || sc.SSORoleName != "" || sc.LoginSession != ""
	return true, has, nil
}

// redactSDKError keeps a secret the SDK may quote out of an error: it
// reports parse errors with the offending line.
func redactSDKError(err error) error {
	var le config.SharedConfigLoadError
	if errors.As(err, &le) {
		return fmt.Errorf("shared config file %s is malformed", le.Filename)
	}
	return err
}

// oneLine is err's message on one line: the SDK's span several.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// loadSDK loads the SDK's credential chain: with profile set, that
// profile of the shared files (which must have credentials); without, the
// SDK's default chain (environment, web identity, the default profile,
// ECS, instance metadata). region is the one the SDK's own calls (STS,
// SSO) use unless the profile names one.
func loadSDK(ctx context.Context, o CredentialOptions, f sharedFiles, profile string) (awsProvider, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithSharedConfigFiles(f.list(f.config)),
		config.WithSharedCredentialsFiles(f.list(f.credentials)),
		config.WithDefaultRegion(o.region()),
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return awsProvider{}, redactSDKError(err)
	}
	if cfg.Credentials == nil {
		return awsProvider{}, errors.New("the AWS SDK found no credentials provider")
	}
	return awsProvider{p: cfg.Credentials}, nil
}

// onEC2 reports whether this machine looks like an EC2 instance (its
// DMI vendor or hypervisor UUID says so), where instance metadata is
// worth asking. Elsewhere nothing is sent to the metadata address.
func onEC2() bool {
	for _, p := range []string{"/sys/class/dmi/id/sys_vendor", "/sys/class/dmi/id/board_vendor"} {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), "Amazon EC2") {
			return true
		}
	}
	if b, err := os.ReadFile("/sys/hypervisor/uuid"); err == nil && strings.HasPrefix(strings.ToLower(string(b)), "ec2") {
		return true
	}
	return false
}
