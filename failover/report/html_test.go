package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

func render(t *testing.T, r *Report, hist []*Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := HTML(&b, r, hist); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// element is a parsed element of the page.
type element struct {
	name     string
	attrs    map[string]string
	parent   *element
	children []*element
	text     strings.Builder
}

// parsePage checks that the page is well-formed (every element closed, in
// order: the page is written as XHTML-compatible HTML so that the
// standard library's XML decoder can check its structure) and returns
// its element tree.
func parsePage(t *testing.T, page string) *element {
	t.Helper()
	if !strings.HasPrefix(page, "<!DOCTYPE html>\n") {
		t.Fatalf("page does not start with <!DOCTYPE html>: %.40q", page)
	}
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict = true
	d.Entity = xml.HTMLEntity
	root := &element{name: "#document"}
	cur := root
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			line, col := d.InputPos()
			lines := strings.Split(page, "\n")
			ctx := ""
			if line-1 < len(lines) {
				ctx = lines[line-1]
			}
			t.Fatalf("page is not well-formed at %d:%d: %v\n%s", line, col, err, ctx)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := &element{name: tok.Name.Local, attrs: map[string]string{}, parent: cur}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			cur.children = append(cur.children, e)
			cur = e
		case xml.EndElement:
			cur = cur.parent
		case xml.CharData:
			for e := cur; e != nil; e = e.parent {
				e.text.Write(tok)
			}
		}
	}
	if cur != root {
		t.Fatalf("unclosed element <%s>", cur.name)
	}
	return root
}

func (e *element) all(name string) []*element {
	var out []*element
	var walk func(*element)
	walk = func(x *element) {
		for _, c := range x.children {
			if c.name == name {
				out = append(out, c)
			}
			walk(c)
		}
	}
	walk(e)
	return out
}

