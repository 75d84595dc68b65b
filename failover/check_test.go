package failover

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/diskspace"
	"github.com/lifeboat-dr/lifeboat/failover/dump"
	"github.com/lifeboat-dr/lifeboat/failover/dump/dumptest"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
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

// With a 10 GiB .dump.gz cached, the next refresh is expected to write it
// again (object and unpacked .dump) and a generation of 3× its size:
// refresh refuses before it starts, naming the numbers, and check warns.
func TestRoomForTheNextRefresh(t *testing.T) {
	dir := t.TempDir()
	app := &config.App{Name: "shop", StateDir: filepath.Join(dir, "shop")}
	app.Cache.Dir = filepath.Join(app.StateDir, "archives")
	app.Cache.MinFree = "10%"
	c := Cache(app)
	if err := c.Init(); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(app.Cache.Dir, "tmp")
	os.WriteFile(tmp, []byte("PGDMP"), 0o600)
	if err := os.Truncate(tmp, 10<<30); err != nil { // sparse
		t.Fatal(err)
	}
	if _, err := c.Commit(tmp, archive.Manifest{Key: "shop/2026-12-01_03-00_UTC__shop_DATABASE_URL.dump.gz", Wrap: archive.WrapGzip,
		ObjectSize: 10 << 30, DumpSize: 10 << 30, CapturedAt: time.Now().UTC(), Header: dump.Header{Compression: "gzip"}}); err != nil {
		t.Fatal(err)
	}
	s := NewStandby(app, nil, nil, nil)
	free := int64(30 << 30)
	s.DiskProbe = func(string) (uint64, fsutil.Space, error) {
		return 1, fsutil.Space{Free: free, Total: 100 << 30}, nil
	}
	// 22 GiB (the object and the .dump, a tenth more) with 10 GiB kept free: 30 GiB is short.
	plan, err := s.RoomPlan(context.Background())
	if !errors.Is(err, diskspace.ErrNoSpace) || plan.Filesystems[0].Need != 22<<30 {
		t.Fatalf("plan %+v: %v", plan, err)
	}
	res, err := s.Refresh(context.Background(), RefreshOptions{})
	if !errors.Is(err, diskspace.ErrNoSpace) || !strings.Contains(err.Error(), "nothing was touched") || res.Fetch != nil {
		t.Fatalf("refresh: %v (fetch %v)", err, res.Fetch)
	}
	if _, ok := res.Run.Details["disk_plan"]; !ok || res.Run.OK {
		t.Errorf("run record %+v", res.Run)
	}
	finding := func() Finding {
		for _, f := range s.CheckChain(context.Background()).Findings {
			if f.Name == "disk for the next refresh" {
				return f
			}
		}
		t.Fatal("no finding about the disk")
		return Finding{}
	}
	if f := finding(); f.OK || !strings.Contains(f.Detail, "short by") {
		t.Errorf("check with 30 GiB free: %+v", f)
	}
	free = 40 << 30
	if f := finding(); !f.OK || !strings.Contains(f.Detail, "22.0 GiB needed") {
		t.Errorf("check with 40 GiB free: %+v", f)
	}
}
