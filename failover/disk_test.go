package failover

import (
	"strings"
	"testing"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/database"
)

// With pg_restore --jobs 1 every COPY is WAL-logged even at
// wal_level=minimal, and the WAL grows until a checkpoint (up to about
// max_wal_size): the estimate counts it. With --jobs 2 or more pg_restore
// loads each table in the transaction that created (truncated) it, which
// minimal WAL skips.
func TestDatabaseNeedCountsTheWALOfOneJob(t *testing.T) {
	site := func(jobs int) *site {
		app := &config.App{Name: "a", StateDir: t.TempDir()}
		app.Database.Jobs = jobs
		return &site{App: app, State: StateOf(app)}
	}
	two, basis2 := site(2).databaseNeed(1<<30, true)
	one, basis1 := site(1).databaseNeed(1<<30, true)
	if strings.Contains(basis2, "WAL") || one != 2*two || !strings.Contains(basis1, "WAL") {
		t.Errorf("jobs 2: %d (%s); jobs 1: %d (%s): want the WAL counted once more with one job", two, basis2, one, basis1)
	}
	// The WAL stops growing at about max_wal_size.
	big2, _ := site(2).databaseNeed(100<<30, true)
	big1, _ := site(1).databaseNeed(100<<30, true)
	if big1-big2 != database.BulkLoadMaxWAL {
		t.Errorf("a 100 GiB archive with one job: %d more, want max_wal_size %d", big1-big2, int64(database.BulkLoadMaxWAL))
	}
}
