package failover

import (
	"errors"
	"testing"

	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

func TestPhasesForRecords(t *testing.T) {
	p := newPhases(nil)
	if r := p.records(); r == nil || len(r) != 0 {
		t.Fatalf("records before any phase = %#v, want an empty list (JSON [])", r)
	}
	p.done("archive")
	p.done("restore")
	r := p.records()
	if len(r) != 2 || r[0].Name != "archive" || r[1].Name != "restore" || r[0].Seconds < 0 || r[1].Seconds < 0 {
		t.Fatalf("records = %+v", r)
	}
}

func TestPhasesForADrillReport(t *testing.T) {
	var rep report.Report
	p := newPhases(&rep.Phases)
	p.begin("locate")
	p.endWith(2, nil)
	p.skip("download")
	p.add("verify", 3, nil)
	p.add("restore", 5, errors.New("pg_restore failed"))
	want := []report.Phase{
		{Name: "locate", StartedOffsetSeconds: 0, Seconds: 2, OK: true},
		{Name: "download", StartedOffsetSeconds: 2, OK: true},
		{Name: "verify", StartedOffsetSeconds: 2, Seconds: 3, OK: true},
		{Name: "restore", StartedOffsetSeconds: 5, Seconds: 5, Error: "pg_restore failed"},
	}
	if len(rep.Phases) != len(want) {
		t.Fatalf("phases = %+v", rep.Phases)
	}
	for i := range want {
		if rep.Phases[i] != want[i] {
			t.Errorf("phase %d = %+v, want %+v", i, rep.Phases[i], want[i])
		}
	}
}

func TestPhasesFromAFailedGeneration(t *testing.T) {
	var rep report.Report
	p := newPhases(&rep.Phases)
	p.add("verify", 1, nil)
	g := &state.Generation{Status: state.StatusFailed, Error: "restore failed", Phases: []state.Phase{
		{Name: "archive-verify", Seconds: 2}, {Name: "database-start", Seconds: 3}, {Name: "prepare", Seconds: 1}, {Name: "restore", Seconds: 4},
	}}
	p.fromGeneration(g)
	// The re-read joins the download's verify; the failure is in checks
	// (after the last completed build phase, restore), and nothing follows.
	got := map[string]report.Phase{}
	for _, ph := range rep.Phases {
		got[ph.Name] = ph
	}
	if v := got["verify"]; v.Seconds != 3 {
		t.Errorf("verify = %+v, want 3s", v)
	}
	if d := got["database-start"]; d.Seconds != 3 || !d.OK || d.StartedOffsetSeconds != 3 {
		t.Errorf("database-start = %+v", d)
	}
	if r := got["restore"]; r.Seconds != 5 || !r.OK {
		t.Errorf("restore = %+v", r)
	}
	if c := got["checks"]; c.OK || c.Error != "restore failed" {
		t.Errorf("checks = %+v, want the generation's error", c)
	}
}
