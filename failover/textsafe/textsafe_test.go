package textsafe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"backups/shop/2024-05-01.dump.gz": "backups/shop/2024-05-01.dump.gz",
		"two\nlines\tand a tab":           "two\nlines\tand a tab",
		"héllo wörld, 日本語 ✓":              "héllo wörld, 日本語 ✓",
		"evil\u202Ezg.pmud":               `evil\u202ezg.pmud`,
		"\x1b[2J\x1b]0;pwned\x07":         `\x1b[2J\x1b]0;pwned\x07`,
		"over\rwrite":                     `over\x0dwrite`,
		"nul\x00del\x7f":                  `nul\x00del\x7f`,
		"c1\u009b31m":                     `c1\u009b31m`,
		"iso\u2066late\u2069":             `iso\u2066late\u2069`,
		"zero\u200bwidth":                 `zero\u200bwidth`,
		"line\u2028sep":                   `line\u2028sep`,
		"bad\xffutf8":                     `bad\xffutf8`,
		"tag\U000E0041":                   `tag\udb40\udc41`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEscapeKeepsJSONValid: what Escape makes of a JSON document is still
// JSON, decoding to the escaped text (JSON escapes C0 itself).
func TestEscapeKeepsJSONValid(t *testing.T) {
	in := map[string]string{"key": "a\u202eb\U000E0041c\u0085d"}
	b, _ := json.Marshal(in)
	var out map[string]string
	if err := json.Unmarshal([]byte(Escape(string(b))), &out); err != nil {
		t.Fatalf("escaped JSON does not parse: %v\n%s", err, Escape(string(b)))
	}
	if out["key"] != in["key"] {
		t.Fatalf("round trip: %q, want %q", out["key"], in["key"])
	}
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	fmt.Fprintf(NewWriter(&buf), "key %s\n", "a\x1b[31mred")
	if got := buf.String(); got != "key a\\x1b[31mred\n" {
		t.Fatalf("got %q", got)
	}
	// Written a byte at a time, the same text escapes the same way.
	in := "ok ✓ evil\u202eorder \x1b[2J tag\U000E0041 bad\xff end\xe2\x9c"
	buf.Reset()
	w := NewWriter(&buf)
	for i := 0; i < len(in); i++ {
		w.Write([]byte{in[i]})
	}
	w.Flush()
	if got, want := buf.String(), Escape(in); got != want {
		t.Fatalf("byte by byte:\n got %q\nwant %q", got, want)
	}
}

func TestScrubber(t *testing.T) {
	var s Scrubber
	s.AddVars(map[string]string{
		"STRIPE_KEY":                 "sk_live_abcdef123",
		"DATABASE_URL":               "postgres://app:s3cr%2Ft@db:5432/app",
		"HEROKU_POSTGRESQL_NAVY_URL": "postgres://app:s3cr%2Ft@db:5432/app",
		"RAILS_ENV":                  "production",
		"WEB_CONC":                   "2",
		"PORT":                       "5000",
	})
	s.Add("generation password", "pw")
	log := strings.Join([]string{
		"charging with sk_live_abcdef123",
		"connecting to postgres://app:s3cr%2Ft@db:5432/app",
		"auth failed for s3cr/t and s3cr%2Ft",
		"RAILS_ENV=production, 2 workers on port 5000, pw",
	}, "\n")
	got := s.Scrub(log)
	for _, leak := range []string{"sk_live", "s3cr", "production"} {
		if strings.Contains(got, leak) {
			t.Errorf("%q left in:\n%s", leak, got)
		}
	}
	for _, want := range []string{"[redacted:STRIPE_KEY]", "[redacted:DATABASE_URL]", "[redacted:DATABASE_URL password]",
		"[redacted:RAILS_ENV]", "2 workers on port 5000", "[redacted:generation password]"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q missing from:\n%s", want, got)
		}
	}
	var none *Scrubber
	if none.Scrub("x") != "x" {
		t.Error("a nil Scrubber changes text")
	}
	if ScrubValue("user pw:hunter2", "password", "hunter2") != "user pw:[redacted:password]" {
		t.Error("ScrubValue")
	}
}

func TestScrubURLHidesTheURLAndItsPassword(t *testing.T) {
	u := "postgres://lifeboat:p%40ss%2Fw0rd@db:5432/app?sslmode=disable"
	text := "connect " + u + ": password p@ss/w0rd rejected; raw p%40ss%2Fw0rd"
	got := ScrubURL(text, "database URL", u)
	for _, leak := range []string{"p@ss/w0rd", "p%40ss%2Fw0rd"} {
		if strings.Contains(got, leak) {
			t.Errorf("%q leaks %q", got, leak)
		}
	}
	if !strings.Contains(got, "[redacted:database URL]") || !strings.Contains(got, "[redacted:database URL password]") {
		t.Errorf("markers missing: %q", got)
	}
	if r := RedactURL(u); strings.Contains(r, "w0rd") || !strings.Contains(r, "lifeboat:*****@db:5432/app") {
		t.Errorf("RedactURL = %q", r)
	}
	if r := RedactURL("not a url"); r != "not a url" {
		t.Errorf("RedactURL of plain text = %q", r)
	}
}
