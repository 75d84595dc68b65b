// Package miniotest drives a MinIO server started by testenv.StartS3
// through MinIO's admin API (github.com/minio/madmin-go): users with IAM
// policies, and remote tiers for lifecycle transitions. It is a package of
// its own so that only the tests that need the admin API link it (the demo
// and benchmark drivers import testenv).
package miniotest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/madmin-go/v3"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// Admin returns an admin client of the server, with its root credentials.
func Admin(t testing.TB, srv *testenv.S3) *madmin.AdminClient {
	t.Helper()
	u, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatalf("miniotest: %v", err)
	}
	adm, err := madmin.New(u.Host, srv.AccessKey, srv.SecretKey, u.Scheme == "https")
	if err != nil {
		t.Fatalf("miniotest: %v", err)
	}
	return adm
}

// User is a MinIO user created by AddUser.
type User struct {
	AccessKey, SecretKey string
	// Client is an S3 client of the server signing with the user's keys.
	Client *s3.Client
}

// WriteCredentialsFile writes an AWS shared credentials file (mode 0600)
// in dir holding the user's keys as the [default] profile, and returns its
// path.
func (u *User) WriteCredentialsFile(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "credentials-"+u.AccessKey)
	content := fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", u.AccessKey, u.SecretKey)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("miniotest: %v", err)
	}
	return path
}

// AddUser creates the IAM policy named name from policy (the JSON of an
// AWS IAM policy), creates a user whose access key is name, and attaches
// the policy to it; the server then allows the user exactly what the
// policy allows. The test fails when the server refuses the policy.
func AddUser(t testing.TB, srv *testenv.S3, name string, policy []byte) *User {
	t.Helper()
	adm := Admin(t, srv)
	ctx := t.Context()
	if err := retryUntilUp(func() error { return adm.AddCannedPolicy(ctx, name, policy) }); err != nil {
		t.Fatalf("miniotest: creating policy %s: %v\n%s", name, err, policy)
	}
	secret := randomHex(t, 20)
	if err := adm.AddUser(ctx, name, secret); err != nil {
		t.Fatalf("miniotest: creating user %s: %v", name, err)
	}
	if _, err := adm.AttachPolicy(ctx, madmin.PolicyAssociationReq{Policies: []string{name}, User: name}); err != nil {
		t.Fatalf("miniotest: attaching policy %s to user %s: %v", name, name, err)
	}
	return &User{AccessKey: name, SecretKey: secret, Client: testenv.NewS3Client(srv.Endpoint, srv.Region, name, secret)}
}

// AddTier adds a remote tier named name to srv that stores transitioned
// objects in bucket on target (another MinIO), as MinIO's own lifecycle
// tests do: a lifecycle rule's transition StorageClass then names it.
func AddTier(t testing.TB, srv *testenv.S3, name string, target *testenv.S3, bucket string) {
	t.Helper()
	cfg, err := madmin.NewTierMinIO(name, target.Endpoint, target.AccessKey, target.SecretKey, bucket)
	if err != nil {
		t.Fatalf("miniotest: %v", err)
	}
	if err := retryUntilUp(func() error { return Admin(t, srv).AddTier(t.Context(), cfg) }); err != nil {
		t.Fatalf("miniotest: adding tier %s: %v", name, err)
	}
}

// retryUntilUp retries f for a while when the server says it is still
// initializing (a loaded machine).
func retryUntilUp(f func() error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f()
		if err == nil || !strings.Contains(err.Error(), "not initialized") || time.Now().After(deadline) {
			return err
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("miniotest: %v", err)
	}
	return hex.EncodeToString(b)
}
