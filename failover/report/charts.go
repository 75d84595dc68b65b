package report

import (
	"fmt"
	"math"
	"strings"
)

// The charts are computed here as plain shapes (rects, lines, texts, each
// with a title for a tooltip and screen readers) and drawn by the page
// template as inline SVG: no script, no external resource, and
// html/template escapes every string that ends up in them.

type chart struct {
	ID     string
	Title  string
	Desc   string
	W, H   float64
	Rects  []shape
	Lines  []shape
	Texts  []shape
	Legend []legendItem
	Note   string // said under the chart (e.g. a target off the scale)
}

// shape is a rect (X, Y, W, H), a line (X, Y to X2, Y2) or a text (X, Y,
// Text, Anchor).
type shape struct {
	X, Y, W, H, X2, Y2 float64
	RX                 float64 // rounded corners: a dot is a rounded square
	Class              string
	Title              string
	Text               string
	Anchor             string // start, middle, end
	Rotate             float64
}

type legendItem struct {
	Class string
	Label string
}

// f formats a coordinate.
func f(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".")
}

// phaseClass is the CSS class of a phase's color: its position in
// PhaseOrder, so the timeline and the history agree.
func phaseClass(name string) string {
	for i, p := range PhaseOrder {
		if p == name {
			return fmt.Sprintf("ph%d", i)
		}
	}
	return "phx"
}

// timeUnit picks the unit of a time axis whose largest value is max seconds.
type unit struct {
	Div   float64
	Label string // appended to tick labels
	Name  string // for the axis title
}

func timeUnit(max float64) unit {
	switch {
	case max <= 120:
		return unit{1, " s", "seconds"}
	case max <= 2*3600:
		return unit{60, " min", "minutes"}
	case max <= 4*86400:
		return unit{3600, " h", "hours"}
	default:
		return unit{86400, " d", "days"}
	}
}

func byteUnit(max float64) unit {
	switch {
	case max < 1<<10:
		return unit{1, " B", "bytes"}
	case max < 1<<20:
		return unit{1 << 10, " KiB", "KiB"}
	case max < 1<<30:
		return unit{1 << 20, " MiB", "MiB"}
	case max < 1<<40:
		return unit{1 << 30, " GiB", "GiB"}
	default:
		return unit{1 << 40, " TiB", "TiB"}
	}
}

// niceTicks returns about n round tick values from 0 covering max (in the
// unit's numbers), and the axis top.
func niceTicks(max float64, n int) ([]float64, float64) {
	if max <= 0 || math.IsNaN(max) || math.IsInf(max, 0) {
		max = 1
	}
	raw := max / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		step = m * mag
		if raw <= step {
			break
		}
	}
	var ticks []float64
	top := math.Ceil(max/step-1e-9) * step
	for v := 0.0; v <= top+step/2; v += step {
		ticks = append(ticks, v)
	}
	return ticks, top
}

func tickLabel(v float64, u unit) string {
	s := strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
	if v == 0 {
		s = "0"
	}
	return s + u.Label
}

// ganttRow is one row of the timeline: a phase that ran, or one that was
// not reached.
type ganttRow struct {
	Name   string
	Offset float64
	Secs   float64
	Ran    bool
	OK     bool
	Note   string // for rows that did not run
}

