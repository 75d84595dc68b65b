package testenv

import (
	"fmt"
	"os"
	"testing"
)

// RequireDepsEnv names the variable that turns every skip for a missing
// dependency into a failure. scripts/test.sh (and so CI) sets it, so that
// nothing is skipped where it counts.
const RequireDepsEnv = "LIFEBOAT_REQUIRE_DEPS"

// DepsRequired says whether a missing dependency fails the test.
func DepsRequired() bool { return os.Getenv(RequireDepsEnv) == "1" }

// Missing ends a test that needs something this machine lacks (the Docker
// Engine, the Postgres image, MinIO, PostgreSQL's programs, chromium…): by
// default it is skipped with the reason, so that `go test ./...` passes the
// pure packages anywhere; with LIFEBOAT_REQUIRE_DEPS=1 it fails.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if DepsRequired() {
		t.Fatalf("%s (%s=1: a missing dependency fails)", msg, RequireDepsEnv)
	}
	t.Skipf("skipped, a dependency is missing: %s (%s=1 makes this a failure)", msg, RequireDepsEnv)
}
