package report

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lifeboat-dr/lifeboat/templates"
)

// MaxHistory is how many drills the history charts show at most.
const MaxHistory = 30

var (
	pageOnce sync.Once
	pageTmpl *template.Template
	pageErr  error
)

func pageTemplate() (*template.Template, error) {
	pageOnce.Do(func() {
		pageTmpl, pageErr = template.New("report.html.tmpl").Funcs(template.FuncMap{
			"f":        f,
			"dur":      Duration,
			"bytes":    Bytes,
			"ts":       timestamp,
			"tsm":      timestampMinutes,
			"num":      thousands,
			"short":    shortHash,
			"phaseCls": phaseClass,
		}).Parse(templates.ReportHTML)
	})
	return pageTmpl, pageErr
}

// HTML writes r as a self-contained page (inline CSS and SVG, no script,
// no external resource: it can be mailed to an auditor and printed). The
// history charts show the drills of history (in any order, r itself
// included or not) up to r, at most the MaxHistory newest of them, so a
// page rendered again later looks the same.
func HTML(w io.Writer, r *Report, history []*Report) error {
	if r == nil {
		return fmt.Errorf("render drill report: no report")
	}
	t, err := pageTemplate()
	if err != nil {
		return fmt.Errorf("report page template: %w", err)
	}
	if err := t.Execute(w, newPage(r, history)); err != nil {
		return fmt.Errorf("render drill report %s: %w", r.ID, err)
	}
	return nil
}

type page struct {
	R        *Report
	Pass     bool
	Result   string // PASS / FAIL
	Trigger  string
	Elapsed  string
	RTO, RPO kpi
	Checks   []Check // failed first
	Passed   int
	Failed   int
	Rows     int64
	Timeline chart
	Phases   []phaseRow
	Cands    []candRow
	Notified int
	ChecksOK bool
	AppOK    bool
	Summary  string
	History  *history
	// Drift is the row-count comparison, the biggest changes first.
	Drift        []driftRow
	DriftSummary string
}

type kpi struct {
	Value  string
	Target string
	Status string // met, missed, not measured
	OK     bool
}

type phaseRow struct {
	Name, Start, Took, Status, Error string
	OK, Ran                          bool
}

type candRow struct {
	Candidate
	Restored bool
}

type history struct {
	N           int
	First, Last string
	Charts      []chart
	Rows        []histRow // newest first
	Passed      int
}

type histRow struct {
	ID, When, Result, RTO, RPO, Size string
	Pass, Current                    bool
}

func newPage(r *Report, hist []*Report) *page {
	cp := *r
	r = &cp
	r.normalize()
	p := &page{R: r, Pass: r.Pass(), Result: "FAIL"}
	if p.Pass {
		p.Result = "PASS"
	}
	p.Trigger = triggerText(r.Trigger)
	if !r.StartedAt.IsZero() && !r.FinishedAt.IsZero() {
		p.Elapsed = Duration(r.FinishedAt.Sub(r.StartedAt).Seconds())
	}
	p.RTO = newKPI(r.RTO, r.Recovered(), "not reached")
	p.RPO = newKPI(r.RPO, r.RPOMeasured(), "unknown")

	for _, c := range r.Checks {
		if !c.OK {
			p.Checks = append(p.Checks, c)
			p.Failed++
		}
	}
	for _, c := range r.Checks {
		if c.OK {
			p.Checks = append(p.Checks, c)
			p.Passed++
		}
	}
	for _, t := range r.Tables {
		p.Rows += t.Rows
	}
	for _, n := range r.Notifications {
		if n.OK {
			p.Notified++
		}
	}

	p.ChecksOK = len(r.Checks) > 0 && p.Failed == 0
	p.AppOK = (r.AppHealth.Image == "" || r.AppHealth.Healthy) && r.AppHealth.EgressBlocked
	p.Summary = summary(r, p)
	p.Timeline = timeline(r)
	for _, row := range timelineRows(r) {
		pr := phaseRow{Name: row.Name, Ran: row.Ran, OK: row.OK}
		if row.Ran {
			pr.Start, pr.Took, pr.Status = "+"+Duration(row.Offset), Duration(row.Secs), "ok"
			if !row.OK {
				pr.Status = "failed"
			}
			if ph, ok := r.Phase(row.Name); ok {
				pr.Error = ph.Error
			}
		} else {
			pr.Status = row.Note
		}
		p.Phases = append(p.Phases, pr)
	}
	for _, c := range r.Candidates {
		p.Cands = append(p.Cands, candRow{Candidate: c, Restored: c.Key != "" && c.Key == r.Archive.Key})
	}
	p.History = newHistory(r, hist)
	p.Drift, _ = driftRows(r, 0)
	p.DriftSummary = driftSummary(r)
	return p
}