// timelineRows are the phases that ran, in the order they ran, with the
// phases the drill did not reach (a failed drill) or skipped (teardown
// with --keep, download offline) in their usual places.
func timelineRows(r *Report) []ganttRow {
	var rows []ganttRow
	for _, p := range r.Phases {
		rows = append(rows, ganttRow{Name: p.Name, Offset: nonNeg(p.StartedOffsetSeconds), Secs: nonNeg(p.Seconds), Ran: true, OK: p.OK})
	}
	order := map[string]int{}
	for i, n := range PhaseOrder {
		order[n] = i
	}
	// last is the furthest phase (teardown aside) the drill recorded.
	last := -1
	failed := r.Result == ResultFail
	for _, p := range r.Phases {
		if i, ok := order[p.Name]; ok && p.Name != PhaseTeardown && i > last {
			last = i
		}
		failed = failed || !p.OK
	}
	required := map[string]bool{}
	for _, n := range r.requiredPhaseNames() {
		required[n] = true
	}
	for i, n := range PhaseOrder {
		if _, ok := r.Phase(n); ok {
			continue
		}
		app := n == PhaseRelease || n == PhaseAppBoot || n == PhaseHealth
		var note string
		switch {
		case n == PhaseTeardown && r.Kept:
			note = "skipped: containers kept (--keep)"
		case n == PhaseTeardown:
			note = "not recorded"
		case n == PhaseDownload && r.Archive.Source == SourceCache:
			note = "skipped: the cached archive was used"
		case app && r.AppHealth.Image == "":
			continue // a database-only drill has no app phases
		case i < last && !required[n]:
			continue // optional and passed over (no release command)
		case i < last:
			note = "not recorded"
		case failed:
			note = "not reached"
		default:
			note = "not recorded"
		}
		row := ganttRow{Name: n, Note: note}
		// Before the first recorded phase that comes after it.
		at := len(rows)
		for j, rr := range rows {
			if k, ok := order[rr.Name]; ok && k > i {
				at = j
				break
			}
		}
		rows = append(rows[:at], append([]ganttRow{row}, rows[at:]...)...)
	}
	return rows
}

// timeline draws the phases as a Gantt chart: one bar per phase, its
// length proportional to its duration, placed at its start offset.
func timeline(r *Report) chart {
	rows := timelineRows(r)
	const (
		w      = 960.0
		left   = 150.0 // phase names
		right  = 96.0  // room for the last duration label
		top    = 34.0
		rowH   = 30.0
		barH   = 18.0
		bottom = 30.0 // RTO and target labels
	)
	plotW := w - left - right
	end := r.phasesEnd()
	domain := end
	target := r.RTO.TargetSeconds
	showTarget := target > 0 && target <= end*2
	if showTarget {
		domain = math.Max(domain, target)
	}
	u := timeUnit(domain)
	ticks, topV := niceTicks(domain/u.Div, 6)
	scale := plotW / (topV * u.Div)
	h := top + rowH*float64(len(rows)) + bottom
	c := chart{
		ID: "timeline", W: w, H: h,
		Title: "Drill timeline",
		Desc: fmt.Sprintf("One bar per phase, placed at its start and as long as it took, in %s from the drill's start. "+
			"RTO (start to healthy) %s.", u.Name, Duration(r.RTO.Seconds)),
	}
	for _, t := range ticks {
		x := left + t*u.Div*scale
		c.Lines = append(c.Lines, shape{X: x, Y: top - 6, X2: x, Y2: h - bottom, Class: "grid"})
		c.Texts = append(c.Texts, shape{X: x, Y: top - 12, Text: tickLabel(t, u), Anchor: "middle", Class: "tick"})
	}
	for i, row := range rows {
		y := top + rowH*float64(i)
		c.Texts = append(c.Texts, shape{X: left - 12, Y: y + rowH/2 + 4, Text: row.Name, Anchor: "end", Class: "label"})
		if !row.Ran {
			c.Texts = append(c.Texts, shape{X: left + 6, Y: y + rowH/2 + 4, Text: row.Note, Class: "note"})
			continue
		}
		x := left + row.Offset*scale
		bw := math.Max(row.Secs*scale, 2) // a zero-length phase is still seen
		class := phaseClass(row.Name)
		status := "ok"
		if !row.OK {
			class, status = "bad", "failed"
		}
		title := fmt.Sprintf("%s: %s, from %s to %s after the start (%s)", row.Name, Duration(row.Secs),
			Duration(row.Offset), Duration(row.Offset+row.Secs), status)
		c.Rects = append(c.Rects, shape{X: x, Y: y + (rowH-barH)/2, W: bw, H: barH, Class: class, Title: title})
		label, lclass := Duration(row.Secs), "value"
		if !row.OK {
			label, lclass = "✗ failed after "+label, "value badtext"
		}
		lx, anchor := x+bw+6, "start"
		if lx+textWidth(label) > w && bw > textWidth(label)+12 {
			// No room on the right: inside the bar's end.
			lx, anchor, lclass = x+bw-6, "end", "value inbar"
		}
		c.Texts = append(c.Texts, shape{X: lx, Y: y + rowH/2 + 4, Text: label, Anchor: anchor, Class: lclass})
	}
	// RTO: where the drill reached a healthy service, and the target;
	// their labels point away from each other.
	rtoLeft := !showTarget || r.RTO.Seconds <= target
	base := h - bottom + 16
	if r.Recovered() {
		var rtoEnd float64
		for _, p := range r.Phases {
			if p.Name != PhaseTeardown {
				rtoEnd = math.Max(rtoEnd, nonNeg(p.StartedOffsetSeconds)+nonNeg(p.Seconds))
			}
		}
		x := left + rtoEnd*scale
		c.Lines = append(c.Lines, shape{X: x, Y: top - 4, X2: x, Y2: h - bottom + 4, Class: "rto", Title: "RTO " + Duration(r.RTO.Seconds)})
		t := shape{X: x + 4, Y: base, Text: "RTO " + Duration(r.RTO.Seconds), Class: "rtotext"}
		if rtoLeft {
			t.X, t.Anchor = x-4, "end"
		}
		c.Texts = append(c.Texts, t)
	}
	if showTarget {
		x := left + target*scale
		c.Lines = append(c.Lines, shape{X: x, Y: top - 4, X2: x, Y2: h - bottom + 4, Class: "target", Title: "RTO target " + Duration(target)})
		t := shape{X: x - 4, Y: base, Text: "target " + Duration(target), Anchor: "end", Class: "targettext"}
		if rtoLeft {
			t.X, t.Anchor = x+4, "start"
		}
		c.Texts = append(c.Texts, t)
	} else if target > 0 {
		c.Note = fmt.Sprintf("The RTO target (%s) is beyond the right edge of the chart.", Duration(target))
	}
	return c
}