func (e *element) child(name string) *element {
	for _, c := range e.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// checkStructure asserts what makes the page accessible and printable.
func checkStructure(t *testing.T, page string) *element {
	t.Helper()
	root := parsePage(t, page)
	htmls := root.all("html")
	if len(htmls) != 1 || htmls[0].attrs["lang"] != "en" {
		t.Fatalf("want one <html lang=\"en\">, got %d", len(htmls))
	}
	for _, name := range []string{"head", "body", "main", "title", "h1", "style"} {
		if n := len(root.all(name)); n != 1 && !(name == "title" && n > 1) {
			t.Errorf("%d <%s> elements, want 1", n, name)
		}
	}
	if head := htmls[0].child("head"); head == nil || head.child("title") == nil || strings.TrimSpace(head.child("title").text.String()) == "" {
		t.Error("the page has no <title> in <head>")
	}
	if len(root.all("h2")) < 6 {
		t.Errorf("only %d <h2> headings: sections need headings", len(root.all("h2")))
	}
	svgs := root.all("svg")
	if len(svgs) < 4 {
		t.Errorf("%d charts, want the timeline and 3 history charts", len(svgs))
	}
	for _, s := range svgs {
		if s.attrs["role"] != "img" || s.attrs["viewBox"] == "" {
			t.Errorf("svg %q: want role=img and a viewBox", s.attrs["aria-labelledby"])
		}
		title, desc := s.child("title"), s.child("desc")
		if title == nil || desc == nil || strings.TrimSpace(title.text.String()) == "" || strings.TrimSpace(desc.text.String()) == "" {
			t.Errorf("svg %q has no <title> and <desc>", s.attrs["aria-labelledby"])
		}
	}
	for _, tbl := range root.all("table") {
		ths := tbl.all("th")
		scoped := 0
		for _, th := range ths {
			if th.attrs["scope"] == "col" {
				scoped++
			}
		}
		if tbl.child("thead") == nil || scoped == 0 {
			t.Errorf("a table has no header row with <th scope=\"col\">")
		}
	}
	if !strings.Contains(page, "@media print") || !strings.Contains(page, `name="viewport"`) {
		t.Error("the page is not printable or not readable on a phone")
	}
	if bad := regexp.MustCompile(`NaN|[+-]Inf\b`).FindString(page); bad != "" {
		t.Errorf("the charts hold %q", bad)
	}
	return root
}

// externalRefs finds anything that would make a browser fetch something.
var externalRefs = regexp.MustCompile(`(?i)https?://|<script|<link|<iframe|<img|<object|<embed|\bsrc=|\bhref=|@import|url\(|//[a-z0-9.-]+\.[a-z]{2,}/`)

// checkSelfContained asserts that the page refers to nothing outside
// itself, once the strings the report carries (which may be URLs, such as
// the app's health URL) are taken out.
func checkSelfContained(t *testing.T, page string, carried ...string) {
	t.Helper()
	stripped := html.UnescapeString(page)
	for _, c := range carried {
		if c != "" {
			stripped = strings.ReplaceAll(stripped, c, "")
		}
	}
	if m := externalRefs.FindAllString(stripped, -1); len(m) > 0 {
		t.Errorf("the page refers to external resources: %q", m)
	}
}

func TestHTMLPassingAndFailing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pass    bool
		history int
	}{
		{"pass, first drill", true, 1},
		{"pass, 30 drills", true, 30},
		{"fail, first drill", false, 1},
		{"fail, 30 drills", false, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hist := series(tc.history, 4, 11)
			r := sample(tc.history-1, tc.pass)
			hist[len(hist)-1] = r
			page := render(t, r, hist)
			root := checkStructure(t, page)
			checkSelfContained(t, page, r.AppHealth.URL)
			text := html.UnescapeString(page)

			title := root.all("title")[0].text.String()
			outcome := map[bool]string{true: "PASS", false: "FAIL"}[tc.pass]
			if !strings.HasPrefix(title, outcome) || !strings.Contains(title, "shop") {
				t.Errorf("<title> = %q, want it to start with %s and name the app", title, outcome)
			}
			h1 := root.all("h1")[0].text.String()
			if !strings.Contains(h1, map[bool]string{true: "passed", false: "failed"}[tc.pass]) {
				t.Errorf("<h1> = %q", h1)
			}
			if !strings.Contains(page, `class="badge"`) || !strings.Contains(text, "✓ PASS") == tc.pass {
				t.Errorf("no %s badge", outcome)
			}
			for _, p := range r.Phases {
				if !strings.Contains(text, p.Name) {
					t.Errorf("phase %s missing", p.Name)
				}
			}
			for _, c := range r.Checks {
				if !strings.Contains(text, c.Name) || !strings.Contains(text, c.Detail) {
					t.Errorf("check %q missing", c.Name)
				}
			}
			for _, f := range r.Failures {
				if !strings.Contains(text, f) {
					t.Errorf("failure reason missing: %q", f)
				}
			}
			for _, tb := range r.Tables {
				if !strings.Contains(text, tb.Name) || !strings.Contains(text, thousands(tb.Rows)) {
					t.Errorf("table %s (%d rows) missing", tb.Name, tb.Rows)
				}
			}
			for _, c := range r.Candidates {
				if !strings.Contains(text, c.Key) || !strings.Contains(text, c.SkipReason) {
					t.Errorf("candidate %s missing", c.Key)
				}
			}
			for _, n := range r.Notifications {
				if !strings.Contains(text, n.Channel) || !strings.Contains(text, n.Error) {
					t.Errorf("notification %s missing", n.Channel)
				}
			}
			for _, h := range hist {
				if !strings.Contains(text, h.ID) {
					t.Errorf("drill %s missing from the history", h.ID)
				}
			}
			for _, want := range []string{"Recovery time (RTO)", "Data age (RPO)", "target 10 min", "target 26 h",
				r.Archive.Key, r.Archive.SHA256, "captured 2026-", "scheduled by systemd timer", r.AppHealth.Image} {
				if !strings.Contains(text, want) {
					t.Errorf("page does not say %q", want)
				}
			}
			if tc.pass {
				if !strings.Contains(text, "RTO "+Duration(r.RTO.Seconds)) || strings.Contains(text, "Why it failed") {
					t.Error("a passing page must show its RTO and no failures section")
				}
			} else {
				// Failures come first: before the timeline.
				if i, j := strings.Index(text, "Why it failed"), strings.Index(text, "Timeline"); i < 0 || i > j {
					t.Error("the failures are not shown before the evidence")
				}
				if !strings.Contains(text, "not reached") || !strings.Contains(text, "✗ failed after") {
					t.Error("the timeline does not show the failed phase and the phases not reached")
				}
			}
			if tc.history == 1 && !strings.Contains(text, "the first drill") {
				t.Error("a first drill's history does not say so")
			}
		})
	}
}

