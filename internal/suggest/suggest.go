// Package suggest finds the names a mistyped one was probably meant to be:
// one "did you mean" for commands, flags and config keys alike.
package suggest

import (
	"sort"
	"strings"
)

// Closest returns the candidates within a small edit distance of word
// (case-insensitive; at most 1 edit for short words, 2 from 5 letters, or
// a third of the word's length when that is more), or of which word is a
// prefix of at least 3 letters, nearest first. Ties keep the candidates'
// order. It returns nil when nothing is close.
func Closest(word string, candidates []string) []string {
	w := strings.ToLower(word)
	limit := 1
	if len(w) >= 5 {
		limit = 2
	}
	if len(w)/3 > limit {
		limit = len(w) / 3
	}
	type scored struct {
		name string
		d    int
	}
	var found []scored
	seen := map[string]bool{}
	for _, c := range candidates {
		if seen[c] || c == "" {
			continue
		}
		seen[c] = true
		lc := strings.ToLower(c)
		d := Distance(w, lc)
		switch {
		case d <= limit:
		case len(w) >= 3 && strings.HasPrefix(lc, w):
			d = limit + 1
		default:
			continue
		}
		found = append(found, scored{c, d})
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].d < found[j].d })
	var out []string
	for _, f := range found {
		out = append(out, f.name)
	}
	return out
}

// Phrase is " (did you mean a?)" or " (did you mean a or b?)" for the
// closest candidates (at most three), or "" when none is close.
func Phrase(word string, candidates []string, format func(string) string) string {
	c := Closest(word, candidates)
	if len(c) == 0 {
		return ""
	}
	if len(c) > 3 {
		c = c[:3]
	}
	if format != nil {
		for i := range c {
			c[i] = format(c[i])
		}
	}
	s := c[0]
	if len(c) > 1 {
		s = strings.Join(c[:len(c)-1], ", ") + " or " + c[len(c)-1]
	}
	return " (did you mean " + s + "?)"
}

// Distance is the Damerau–Levenshtein (optimal string alignment) distance
// between a and b, counted in bytes: a swapped pair of letters is one edit.
func Distance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