// textWidth estimates the width of a label in the charts' 12.5px font.
func textWidth(s string) float64 { return float64(len([]rune(s))) * 7.2 }

// histPoint is one drill in the history charts.
type histPoint struct {
	r       *Report
	label   string
	current bool
}

func historyPoints(rs []*Report, current string) []histPoint {
	pts := make([]histPoint, 0, len(rs))
	for _, r := range rs {
		label := r.StartedAt.UTC().Format("01-02")
		if r.StartedAt.IsZero() {
			label = r.ID
			if len(label) > 8 {
				label = label[:8]
			}
		}
		pts = append(pts, histPoint{r: r, label: label, current: r.ID == current})
	}
	return pts
}

// frame holds the geometry shared by the history charts.
type frame struct {
	w, h, left, right, top, bottom float64
	n                              int
}

func (fr frame) plotW() float64 { return fr.w - fr.left - fr.right }
func (fr frame) plotH() float64 { return fr.h - fr.top - fr.bottom }
func (fr frame) slot() float64  { return fr.plotW() / float64(fr.n) }
func (fr frame) cx(i int) float64 {
	return fr.left + fr.slot()*(float64(i)+0.5)
}
func (fr frame) barW() float64 { return math.Min(fr.slot()*0.62, 44) }

// axes draws the y grid and labels, the x labels (thinned when there are
// many drills) and the pass/fail markers above each drill.
func (fr frame) axes(c *chart, pts []histPoint, u unit, ticks []float64, topV float64, yTitle string) {
	for _, t := range ticks {
		y := fr.top + fr.plotH()*(1-t/topV)
		c.Lines = append(c.Lines, shape{X: fr.left, Y: y, X2: fr.w - fr.right, Y2: y, Class: "grid"})
		c.Texts = append(c.Texts, shape{X: fr.left - 8, Y: y + 4, Text: tickLabel(t, u), Anchor: "end", Class: "tick"})
	}
	c.Lines = append(c.Lines, shape{X: fr.left, Y: fr.top + fr.plotH(), X2: fr.w - fr.right, Y2: fr.top + fr.plotH(), Class: "axis"})
	c.Texts = append(c.Texts, shape{X: 14, Y: fr.top + fr.plotH()/2, Text: yTitle, Anchor: "middle", Class: "axistitle", Rotate: -90})
	every := int(math.Ceil(float64(len(pts)) / 12))
	for i, p := range pts {
		x := fr.cx(i)
		// Every n-th label, the newest and this drill's, but none crowding
		// the newest.
		show := i == len(pts)-1 || p.current || (i%every == 0 && len(pts)-1-i >= every)
		if show {
			cls := "tick"
			if p.current {
				cls = "tick current"
			}
			c.Texts = append(c.Texts, shape{X: x, Y: fr.h - fr.bottom + 16, Text: p.label, Anchor: "middle", Class: cls})
		}
		mark, cls, word := "✓", "passmark", "passed"
		if !p.r.Pass() {
			mark, cls, word = "✗", "failmark", "failed"
		}
		c.Texts = append(c.Texts, shape{X: x, Y: fr.top - 8, Text: mark, Anchor: "middle", Class: cls,
			Title: fmt.Sprintf("%s: %s", p.r.ID, word)})
	}
	c.Texts = append(c.Texts, shape{X: fr.left + fr.plotW()/2, Y: fr.h - 6, Text: "drill date (UTC, month-day), oldest to newest", Anchor: "middle", Class: "axistitle"})
}

