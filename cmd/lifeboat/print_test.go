package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// TestSummariesLeaveOutWhatIsNotThere: a generation that failed before
// its container existed, and a refresh that failed before any phase, print
// no empty fields and not the error a second time.
func TestSummariesLeaveOutWhatIsNotThere(t *testing.T) {
	var b bytes.Buffer
	printGeneration(&b, &state.Generation{Number: 3, Status: "failed", Error: "archive unreadable"})
	out := b.String()
	for _, bad := range []string{"(, PostgreSQL )", "log \n", "phases:", "tables:", "checks:", "archive:   ("} {
		if strings.Contains(out, bad) {
			t.Errorf("failed generation's summary has %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "generation 3: failed (archive unreadable)") {
		t.Errorf("summary:\n%s", out)
	}
	b.Reset()
	printGeneration(&b, &state.Generation{Number: 1, Status: "current", Container: "lifeboat-shop-db-1", Database: "shop", Image: "postgres:15",
		Tables: []report.Table{{Schema: "public", Name: "t", Rows: 1}}})
	if out := b.String(); !strings.Contains(out, "in lifeboat-shop-db-1 (postgres:15)\n") || !strings.Contains(out, "1, 1 row\n") {
		t.Errorf("summary:\n%s", out)
	}

	b.Reset()
	printRefresh(&b, &failover.RefreshResult{Outcome: "failed", Run: &state.Run{Outcome: "failed", Error: "fetch: unreachable"}})
	if out := b.String(); out != "refresh: failed\n" {
		t.Errorf("failed refresh prints %q, want the outcome only (run prints the error on stderr)", out)
	}
}
