package report

import (
	"bytes"
	"strings"
	"testing"
)

func markdown(t *testing.T, r *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := Markdown(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestMarkdownPass(t *testing.T) {
	r := sample(0, true)
	md := markdown(t, r)
	for _, want := range []string{
		"## ✅ PASS: disaster-recovery drill of shop",
		"| RTO (time to recover) | " + Duration(r.RTO.Seconds) + " | 10 min | ✓ met |",
		"| RPO (age of the data) | " + Duration(r.RPO.Seconds) + " | 26 h | ✓ met |",
		"| Phase | Started | Took | Result |",
		"| restore | +" + Duration(r.Phases[4].StartedOffsetSeconds) + " | " + Duration(r.Phases[4].Seconds) + " | ✓ ok |",
		"13 of 13 checks passed; 8 tables, 9,709,993 rows restored",
		"network egress blocked",
		"`" + r.Archive.Key + "`",
		"scheduled by systemd timer lifeboat-drill-shop.timer",
		"slack ✓",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown does not hold %q:\n%s", want, md)
		}
	}
	for _, p := range r.Phases {
		if !strings.Contains(md, "| "+p.Name+" |") {
			t.Errorf("phase %s missing", p.Name)
		}
	}
	for _, unwanted := range []string{"Why it failed", "Failed checks", "Restore errors"} {
		if strings.Contains(md, unwanted) {
			t.Errorf("a passing drill's summary has %q", unwanted)
		}
	}
}

func TestMarkdownFail(t *testing.T) {
	r := sample(0, false)
	r.Checks = append(r.Checks, Check{Name: "totals|match", Kind: KindSQL, Detail: "returned *false*"})
	r.Finalize()
	md := markdown(t, r)
	for _, want := range []string{
		"## ❌ FAIL: disaster-recovery drill of shop",
		"### Why it failed",
		"| RTO (time to recover) | not reached | 10 min | ❌ not measured |",
		"| RPO (age of the data) | unknown | 26 h | ❌ not measured |",
		"| restore | +" + Duration(r.Phases[4].StartedOffsetSeconds) + " | " + Duration(r.Phases[4].Seconds) + " | ❌ failed: pg\\_restore: error:",
		"| checks | | | not reached |",
		"### Failed checks",
		"| public.orders | table | missing after the restore",
		`| totals\|match | sql | returned \*false\* |`,
		"### Restore errors (2)",
		"email ❌ (dial tcp 10.0.0.5:587: connect: connection refused)",
		"network egress **not proven blocked**",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown does not hold %q:\n%s", want, md)
		}
	}
	for i := range r.Failures {
		if !strings.Contains(md, "\n"+string(rune('1'+i))+". ") {
			t.Errorf("failure %d is not listed", i+1)
		}
	}
}

func TestMarkdownEscapes(t *testing.T) {
	r := sample(0, false)
	r.App = "shop"
	r.Checks = append(r.Checks, Check{Name: "<script>alert(1)</script>", Kind: "sql", Detail: "line1\nline2 | `x`"})
	r.Archive.Key = "we|ird`key"
	r.Finalize()
	md := markdown(t, r)
	if strings.Contains(md, "<script>") {
		t.Error("raw HTML in the markdown")
	}
	for _, want := range []string{`\<script\>alert(1)\</script\>`, "line1 line2 \\| \\`x\\`", "``we\\|ird`key``"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown does not hold %q:\n%s", want, md)
		}
	}
	// Every table row has the same number of cells as its header.
	var cols int
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = 0
			continue
		}
		n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|")
		if cols == 0 {
			cols = n
		} else if n != cols {
			t.Errorf("row with %d separators in a table of %d: %s", n, cols, line)
		}
	}
}