// targetLabel names a target line in the right margin.
func (fr frame) targetLabel(c *chart, y, target float64) {
	x := fr.w - fr.right + 6
	c.Texts = append(c.Texts,
		shape{X: x, Y: y - 3, Text: "target", Class: "targettext"},
		shape{X: x, Y: y + 11, Text: Duration(target), Class: "targettext"})
}

func newFrame(n int) frame {
	return frame{w: 960, h: 250, left: 76, right: 64, top: 30, bottom: 44, n: n}
}

// rtoHistory stacks each drill's RTO by phase, with the target as a line.
func rtoHistory(pts []histPoint, target float64) chart {
	fr := newFrame(len(pts))
	var max float64
	for _, p := range pts {
		max = math.Max(max, p.r.RTO.Seconds)
	}
	domain := max
	showTarget := target > 0 && target <= math.Max(max, 1)*5
	if showTarget {
		domain = math.Max(domain, target)
	}
	u := timeUnit(domain)
	ticks, topV := niceTicks(domain/u.Div, 4)
	c := chart{ID: "hist-rto", W: fr.w, H: fr.h,
		Title: "RTO per drill, by phase",
		Desc:  fmt.Sprintf("Stacked bars: each drill's time from start to healthy, split into its phases, in %s, oldest drill first; a failed drill's bar is faded and shows the time until it stopped. ✓ passed, ✗ failed.", u.Name)}
	fr.axes(&c, pts, u, ticks, topV, "RTO ("+u.Name+")")
	per := fr.plotH() / (topV * u.Div)
	used := map[string]bool{}
	for i, p := range pts {
		y := fr.top + fr.plotH()
		x := fr.cx(i) - fr.barW()/2
		partial, until := "", ""
		if !p.r.Recovered() {
			partial, until = " partial", " (the drill failed: time until it stopped)"
		}
		for _, ps := range p.r.RTOByPhase() {
			hh := ps.Seconds * per
			y -= hh
			used[ps.Name] = true
			c.Rects = append(c.Rects, shape{X: x, Y: y, W: fr.barW(), H: hh, Class: phaseClass(ps.Name) + partial,
				Title: fmt.Sprintf("%s: %s %s%s", p.r.ID, ps.Name, Duration(ps.Seconds), until)})
		}
		if p.current {
			c.Rects = append(c.Rects, shape{X: x - 2, Y: y - 2, W: fr.barW() + 4, H: fr.top + fr.plotH() - y + 2, Class: "current",
				Title: "this drill: RTO " + Duration(p.r.RTO.Seconds)})
		}
	}
	for _, name := range PhaseOrder {
		if used[name] {
			c.Legend = append(c.Legend, legendItem{Class: phaseClass(name), Label: name})
		}
	}
	if showTarget {
		y := fr.top + fr.plotH() - target*per
		c.Lines = append(c.Lines, shape{X: fr.left, Y: y, X2: fr.w - fr.right, Y2: y, Class: "target", Title: "RTO target " + Duration(target)})
		fr.targetLabel(&c, y, target)
	} else if target > 0 {
		c.Note = fmt.Sprintf("The RTO target (%s) is far above every drill's RTO and is not drawn.", Duration(target))
	}
	return c
}

