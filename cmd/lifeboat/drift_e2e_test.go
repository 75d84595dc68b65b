package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/drift"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// driftDumps returns two real archives of one database: before, and after
// a bad day (a table truncated, one dropped, half of one deleted, one
// doubled, one added).
func driftDumps(t *testing.T) (before, after []byte) {
	p := testenv.StartPostgres(t)
	testenv.LoadHerokuLike(t, p, "shop", 400)
	before = p.Dump(t, "shop")
	p.Exec(t, "shop", `
TRUNCATE billing.invoices CASCADE;
DROP TABLE app.events;
DELETE FROM app.projects WHERE id % 2 = 0;
INSERT INTO app.accounts (email, name) SELECT 'extra' || i || '@example.com', 'extra ' || i FROM generate_series(1, 400) AS i;
CREATE TABLE app.audit_log AS SELECT i AS id FROM generate_series(1, 10) AS i;`)
	after = p.Dump(t, "shop")
	return before, after
}

func TestDriftBetweenTwoRealArchives(t *testing.T) {
	testenv.RequirePostgresImage(t)
	w := newWorld(t, "    database:\n      jobs: 2\n      drift: {max_growth: 50%}\n      expect: {tables: 5, rows: {app.accounts: 100}}\n")
	before, after := driftDumps(t)
	now := time.Now().UTC()
	oldKey := w.key(2*time.Hour, true)
	w.s3.Put(t, bucket, oldKey, testenv.Gzip(t, testenv.WithCreatedAt(t, before, now.Add(-2*time.Hour))))

	// 1. The first refresh has nothing to compare with, and says so.
	code, out, errOut := lb(t, "--config", w.cfgPath, "refresh", "--json")
	var ref failover.RefreshResult
	if err := json.Unmarshal([]byte(out), &ref); err != nil || code != 0 || ref.Outcome != failover.OutcomeRefreshed {
		t.Fatalf("first refresh: %d %v\n%s\n%s", code, err, out, errOut)
	}
	if d := ref.Generation.Drift; d.Compared || !strings.Contains(d.Note, "nothing to compare with") {
		t.Fatalf("first restore's drift: %+v", d)
	}
	if !hasCheck(ref.Generation.Checks, "app.accounts has at least 100 rows", true) || !hasCheck(ref.Generation.Checks, "at least 5 tables", true) {
		t.Fatalf("declared minimums not checked: %+v", ref.Generation.Checks)
	}

	// 2. The bad day's archive: the drill fails, with both numbers and both archives.
	newKey := w.key(time.Hour, true)
	w.s3.Put(t, bucket, newKey, testenv.Gzip(t, testenv.WithCreatedAt(t, after, now.Add(-time.Hour))))
	code, out, _ = lb(t, "--config", w.cfgPath, "drill", "--json")
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitFailed || rep.Result != report.ResultFail {
		t.Fatalf("drill over the drifted archive: %d %v\n%s", code, err, out)
	}
	d := rep.Drift
	if !d.Compared || d.Previous.Kind != drift.KindGeneration || d.Previous.ID != "1" || d.Current.ArchiveKey != newKey {
		t.Fatalf("compared with %+v, current %+v", d.Previous, d.Current)
	}
	status := map[string]drift.Change{}
	for _, c := range d.Tables {
		status[c.Table] = c
	}
	want := map[string]string{
		"billing.invoices": drift.StatusEmptied, "app.events": drift.StatusDisappeared, "app.projects": drift.StatusShrank,
		"app.accounts": drift.StatusGrew, "app.audit_log": drift.StatusNew, "public.schema_migrations": drift.StatusUnchanged,
	}
	for table, st := range want {
		if status[table].Status != st {
			t.Errorf("%s: %+v, want %s", table, status[table], st)
		}
	}
	if c := status["app.projects"]; c.Before != 400 || c.After != 200 || c.Verdict != drift.VerdictFail {
		t.Errorf("projects: %+v", c)
	}
	failures := strings.Join(rep.Failures, "\n")
	for _, s := range []string{
		"app.projects shrank from 400 to 200 rows (-50%, more than database.drift.max_shrink 20%)",
		"billing.invoices is empty (it held 400 rows)", "app.events disappeared (it held 400 rows)",
		"3 tables drifted between archive " + oldKey + " (generation 1, data of", "and archive " + newKey + " (drill " + rep.ID,
	} {
		if !strings.Contains(failures, s) {
			t.Errorf("the drill's failures lack %q:\n%s", s, failures)
		}
	}
	if len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "app.accounts grew from 400 to 800 rows (+100%, more than database.drift.max_growth 50%)") {
		t.Errorf("growth warning: %q", d.Warnings)
	}
	if strings.Join(d.NewTables, ",") != "app.audit_log" || strings.Contains(failures, "audit_log") {
		t.Errorf("new table: %v\n%s", d.NewTables, failures)
	}
	// The biggest changes first.
	if d.Tables[0].Verdict != drift.VerdictFail || d.Tables[len(d.Tables)-1].Status != drift.StatusUnchanged {
		t.Errorf("order: %+v", d.Tables)
	}
	// The Markdown (what the drill prints without --json) shows before and after.
	code, out, _ = lb(t, "--config", w.cfgPath, "report", "latest")
	if code != 0 || !strings.Contains(out, "| app.projects | 400 | 200 | -50% | ❌ shrank |") {
		t.Fatalf("report latest: %d\n%s", code, out)
	}

	// 3. The refresh fails the same way and keeps the standby as it was.
	code, out, _ = lb(t, "--config", w.cfgPath, "refresh", "--json")
	json.Unmarshal([]byte(out), &ref)
	if code != exitFailed || ref.Outcome != failover.OutcomeFailed || !strings.Contains(ref.Run.Error, "data check failed: 3 tables drifted between") ||
		!strings.Contains(ref.Run.Error, "--accept-drift") || ref.Generation.Drift.Previous.ID != "1" {
		t.Fatalf("refresh over the drifted archive: %d %s", code, out)
	}
	if cur := mustRead(t, filepath.Join(w.stateDir, "shop", "current.json")); !strings.Contains(cur, `"generation": 1,`) {
		t.Fatalf("the standby moved off generation 1: %s", cur)
	}
	// As a user sees it (the README shows this output).
	code, out, errOut = lb(t, "--config", w.cfgPath, "refresh")
	t.Logf("lifeboat refresh (exit %d):\n%s%s", code, out, errOut)
	for _, s := range []string{
		"WARNING: app.accounts grew from 400 to 800 rows (+100%, more than database.drift.max_growth 50%), between archive " + oldKey,
		"rows: 7 tables compared with archive " + oldKey + " (generation 1, data of",
		"3 drifted beyond the limits; 1 grew beyond database.drift.max_growth; 1 new: app.audit_log",
		"lifeboat: generation 3 failed, the current database is untouched: data check failed: 3 tables drifted between archive " + oldKey,
		"app.events disappeared (it held 400 rows); billing.invoices is empty (it held 400 rows); app.projects shrank from 400 to 200 rows (-50%, more than database.drift.max_shrink 20%). If the change is intended (a table dropped or purged on purpose), accept it once with --accept-drift",
	} {
		if code != exitFailed || !strings.Contains(out+errOut, s) {
			t.Errorf("refresh output lacks %q", s)
		}
	}
	if n := strings.Count(errOut, "WARNING: app.accounts grew"); n != 1 {
		t.Errorf("the growth warning is said %d times", n)
	}

	// 4. check reports it.
	code, f := runCheck(t, w)
	if code != exitFailed || f["row counts"].OK || !strings.Contains(f["row counts"].Detail, "app.projects shrank from 400 to 200") {
		t.Fatalf("check: %d %+v", code, f["row counts"])
	}

	// 5. Accepted: the refresh goes through, and the next drill compares with it.
	code, out, errOut = lb(t, "--config", w.cfgPath, "refresh", "--accept-drift", "--json")
	json.Unmarshal([]byte(out), &ref)
	if code != 0 || ref.Outcome != failover.OutcomeRefreshed || !ref.Generation.Drift.Accepted {
		t.Fatalf("refresh --accept-drift: %d %s %s", code, out, errOut)
	}
	if !strings.Contains(errOut, "app.accounts grew from 400 to 800") {
		t.Errorf("the growth warning is not on stderr: %s", errOut)
	}
	code, out, _ = lb(t, "--config", w.cfgPath, "drill", "--json")
	json.Unmarshal([]byte(out), &rep)
	if code != 0 || rep.Drift.Previous.ArchiveKey != newKey || len(rep.Drift.Failures) != 0 {
		t.Fatalf("drill after the accepted refresh: %d %v %+v", code, rep.Failures, rep.Drift.Previous)
	}
	if code, f := runCheck(t, w); !f["row counts"].OK {
		t.Fatalf("check after an accepted drift: %d %+v", code, f["row counts"])
	}

	// 6. A declared minimum that the data does not meet fails the drill.
	cfg := strings.Replace(mustRead(t, w.cfgPath), "app.accounts: 100", "app.accounts: 100000", 1)
	os.WriteFile(w.cfgPath, []byte(cfg), 0o600)
	code, out, _ = lb(t, "--config", w.cfgPath, "drill", "--json")
	json.Unmarshal([]byte(out), &rep)
	if code != exitFailed || !strings.Contains(strings.Join(rep.Failures, "\n"), "app.accounts has 800 rows, database.expect.rows declares at least 100000") {
		t.Fatalf("expect: %d %v", code, rep.Failures)
	}
}

func hasCheck(cs []report.Check, name string, ok bool) bool {
	for _, c := range cs {
		if c.Name == name {
			return c.OK == ok
		}
	}
	return false
}
