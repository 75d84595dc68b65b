package vault

import (
	"fmt"
	"time"
)

// Keep is the grandfather-father-son retention: the newest archive of each
// of the Daily most recent days that have one, of each of the Weekly most
// recent ISO weeks, and of each of the Monthly most recent months (UTC).
// The newest archive is always kept.
type Keep struct {
	Daily   int `json:"daily"`
	Weekly  int `json:"weekly"`
	Monthly int `json:"monthly"`
}

// Reasons returns, for archives captured at times (newest first), why
// each is kept: "newest", "daily 2026-01-05", "weekly 2026-W01",
// "monthly 2026-01". An archive with no reason is not kept.
func Reasons(times []time.Time, keep Keep) [][]string {
	out := make([][]string, len(times))
	if len(times) == 0 {
		return out
	}
	out[0] = append(out[0], "newest")
	for _, p := range []struct {
		name  string
		n     int
		label func(time.Time) string
	}{
		{"daily", keep.Daily, func(t time.Time) string { return t.Format("2006-01-02") }},
		{"weekly", keep.Weekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%04d-W%02d", y, w) }},
		{"monthly", keep.Monthly, func(t time.Time) string { return t.Format("2006-01") }},
	} {
		seen := map[string]bool{}
		for i, t := range times {
			if len(seen) >= p.n {
				break
			}
			l := p.label(t.UTC())
			if seen[l] {
				continue
			}
			seen[l] = true
			out[i] = append(out[i], p.name+" "+l)
		}
	}
	return out
}
