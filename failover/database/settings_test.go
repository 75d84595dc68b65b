package database

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
)

func TestMaintenanceWorkMem(t *testing.T) {
	for _, c := range []struct {
		mem  int64
		jobs int
		want int64
	}{
		{0, 2, 256 << 20},             // unknown machine
		{2 << 30, 2, 256 << 20},       // a 2 GB VPS, 2 jobs: a quarter, shared
		{1 << 30, 8, 64 << 20},        // never below 64 MiB
		{64 << 30, 1, 1 << 30},        // never above 1 GiB
		{24 << 30, 0, 1 << 30},        // jobs 0 counts as 1
		{3<<30 + 12345, 3, 256 << 20}, // whole MiB
	} {
		if got := MaintenanceWorkMem(c.mem, c.jobs); got != c.want {
			t.Errorf("MaintenanceWorkMem(%d, %d) = %d, want %d", c.mem, c.jobs, got, c.want)
		}
	}
	if HostMemory() <= 0 {
		t.Error("HostMemory found no MemTotal in /proc/meminfo")
	}
	got := map[string]string{}
	for _, s := range BulkLoadSettings(2<<30, 2) {
		got[s.Name] = s.Value
	}
	if got["maintenance_work_mem"] != "256MB" || got["fsync"] != "off" || got["wal_level"] != "minimal" || got["max_wal_senders"] != "0" {
		t.Errorf("bulk-load settings %v", got)
	}
}

// A server created for a bulk load runs without fsync and with minimal
// WAL; MakeDurable restarts it, data kept, with the durable settings, and
// CheckDurable tells one from the other.
func TestBulkLoadThenDurable(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	if err := s.CreateForBulkLoad(ctx, "", BulkLoadSettings(HostMemory(), 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	url, _ := s.URL(ctx)
	for setting, want := range map[string]string{"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off",
		"wal_level": "minimal", "autovacuum": "off", "max_wal_senders": "0"} {
		if got := queryOne(t, url, "show "+setting); got != want {
			t.Errorf("bulk load: %s = %s, want %s", setting, got, want)
		}
	}
	ck, err := s.CheckDurable(ctx)
	if !errors.Is(err, ErrNotDurable) || ck.OK || !strings.Contains(ck.Detail, "fsync=off") {
		t.Fatalf("CheckDurable on the bulk-load server: %+v, %v", ck, err)
	}
	// While the load runs, WriteBehind writes it to disk pass after pass
	// until its context ends.
	wctx, stop := context.WithCancel(ctx)
	passes := make(chan int, 1)
	go func() {
		n, err := s.WriteBehind(wctx, 20*time.Millisecond)
		if err != nil {
			t.Errorf("WriteBehind: %v", err)
		}
		passes <- n
	}()
	execSQL(t, url, "create table kept (x int); insert into kept select generate_series(1, 1000)")
	time.Sleep(time.Second)
	stop()
	if n := <-passes; n < 2 {
		t.Errorf("WriteBehind: %d passes in a second, want several", n)
	}

	if err := s.MakeDurable(ctx, ""); err != nil {
		t.Fatal(err)
	}
	url, _ = s.URL(ctx)
	for setting, want := range map[string]string{"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on",
		"wal_level": "replica", "autovacuum": "on", "max_wal_size": "4GB", "maintenance_work_mem": "256MB"} {
		if got := queryOne(t, url, "show "+setting); got != want {
			t.Errorf("durable: %s = %s, want %s", setting, got, want)
		}
	}
	if got := queryOne(t, url, "select count(*)::text from kept"); got != "1000" {
		t.Fatalf("after the restart: %s rows, want 1000", got)
	}
	if err := s.SyncData(ctx); err != nil {
		t.Fatal(err)
	}
	ck, err = s.CheckDurable(ctx)
	if err != nil || !ck.OK || !strings.Contains(ck.Detail, "fsync=on") {
		t.Fatalf("CheckDurable on the durable server: %+v, %v", ck, err)
	}

	// A server that is gone: WriteBehind says why (for the log) and ends
	// with its context.
	if err := s.Engine.StopContainer(ctx, s.Name, time.Minute); err != nil {
		t.Fatal(err)
	}
	wctx, stop = context.WithTimeout(ctx, 500*time.Millisecond)
	defer stop()
	if n, err := s.WriteBehind(wctx, 20*time.Millisecond); n != 0 || !errors.Is(err, engine.ErrNotRunning) {
		t.Fatalf("WriteBehind on a stopped server: %d passes, %v; want none and ErrNotRunning", n, err)
	}
}