// triggerText says how a drill was started, in words.
func triggerText(trigger string) string {
	switch trigger {
	case TriggerSchedule:
		return "scheduled"
	case TriggerManual:
		return "run by hand"
	case TriggerWebhook:
		return "triggered by webhook"
	case "":
		return "trigger not recorded"
	}
	return trigger
}

// summary says in one paragraph what the drill proved, for a reader who
// reads nothing else.
func summary(r *Report, p *page) string {
	if !p.Pass {
		where := ""
		for _, ph := range r.Phases {
			if !ph.OK && ph.Name != PhaseTeardown {
				where = fmt.Sprintf(" It failed in the %s phase, %s after the start.", ph.Name, Duration(ph.StartedOffsetSeconds+ph.Seconds))
				break
			}
		}
		n := len(r.Failures)
		return fmt.Sprintf("This drill does not prove that a failover of %s would work: %d problem%s, listed below with what to do about each.%s",
			r.App, n, plural(n), where)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Lifeboat restored the newest archive of %s", r.App)
	if !r.Archive.CapturedAt.IsZero() {
		fmt.Fprintf(&b, " (captured %s)", timestamp(r.Archive.CapturedAt))
	}
	fmt.Fprintf(&b, " into a fresh, isolated database and verified it with %d check%s", len(r.Checks), plural(len(r.Checks)))
	if r.AppHealth.Image != "" {
		b.WriteString(", then booted the app on it")
		if r.AppHealth.EgressBlocked {
			b.WriteString(" with no network egress")
		}
	}
	fmt.Fprintf(&b, ". A failover would have served data %s old (RPO", Duration(r.RPO.Seconds))
	if r.RPO.TargetSeconds > 0 {
		fmt.Fprintf(&b, ", target %s", Duration(r.RPO.TargetSeconds))
	}
	fmt.Fprintf(&b, ") within %s (RTO", Duration(r.RTO.Seconds))
	if r.RTO.TargetSeconds > 0 {
		fmt.Fprintf(&b, ", target %s", Duration(r.RTO.TargetSeconds))
	}
	b.WriteString(").")
	return b.String()
}

func newKPI(t Target, measured bool, unmeasured string) kpi {
	k := kpi{Value: Duration(t.Seconds), OK: t.Met, Target: "no target set"}
	if t.TargetSeconds > 0 {
		k.Target = "target " + Duration(t.TargetSeconds)
	}
	switch {
	case !measured:
		k.Value, k.Status, k.OK = unmeasured, "not measured", false
	case t.Met:
		k.Status = "met"
	case t.TargetSeconds > 0 && t.Seconds > t.TargetSeconds:
		k.Status = "missed"
	default:
		k.Status = "not measured"
	}
	return k
}

// window returns the drills of hist and r up to r, oldest first, at most
// MaxHistory, each ID once (r wins over its own copy in hist).
func window(r *Report, hist []*Report) []*Report {
	byID := map[string]*Report{}
	for _, h := range hist {
		if h != nil && h.ID <= r.ID {
			byID[h.ID] = h
		}
	}
	byID[r.ID] = r
	all := make([]*Report, 0, len(byID))
	for _, h := range byID {
		all = append(all, h)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	if len(all) > MaxHistory {
		all = all[len(all)-MaxHistory:]
	}
	return all
}

func newHistory(r *Report, hist []*Report) *history {
	drills := window(r, hist)
	pts := historyPoints(drills, r.ID)
	h := &history{N: len(drills)}
	h.First, h.Last = timestamp(drills[0].StartedAt), timestamp(drills[len(drills)-1].StartedAt)
	h.Charts = []chart{
		rtoHistory(pts, r.RTO.TargetSeconds),
		rpoHistory(pts, r.RPO.TargetSeconds),
		sizeHistory(pts),
	}
	for i := len(drills) - 1; i >= 0; i-- {
		d := drills[i]
		row := histRow{ID: d.ID, When: timestamp(d.StartedAt), Pass: d.Pass(), Current: d.ID == r.ID,
			RTO: Duration(d.RTO.Seconds), RPO: Duration(d.RPO.Seconds), Size: Bytes(d.Archive.Size), Result: "✗ fail"}
		if row.Pass {
			row.Result = "✓ pass"
			h.Passed++
		}
		if !d.Recovered() {
			row.RTO = "not reached"
		}
		if !d.RPOMeasured() {
			row.RPO = "unknown"
		}
		h.Rows = append(h.Rows, row)
	}
	return h
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func timestampMinutes(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func shortHash(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}
