package failover

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/dump/dumptest"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// TestCheckDoesNotTrustAFutureCaptureTime (issue 8, item 4): an archive
// whose header claims next year used to count as captured "-8760h ago",
// fresh. Now its capture time is its upload time, and check says the
// claim was not believed.
func TestCheckDoesNotTrustAFutureCaptureTime(t *testing.T) {
	s3 := testenv.StartS3(t)
	s3.CreateBucket(t, "backups")
	a := dumptest.New(16)
	next := time.Now().UTC().AddDate(1, 0, 0)
	a.Tm = [7]int{next.Second(), next.Minute(), next.Hour(), next.Day(), int(next.Month()) - 1, next.Year() - 1900, 0}
	s3.Put(t, "backups", "shop/latest.dump", a.Encode())

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "lifeboat.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("state_dir: %s\napps:\n  - name: shop\n    s3: {bucket: backups, prefix: shop/, endpoint: %s, path_style: true, credentials_file: %s}\n",
		filepath.Join(dir, "state"), s3.Endpoint, s3.WriteCredentialsFile(t, dir))), 0o600)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	r := NewStandby(&cfg.Apps[0], nil, nil, nil).CheckChain(context.Background())
	var age, claim *Finding
	for i, f := range r.Findings {
		switch f.Name {
		case "archive age":
			age = &r.Findings[i]
		case "capture time":
			claim = &r.Findings[i]
		}
	}
	if age == nil || r.ArchiveCapturedAt.After(time.Now().Add(time.Hour)) {
		t.Fatalf("findings %+v, captured %s", r.Findings, r.ArchiveCapturedAt)
	}
	if claim == nil || claim.OK || !strings.Contains(claim.Detail, "after it was uploaded") {
		t.Fatalf("no failing finding about the capture time claimed: %+v", r.Findings)
	}
	if r.OK {
		t.Fatal("check passes")
	}
}
