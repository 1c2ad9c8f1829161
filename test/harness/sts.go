package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TempCredentials are temporary credentials from a real STS.
type TempCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// AssumeRole asks the server's STS (MinIO serves one at its S3 endpoint)
// for temporary credentials of the user accessKey/secretKey, valid for
// duration (MinIO's minimum is 15 minutes). MinIO ignores the role ARN:
// the credentials carry the user's own policies.
func (s *Server) AssumeRole(ctx context.Context, accessKey, secretKey string, duration time.Duration) (TempCredentials, error) {
	opts := sts.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
	}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return TempCredentials{}, err
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pem)
		opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	}
	c := sts.New(opts)
	out, err := c.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String("arn:minio:iam:::role/bucketfs-test"),
		RoleSessionName: aws.String("bucketfs-test"),
		DurationSeconds: aws.Int32(int32(duration / time.Second)),
	})
	if err != nil {
		return TempCredentials{}, fmt.Errorf("AssumeRole at %s: %w", s.Endpoint, err)
	}
	cr := out.Credentials
	if cr == nil || cr.AccessKeyId == nil || cr.SecretAccessKey == nil || cr.SessionToken == nil || cr.Expiration == nil {
		return TempCredentials{}, fmt.Errorf("AssumeRole at %s: incomplete credentials in the answer", s.Endpoint)
	}
	return TempCredentials{AccessKeyID: *cr.AccessKeyId, SecretAccessKey: *cr.SecretAccessKey,
		SessionToken: *cr.SessionToken, Expiration: *cr.Expiration}, nil
}
