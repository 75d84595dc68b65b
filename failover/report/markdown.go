package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/lifeboat-dr/lifeboat/failover/drift"
)

// Markdown writes a summary of r for a pull request, a ticket or an
// e-mail: the outcome, RTO and RPO against their targets, the archive, why
// it failed, the phases, the failed checks and the notifications. Every
// string from the report is escaped (GitHub-flavoured Markdown), so a
// check named "<script>" or "a|b" cannot break the layout.
func Markdown(w io.Writer, r *Report) error {
	if r == nil {
		return fmt.Errorf("drill summary: no report")
	}
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }

	pass := r.Pass()
	if pass {
		p("## ✅ PASS: disaster-recovery drill of %s\n\n", md(r.App))
	} else {
		p("## ❌ FAIL: disaster-recovery drill of %s\n\n", md(r.App))
	}
	p("**%s**, %s", timestamp(r.StartedAt), md(triggerText(r.Trigger)))
	if r.TriggeredBy != "" {
		p(" by %s", md(r.TriggeredBy))
	}
	if !r.StartedAt.IsZero() && !r.FinishedAt.IsZero() {
		p(", took %s", Duration(r.FinishedAt.Sub(r.StartedAt).Seconds()))
	}
	if r.Host != "" {
		p(", on %s", md(r.Host))
	}
	if r.ToolVersion != "" {
		p(" (Lifeboat %s)", md(r.ToolVersion))
	}
	p(". Drill %s.\n\n", code(r.ID))

	rto := newKPI(r.RTO, r.Recovered(), "not reached")
	rpo := newKPI(r.RPO, r.RPOMeasured(), "unknown")
	p("| | Measured | Target | |\n|---|---:|---:|---|\n")
	p("| RTO (time to recover) | %s | %s | %s |\n", rto.Value, targetCell(r.RTO), mark(rto.OK, rto.Status))
	p("| RPO (age of the data) | %s | %s | %s |\n\n", rpo.Value, targetCell(r.RPO), mark(rpo.OK, rpo.Status))

	if r.Archive.Key != "" {
		p("**Archive:** %s, %s, captured %s, from %s", code(r.Archive.Key), Bytes(r.Archive.Size),
			timestamp(r.Archive.CapturedAt), md(r.Archive.Source))
		if r.Archive.Format == "plain" {
			p(", plain SQL (pg_dump -Fp, restored with psql: it could not be verified before it ran)")
		}
		if r.Archive.SHA256 != "" {
			p(", SHA-256 %s", code(r.Archive.SHA256))
		}
		p(".  \n")
		if n := len(r.Archive.InsteadOf); n > 0 {
			var keys []string
			for _, k := range r.Archive.InsteadOf {
				keys = append(keys, code(k))
			}
			p("**Rehearsed instead of** %s: the newer archive%s failed verification (see why it failed).  \n", strings.Join(keys, ", "), plural(n))
		}
	} else {
		p("**Archive:** none was restored.  \n")
	}
	failed := r.FailedChecks()
	var rows int64
	for _, t := range r.Tables {
		rows += t.Rows
	}
	rowsWord := "rows"
	if rows == 1 {
		rowsWord = "row"
	}
	p("**Verification:** %d of %d checks passed; %d tables, %s %s restored.  \n",
		len(r.Checks)-len(failed), len(r.Checks), len(r.Tables), thousands(rows), rowsWord)
	switch {
	case r.AppHealth.Image == "":
		p("**App:** not rehearsed (no app image configured)")
	case r.AppHealth.Healthy:
		p("**App:** %s healthy", code(r.AppHealth.Image))
	default:
		p("**App:** %s not healthy", code(r.AppHealth.Image))
	}
	if r.AppHealth.EgressBlocked {
		p("; network egress blocked.\n\n")
	} else {
		p("; network egress **not proven blocked**.\n\n")
	}

	if len(r.Failures) > 0 {
		p("### Why it failed\n\n")
		for i, f := range r.Failures {
			p("%d. %s\n", i+1, md(f))
		}
		p("\n")
	}

	p("### Phases\n\n| Phase | Started | Took | Result |\n|---|---:|---:|---|\n")
	for _, row := range timelineRows(r) {
		if !row.Ran {
			p("| %s | | | %s |\n", md(row.Name), md(row.Note))
			continue
		}
		result := "✓ ok"
		if !row.OK {
			result = "❌ failed"
			if ph, ok := r.Phase(row.Name); ok && ph.Error != "" {
				result += ": " + md(ph.Error)
			}
		}
		p("| %s | +%s | %s | %s |\n", md(row.Name), Duration(row.Offset), Duration(row.Secs), result)
	}
	p("| **RTO** | | **%s** | %s |\n\n", rto.Value, mark(rto.OK, rto.Status))

	if len(failed) > 0 {
		p("### Failed checks\n\n| Check | Kind | Detail |\n|---|---|---|\n")
		for _, c := range failed {
			p("| %s | %s | %s |\n", md(c.Name), md(c.Kind), md(c.Detail))
		}
		p("\n")
	}
	p("### Row counts against the previous restore\n\n%s\n\n", md(driftSummary(r)))
	if r.Drift.Compared {
		rows, more := driftRows(r, 25)
		p("| Table | Before | After | Change | |\n|---|---:|---:|---:|---|\n")
		for _, row := range rows {
			mark := map[string]string{drift.VerdictFail: "❌ ", drift.VerdictWarn: "⚠️ "}[row.Verdict]
			p("| %s | %s | %s | %s | %s%s |\n", md(row.Table), row.Before, row.After, md(row.Change), mark, md(row.Status))
		}
		if more > 0 {
			p("| … %d more tables, smaller changes (see the report's JSON) | | | | |\n", more)
		}
		p("\n")
	}
	if len(r.Inspect) > 0 {
		p("### Kept for inspection\n\n")
		for _, line := range r.Inspect {
			p("- %s\n", md(line))
		}
		p("\n")
	}
	if n := len(r.Restore.Errors); n > 0 {
		p("### Restore errors (%d)\n\n", n)
		for i, e := range r.Restore.Errors {
			if i == 10 {
				p("- … and %d more (see the report)\n", n-10)
				break
			}
			p("- %s\n", code(e))
		}
		p("\n")
	}
	if len(r.Notifications) > 0 {
		p("**Notifications:** ")
		for i, n := range r.Notifications {
			if i > 0 {
				p(", ")
			}
			if n.OK {
				p("%s ✓", md(n.Channel))
			} else {
				p("%s ❌ (%s)", md(n.Channel), md(n.Error))
			}
		}
		p("\n")
	}
	return bw.Flush()
}

func targetCell(t Target) string {
	if t.TargetSeconds <= 0 {
		return "none"
	}
	return Duration(t.TargetSeconds)
}

func mark(ok bool, status string) string {
	if ok {
		return "✓ " + status
	}
	return "❌ " + status
}

var mdEscaper = strings.NewReplacer(
	"\\", "\\\\", "`", "\\`", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]",
	"<", "\\<", ">", "\\>", "|", "\\|", "#", "\\#", "\r\n", " ", "\n", " ", "\r", " ",
)

// md escapes text for Markdown, on one line.
func md(s string) string { return mdEscaper.Replace(s) }

// code writes s as a code span, on one line, safe in a table cell.
func code(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "|", "\\|").Replace(s)
	if s == "" {
		return "(none)"
	}
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}