// rpoHistory plots each drill's RPO, with the target as a line.
func rpoHistory(pts []histPoint, target float64) chart {
	fr := newFrame(len(pts))
	var max float64
	for _, p := range pts {
		max = math.Max(max, p.r.RPO.Seconds)
	}
	domain := max
	showTarget := target > 0 && target <= math.Max(max, 1)*5
	if showTarget {
		domain = math.Max(domain, target)
	}
	u := timeUnit(domain)
	ticks, topV := niceTicks(domain/u.Div, 4)
	c := chart{ID: "hist-rpo", W: fr.w, H: fr.h,
		Title: "RPO per drill",
		Desc:  fmt.Sprintf("The age of the restored data for each drill, in %s, oldest drill first; the dashed line is the target. ✓ passed, ✗ failed.", u.Name)}
	fr.axes(&c, pts, u, ticks, topV, "RPO ("+u.Name+")")
	per := fr.plotH() / (topV * u.Div)
	base := fr.top + fr.plotH()
	var prev *shape
	for i, p := range pts {
		x := fr.cx(i)
		if !p.r.RPOMeasured() {
			c.Texts = append(c.Texts, shape{X: x, Y: base - 6, Text: "n/a", Anchor: "middle", Class: "note",
				Title: p.r.ID + ": RPO not measured"})
			prev = nil
			continue
		}
		y := base - p.r.RPO.Seconds*per
		if prev != nil {
			c.Lines = append(c.Lines, shape{X: prev.X, Y: prev.Y, X2: x, Y2: y, Class: "trend"})
		}
		cls := "dot"
		if !p.r.RPO.Met {
			cls = "dot baddot"
		}
		if p.current {
			cls += " currentdot"
		}
		pt := shape{X: x - 5, Y: y - 5, W: 10, H: 10, RX: 5, Class: cls,
			Title: fmt.Sprintf("%s: RPO %s (%s)", p.r.ID, Duration(p.r.RPO.Seconds), metWord(p.r.RPO))}
		c.Rects = append(c.Rects, pt)
		prev = &shape{X: x, Y: y}
	}
	if showTarget {
		y := base - target*per
		c.Lines = append(c.Lines, shape{X: fr.left, Y: y, X2: fr.w - fr.right, Y2: y, Class: "target", Title: "RPO target " + Duration(target)})
		fr.targetLabel(&c, y, target)
	} else if target > 0 {
		c.Note = fmt.Sprintf("The RPO target (%s) is far above every drill's RPO and is not drawn.", Duration(target))
	}
	return c
}

// sizeHistory shows each drill's archive size.
func sizeHistory(pts []histPoint) chart {
	fr := newFrame(len(pts))
	var max float64
	for _, p := range pts {
		max = math.Max(max, float64(p.r.Archive.Size))
	}
	u := byteUnit(max)
	ticks, topV := niceTicks(math.Max(max, 1)/u.Div, 4)
	c := chart{ID: "hist-size", W: fr.w, H: fr.h,
		Title: "Archive size per drill",
		Desc:  fmt.Sprintf("The size of the archive each drill restored, in %s, oldest drill first. A sudden drop can mean a broken backup. ✓ passed, ✗ failed.", u.Name)}
	fr.axes(&c, pts, u, ticks, topV, "size ("+u.Name+")")
	per := fr.plotH() / (topV * u.Div)
	base := fr.top + fr.plotH()
	for i, p := range pts {
		hh := float64(p.r.Archive.Size) * per
		x := fr.cx(i) - fr.barW()/2
		cls := "sizebar"
		if p.current {
			cls = "sizebar currentbar"
		}
		c.Rects = append(c.Rects, shape{X: x, Y: base - hh, W: fr.barW(), H: hh, Class: cls,
			Title: fmt.Sprintf("%s: %s", p.r.ID, Bytes(p.r.Archive.Size))})
	}
	return c
}

func metWord(t Target) string {
	switch {
	case t.Met && t.TargetSeconds > 0:
		return "within the target of " + Duration(t.TargetSeconds)
	case t.Met:
		return "no target set"
	case t.TargetSeconds > 0 && t.Seconds > t.TargetSeconds:
		return "over the target of " + Duration(t.TargetSeconds)
	default:
		return "not measured"
	}
}
