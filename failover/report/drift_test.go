package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/drift"
)

// withDrift is a drill whose orders table was emptied since the drill before.
func withDrift(t *testing.T) *Report {
	r := sample(1, true)
	prev := drift.Snapshot{Source: drift.Source{Kind: drift.KindDrill, ID: "20261027T043000Z-shop", ArchiveKey: "old.dump.gz",
		CapturedAt: time.Date(2026, 10, 27, 3, 0, 0, 0, time.UTC)},
		Tables: []drift.Count{{Table: "public.users", Rows: 184000}, {Table: "public.orders", Rows: 1902114}, {Table: "public.gone", Rows: 12}}}
	cur := drift.Snapshot{Source: drift.Source{Kind: drift.KindDrill, ID: r.ID, ArchiveKey: r.Archive.Key, CapturedAt: r.Archive.CapturedAt},
		Tables: []drift.Count{{Table: "public.users", Rows: 184233}, {Table: "public.orders", Rows: 0}, {Table: "public.fresh", Rows: 3}}}
	r.Drift = drift.Compare(&prev, cur, drift.Limits{MaxShrink: 0.2})
	r.Checks = append(r.Checks, Check{Name: "row counts against the previous restore", Kind: KindDrift, Detail: r.Drift.Explain()})
	r.Finalize()
	if r.Pass() {
		t.Fatal("a drifted drill passes")
	}
	return r
}

func TestDriftInMarkdownAndHTML(t *testing.T) {
	r := withDrift(t)
	md := markdown(t, r)
	for _, want := range []string{
		"### Row counts against the previous restore",
		"3 tables compared with archive old.dump.gz",
		"| public.orders | 1,902,114 | 0 | -100% | ❌ emptied |",
		"| public.gone | 12 | – | gone | ❌ disappeared |",
		"| public.fresh | – | 3 | new | new |",
		"| public.users | 184,000 | 184,233 | +0.1% | grew |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// Biggest change first.
	if strings.Index(md, "public.orders |") > strings.Index(md, "public.users |") {
		t.Error("the emptied table is not listed before the one that grew by 0.1%")
	}
	if !strings.Contains(strings.Join(r.Failures, "\n"), "2 tables drifted between archive old.dump.gz (drill 20261027T043000Z-shop, data of 2026-10-27 03:00 UTC) and archive backups/shop/") {
		t.Errorf("failures: %q", r.Failures)
	}
	var b bytes.Buffer
	if err := HTML(&b, r, nil); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`id="drift-h"`, "<th scope=\"row\">public.orders</th><td class=\"n\">1,902,114</td><td class=\"n\">0</td><td class=\"n\">-100%</td>", "✗ emptied"} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

func TestFirstDrillSaysThereIsNothingToCompare(t *testing.T) {
	r := sample(0, true)
	r.Drift = drift.Compare(nil, drift.Snapshot{Tables: []drift.Count{{Table: "public.users", Rows: 1}}}, drift.Limits{MaxShrink: 0.2})
	if md := markdown(t, r); !strings.Contains(md, "nothing to compare with: this is the first verified restore of the app") || strings.Contains(md, "| Table | Before |") {
		t.Errorf("markdown:\n%s", md)
	}
}

func TestPlainSQLArchiveInMarkdownAndHTML(t *testing.T) {
	r := sample(1, true)
	r.Archive.Format = "plain"
	if md := markdown(t, r); !strings.Contains(md, "plain SQL (pg_dump -Fp, restored with psql: it could not be verified before it ran)") {
		t.Errorf("markdown:\n%s", md)
	}
	var b bytes.Buffer
	if err := HTML(&b, r, nil); err != nil || !strings.Contains(b.String(), "plain SQL (pg_dump -Fp), restored with psql") {
		t.Errorf("HTML: %v", err)
	}
}
