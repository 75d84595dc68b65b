package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// TestDrillRehearsesTheLastGoodArchive: the newest object's header reads
// well but the archive is cut short. The drill fails (the backup job needs a
// look) but first rehearses the archive before it, and its report shows both.
func TestDrillRehearsesTheLastGoodArchive(t *testing.T) {
	testenv.RequirePostgresImage(t)
	w := newWorld(t, "    database: {jobs: 2}\n")
	d := sourceDump(t)
	now := time.Now().UTC()
	good := w.key(3*time.Hour, true)
	w.s3.Put(t, bucket, good, testenv.Gzip(t, testenv.WithCreatedAt(t, d, now.Add(-3*time.Hour))))
	bad := w.key(time.Hour, true)
	w.s3.Put(t, bucket, bad, testenv.Gzip(t, testenv.WithCreatedAt(t, d[:len(d)*3/4], now.Add(-time.Hour))))

	code, out, errOut := lb(t, "--config", w.cfgPath, "drill", "--json")
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitFailed || rep.Result != report.ResultFail {
		t.Fatalf("drill: %d %v\n%s\n%s", code, err, out, errOut)
	}
	// The rehearsal of the older archive ran, and passed.
	if rep.Archive.Key != good || strings.Join(rep.Archive.InsteadOf, ",") != bad {
		t.Fatalf("archive %s instead of %v", rep.Archive.Key, rep.Archive.InsteadOf)
	}
	if !rep.Recovered() || !rep.RPO.Met || rep.RPO.Seconds < 3*3600-60 || len(rep.FailedChecks()) != 0 || len(rep.Tables) != len(rowCounts) {
		t.Fatalf("rehearsal: recovered %v, RPO %+v, failed checks %+v, %d tables", rep.Recovered(), rep.RPO, rep.FailedChecks(), len(rep.Tables))
	}
	for _, p := range rep.Phases {
		if !p.OK {
			t.Errorf("phase %s failed: %s", p.Name, p.Error)
		}
	}
	// The broken object is in the report, and the failure speaks of it.
	var status, reason string
	for _, c := range rep.Candidates {
		if c.Key == bad {
			status, reason = c.Status, c.SkipReason
		}
	}
	if status != report.CandidateBroken || !strings.Contains(reason, "failed verification") {
		t.Errorf("candidate %s: %s (%s)", bad, status, reason)
	}
	failures := strings.Join(rep.Failures, "\n")
	if len(rep.Failures) != 1 || !strings.Contains(failures, "The newest archive in the bucket is broken: "+bad) ||
		!strings.Contains(failures, "rehearsed the newest archive that verifies instead, "+good) || !strings.Contains(failures, "3 h old") ||
		strings.Contains(failures, "reachable") {
		t.Errorf("failures:\n%s", failures)
	}

	// Only the broken one left: the drill fails in verify, and the advice
	// speaks of the archive, not of the bucket's reachability.
	w2 := newWorld(t, "    database: {jobs: 2}\n")
	w2.s3.Put(t, bucket, bad, testenv.Gzip(t, testenv.WithCreatedAt(t, d[:len(d)*3/4], now.Add(-time.Hour))))
	code, out, _ = lb(t, "--config", w2.cfgPath, "drill", "--json")
	json.Unmarshal([]byte(out), &rep)
	failures = strings.Join(rep.Failures, "\n")
	if code != exitFailed || !strings.Contains(failures, "Phase verify failed") || !strings.Contains(failures, "The archive is damaged") ||
		strings.Contains(failures, "reachable") {
		t.Fatalf("only a broken archive: %d\n%s", code, failures)
	}
}