func TestHTMLFailedPhaseIsRed(t *testing.T) {
	r := sample(0, false)
	page := render(t, r, nil)
	// The restore's bar has the failure class; no other bar does.
	bars := regexp.MustCompile(`<rect [^>]*class="bad"><title>([^<]*)</title>`).FindAllStringSubmatch(page, -1)
	if len(bars) != 1 || !strings.HasPrefix(bars[0][1], "restore:") || !strings.Contains(bars[0][1], "failed") {
		t.Errorf("failed bars: %q, want the restore only", bars)
	}
}

func TestHTMLEscapesEverything(t *testing.T) {
	const x = `<script>alert(1)</script>`
	const attr = `"><img src=x onerror=alert(2)>`
	r := sample(1, false)
	r.App = "shop" + x
	r.Host = attr
	r.TriggeredBy = x
	r.ToolVersion = attr
	r.Checks = append(r.Checks, Check{Name: x, Kind: attr, Detail: x})
	r.Tables = append(r.Tables, Table{Schema: x, Name: attr, Rows: 1})
	r.Phases[0].Name = x // a strange phase name lands in the SVG too
	r.Phases[4].Error = attr
	r.Candidates = append(r.Candidates, Candidate{Key: x, SkipReason: attr})
	r.Notifications = append(r.Notifications, Notification{Channel: x, Error: attr})
	r.Restore.Warnings = append(r.Restore.Warnings, x)
	r.AppHealth.Image, r.AppHealth.URL, r.AppHealth.Detail = x, "javascript:alert(3)", attr
	r.Archive.Key, r.Archive.Source = x, attr
	r.Finalize()
	hist := series(3)
	hist[0].ID = x // even a history drill's ID
	page := render(t, r, hist)

	for _, bad := range []string{"<script", "<img"} {
		if strings.Contains(page, bad) {
			i := strings.Index(page, bad)
			t.Errorf("unescaped %q in the page: …%s…", bad, page[max(0, i-80):min(len(page), i+80)])
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the check name does not appear escaped")
	}
	root := checkStructure(t, page)
	var walk func(*element)
	walk = func(e *element) {
		if e.name == "script" || e.name == "img" {
			t.Errorf("a <%s> element made it into the page", e.name)
		}
		for a := range e.attrs {
			if strings.HasPrefix(strings.ToLower(a), "on") {
				t.Errorf("<%s> has an event handler attribute %s", e.name, a)
			}
		}
		for _, c := range e.children {
			walk(c)
		}
	}
	walk(root)
	checkSelfContained(t, page, x, attr, "javascript:alert(3)")
}

func TestHTMLNoExternalResources(t *testing.T) {
	r := sample(5, true)
	r.AppHealth.URL = "" // nothing the report carries is a URL
	r.Finalize()
	page := render(t, r, series(6))
	checkSelfContained(t, page)
	if strings.Contains(page, "http") {
		t.Error(`the page contains "http" though the report carries no URL`)
	}
	// The test itself can fail: a URL the report carries is found when it
	// is not declared as carried.
	r.AppHealth.URL = "https://example.com/healthz"
	page = render(t, r, nil)
	if !externalRefs.MatchString(html.UnescapeString(page)) {
		t.Error("externalRefs does not find a URL in the page")
	}
}

func TestHTMLEdgeCases(t *testing.T) {
	t.Run("empty report", func(t *testing.T) {
		r := New()
		r.ID = "x"
		page := render(t, r, nil)
		checkStructure(t, page)
		checkSelfContained(t, page)
		if !strings.Contains(page, "FAIL") {
			t.Error("a report never finalized must not look like a pass")
		}
	})
	t.Run("finalized empty report", func(t *testing.T) {
		r := New()
		r.ID = "x"
		r.Finalize()
		page := render(t, r, []*Report{nil, r})
		checkStructure(t, page)
		if !strings.Contains(html.UnescapeString(page), "Phase locate never ran") {
			t.Error("the failures of an empty drill are not shown")
		}
	})
	t.Run("zero-length phases", func(t *testing.T) {
		r := sample(0, true)
		for i := range r.Phases {
			r.Phases[i].Seconds, r.Phases[i].StartedOffsetSeconds = 0, 0
		}
		r.Finalize()
		page := render(t, r, []*Report{r})
		checkStructure(t, page)
		widths := regexp.MustCompile(`<rect x="[^"]*" y="[^"]*" width="([^"]*)"`).FindAllStringSubmatch(page, -1)
		for _, w := range widths {
			if w[1] == "0" || strings.HasPrefix(w[1], "-") {
				t.Errorf("a bar of width %s", w[1])
			}
		}
	})
	t.Run("failed drill with missing phases in history", func(t *testing.T) {
		hist := series(5)
		hist[2].Phases = hist[2].Phases[:1]
		hist[2].Phases[0].OK = false
		hist[2].Archive = Archive{}
		hist[2].Finalize()
		page := render(t, hist[4], hist)
		checkStructure(t, page)
		if !strings.Contains(page, "partial") {
			t.Error("a failed drill's RTO bar is not marked partial")
		}
	})
	t.Run("offline and kept", func(t *testing.T) {
		r := sample(0, true)
		r.Archive.Source = SourceCache
		r.Phases = append(r.Phases[:1], r.Phases[2:9]...) // no download, no teardown
		r.Kept = true
		r.Finalize()
		text := html.UnescapeString(render(t, r, nil))
		for _, want := range []string{"skipped: the cached archive was used", "skipped: containers kept (--keep)", "from the local cache", "kept running (--keep)"} {
			if !strings.Contains(text, want) {
				t.Errorf("page does not say %q", want)
			}
		}
	})
}

func TestHTMLHistoryWindow(t *testing.T) {
	hist := series(45, 9, 20)
	r := hist[39]
	page := render(t, r, hist) // newer drills than r exist
	text := html.UnescapeString(page)
	for i, h := range hist {
		in := strings.Contains(text, h.ID)
		if want := i >= 10 && i <= 39; in != want {
			t.Errorf("drill %d (%s) in the page: %v, want %v (the %d drills up to this one)", i, h.ID, in, want, MaxHistory)
		}
	}
	if !strings.Contains(text, "(last 30 drills)") {
		t.Error("the history does not say how many drills it shows")
	}
	// Any order in, the same page out; r need not be in the list.
	shuffled := append([]*Report{}, hist[:39]...)
	for i, j := 0, len(shuffled)-1; i < j; i, j = i+1, j-1 {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	}
	if again := render(t, r, shuffled); again != page {
		t.Error("the page depends on the order of the history")
	}
	// The history markers: one ✓ or ✗ per drill in each of the 3 charts.
	marks := strings.Count(page, `class="passmark"`) + strings.Count(page, `class="failmark"`)
	if marks != 3*MaxHistory {
		t.Errorf("%d pass/fail markers, want %d", marks, 3*MaxHistory)
	}
	if n := strings.Count(page, `class="failmark"`); n != 3 {
		t.Errorf("%d fail markers, want 3: drill 20 in each chart (drill 9 is out of the window)", n)
	}
}

func TestHTMLLargeReport(t *testing.T) {
	r := sample(0, true)
	for i := 0; i < 2000; i++ {
		r.Tables = append(r.Tables, Table{Schema: "public", Name: fmt.Sprintf("t%04d", i), Rows: int64(i)})
		r.Checks = append(r.Checks, Check{Name: fmt.Sprintf("public.t%04d", i), Kind: KindTable, OK: true})
	}
	r.Finalize()
	start := time.Now()
	page := render(t, r, series(30))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("rendering took %v", d)
	}
	checkStructure(t, page)
}
