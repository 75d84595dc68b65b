package suggest

import (
	"slices"
	"testing"
)

func TestClosest(t *testing.T) {
	cmds := []string{"archives", "fetch", "inspect", "restore", "refresh", "failover", "failback", "check"}
	cases := map[string][]string{
		"fecth":    {"fetch"},    // swapped letters: one edit
		"fetc":     {"fetch"},    // prefix and one edit
		"restor":   {"restore"},  // one edit
		"failovr":  {"failover"}, // one edit; failback is further
		"ref":      {"refresh"},  // a prefix of three letters
		"zzz":      nil,
		"Archives": {"archives"}, // case does not matter
	}
	for word, want := range cases {
		if got := Closest(word, cmds); !slices.Equal(got, want) {
			t.Errorf("Closest(%q) = %q, want %q", word, got, want)
		}
	}
	if got := Closest("buckt", []string{"prefix", "bucket", "region"}); !slices.Equal(got, []string{"bucket"}) {
		t.Errorf("config key: %q", got)
	}
}

func TestPhrase(t *testing.T) {
	if got := Phrase("jsn", []string{"json", "app"}, func(s string) string { return "--" + s }); got != " (did you mean --json?)" {
		t.Errorf("got %q", got)
	}
	if got := Phrase("fail", []string{"failover", "failback"}, nil); got != " (did you mean failover or failback?)" {
		t.Errorf("got %q", got)
	}
	if got := Phrase("xyz", []string{"json"}, nil); got != "" {
		t.Errorf("got %q", got)
	}
}

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"fetch", "fecth", 1}, {"kitten", "sitting", 3}, {"bucket", "buckt", 1}} {
		if got := Distance(c.a, c.b); got != c.d {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}
