package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/dump"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// TestPlainSQLArchives: a database dumped by real pg_dump -Fp, gzip'd, in
// the real S3 server. Without database.allow_plain_sql it is skipped, and
// `archives` says why and how to enable it; with it, refresh restores it
// with psql and the row counts match the source's; a newer plain dump whose
// SQL fails half-way fails the refresh clearly and leaves the standby as it
// was.
func TestPlainSQLArchives(t *testing.T) {
	testenv.RequirePostgresImage(t)
	w := newWorld(t, "    database: {jobs: 2}\n")
	p := testenv.StartPostgres(t)
	testenv.LoadHerokuLike(t, p, "shop", 500)
	want := p.RowCounts(t, "shop")
	plain := p.Dump(t, "shop", "-Fp") // the last -F wins: plain SQL
	if !dump.LooksPlain(plain) {
		t.Fatalf("pg_dump -Fp wrote %q…", plain[:min(len(plain), 80)])
	}
	good := w.key(2*time.Hour, true)
	w.s3.Put(t, bucket, good, testenv.Gzip(t, plain))

	// 1. Off by default: skipped, saying why and how to enable it.
	code, out, _ := lb(t, "--config", w.cfgPath, "archives", "--json")
	var l archive.Listing
	if err := json.Unmarshal([]byte(out), &l); err != nil || code != exitFailed || l.Newest != "" {
		t.Fatalf("archives without the flag: %d %v\n%s", code, err, out)
	}
	if c := l.Candidates[0]; c.Key != good || c.Status != archive.StatusSkipped ||
		!strings.Contains(c.SkipReason, "plain-SQL dump (pg_dump -Fp): restored only with database.allow_plain_sql: true") {
		t.Fatalf("candidate: %+v", c)
	}
	code, out, _ = lb(t, "--config", w.cfgPath, "archives")
	if !strings.Contains(out, "↳ a plain-SQL dump (pg_dump -Fp): restored only with database.allow_plain_sql: true") {
		t.Errorf("archives text lacks the reason:\n%s", out)
	}
	if code, _, errOut := lb(t, "--config", w.cfgPath, "refresh"); code != exitFailed || !strings.Contains(errOut, "database.allow_plain_sql") {
		t.Fatalf("refresh without the flag: %d\n%s", code, errOut)
	}

	// 2. Allowed: restored with psql; every table holds the source's rows.
	cfg := strings.Replace(mustRead(t, w.cfgPath), "database: {jobs: 2}", "database: {jobs: 2, allow_plain_sql: true}", 1)
	if err := os.WriteFile(w.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = lb(t, "--config", w.cfgPath, "archives")
	if code != 0 || !strings.Contains(out, "plain SQL") {
		t.Errorf("archives with the flag: %d\n%s", code, out)
	}
	code, out, errOut := lb(t, "--config", w.cfgPath, "refresh", "--json")
	var ref failover.RefreshResult
	if err := json.Unmarshal([]byte(out), &ref); err != nil || code != 0 || ref.Outcome != failover.OutcomeRefreshed {
		t.Fatalf("refresh of the plain dump: %d %v\n%s\n%s", code, err, out, errOut)
	}
	g := ref.Generation
	if g.Archive.Format != dump.FormatPlain || g.Archive.Key != good || !strings.Contains(errOut, "psql -v ON_ERROR_STOP=1") {
		t.Errorf("archive %+v\n%s", g.Archive, errOut)
	}
	got := map[string]int64{}
	for _, tb := range g.Tables {
		got[tb.Schema+"."+tb.Name] = tb.Rows
	}
	for table, n := range want {
		if got[table] != n {
			t.Errorf("%s: %d rows restored, the source holds %d", table, got[table], n)
		}
	}
	if !hasCheck(g.Checks, "rows of app.accounts as in the dump", true) || !hasCheck(g.Checks, "row counts against the previous restore", true) {
		t.Errorf("checks: %+v", g.Checks)
	}
	var sequences bool
	for _, c := range g.Checks {
		sequences = sequences || c.Kind == "sequence" && c.OK
	}
	if !sequences {
		t.Errorf("no sequence checked: %+v", g.Checks)
	}

	// A drill rehearses it the same way, and its report says what it was.
	code, out, errOut = lb(t, "--config", w.cfgPath, "drill", "--json")
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || rep.Archive.Format != dump.FormatPlain || len(rep.Tables) != len(want) {
		t.Fatalf("drill of the plain dump: %d %v %+v %v\n%s", code, err, rep.Archive, rep.Failures, errOut)
	}
	code, out, _ = lb(t, "--config", w.cfgPath, "report", "latest")
	if code != 0 || !strings.Contains(out, "plain SQL (pg_dump -Fp, restored with psql: it could not be verified before it ran)") {
		t.Errorf("report latest:\n%s", out)
	}

	// 3. A newer plain dump whose SQL fails half-way: the refresh fails,
	// naming the error, and generation 1 stays current.
	at := bytes.Index(plain, []byte("\n--\n-- Data for Name: events;"))
	if at < 0 {
		t.Fatal("no data of app.events in the dump")
	}
	broken := append(append(append([]byte{}, plain[:at+1]...), "SELECT lifeboat_no_such_function();\n"...), plain[at+1:]...)
	bad := w.key(time.Hour, true)
	w.s3.Put(t, bucket, bad, testenv.Gzip(t, broken))
	code, out, errOut = lb(t, "--config", w.cfgPath, "refresh", "--json")
	ref = failover.RefreshResult{}
	json.Unmarshal([]byte(out), &ref)
	if code != exitFailed || ref.Outcome != failover.OutcomeFailed || ref.Run == nil ||
		!strings.Contains(ref.Run.Error, "generation 2 failed, the current database is untouched") ||
		!strings.Contains(ref.Run.Error, "psql stopped at the first error (ON_ERROR_STOP)") ||
		!strings.Contains(ref.Run.Error, "lifeboat_no_such_function") {
		t.Fatalf("refresh of the broken plain dump: %d\n%s\n%s", code, out, errOut)
	}
	if cur := mustRead(t, filepath.Join(w.stateDir, "shop", "current.json")); !strings.Contains(cur, `"generation": 1,`) {
		t.Fatalf("the standby moved off generation 1: %s", cur)
	}
	code, out, _ = lb(t, "--config", w.cfgPath, "db", "url")
	if code != 0 || !strings.Contains(out, "postgres") {
		t.Fatalf("db url after the failed refresh: %d %s", code, out)
	}
	code, out, _ = lb(t, "--config", w.cfgPath, "ps", "--json")
	if code != 0 || !strings.Contains(out, "lifeboat-shop-db-1") || strings.Contains(out, "lifeboat-shop-db-2") {
		t.Fatalf("ps after the failed refresh: %d %s", code, out)
	}
}
