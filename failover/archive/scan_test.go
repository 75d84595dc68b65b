package archive

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

func at(s string) time.Time {
	v, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return v
}

// mixedBucket fills a store with every case a real bucket has.
func mixedBucket(t *testing.T) (*memStore, string) {
	dump := fixtureDump(t)
	st := newMemStore()
	p := "backups/app/DATABASE_URL/"
	put := func(name string, data []byte, lm time.Time) { st.put(p+name, data, lm) }

	put("2024-05-01_03-00_UTC__app_DATABASE_URL.dump.gz", testenv.Gzip(t, withCreatedAt(t, dump, at("2024-05-01 03:00"))), at("2024-05-01 03:05"))
	put("2024-05-01_03-00_UTC__app_DATABASE_URL.dump.gz.sha256", []byte("abc  x\n"), at("2024-05-01 03:05"))
	// An archive__ copy made later of an old backup: newest by name, old data.
	put("archive__2024-05-03_00-00_UTC__app_DATABASE_URL.dump", withCreatedAt(t, dump, at("2024-04-01 03:00")), at("2024-05-03 00:01"))
	// The true newest: a tar.gz whose name uses PDT (16:00 UTC).
	put("2024-05-01_09-00_PDT__app_DATABASE_URL.tgz", testenv.TarGz(t, "app.dump", withCreatedAt(t, dump, at("2024-05-01 16:00"))), at("2024-05-01 16:02"))
	// Newer but broken: must be skipped, loudly.
	put("2024-05-02_03-00_UTC__app_DATABASE_URL.dump.gz", []byte("this is not gzip at all, it is a broken upload"), at("2024-05-02 03:05"))
	put("2024-05-02_04-00_UTC__app_DATABASE_URL.dump.gz", nil, at("2024-05-02 04:05"))
	put("2024-05-02_05-00_UTC__app_DATABASE_URL.dump", []byte("--\n-- PostgreSQL database dump\n--\nSET statement_timeout = 0;\n"), at("2024-05-02 05:05"))
	// The legacy naming scheme.
	put("2024-04-30-03-00-app-DATABASE_URL.dump.gz", testenv.Gzip(t, withCreatedAt(t, dump, at("2024-04-30 03:00"))), at("2024-04-30 03:05"))
	put("2024-04-30-03-00-app-DATABASE_URL.dump.gz.md5", []byte("00"), at("2024-04-30 03:05"))
	g := st.put(p+"2024-05-02_06-00_UTC__app_DATABASE_URL.dump.gz", []byte("glacier"), at("2024-05-02 06:05"))
	g.class = "GLACIER"
	put("notes.json", []byte("{}"), at("2024-05-05 00:00"))
	return st, p
}

func TestScanPicksNewestValidByCaptureTime(t *testing.T) {
	st, p := mixedBucket(t)
	l, err := Scan(context.Background(), st, p, ScanOptions{MaxChecked: 20})
	if err != nil {
		t.Fatal(err)
	}
	want := p + "2024-05-01_09-00_PDT__app_DATABASE_URL.tgz"
	if l.Newest != want {
		t.Fatalf("newest = %q, want %q\n%+v", l.Newest, want, l.Candidates)
	}
	byKey := map[string]Candidate{}
	for _, c := range l.Candidates {
		byKey[strings.TrimPrefix(c.Key, p)] = c
	}
	checks := map[string]struct{ status, reason string }{
		"2024-05-01_03-00_UTC__app_DATABASE_URL.dump.gz.sha256": {StatusSkipped, "sidecar"},
		"2024-05-02_03-00_UTC__app_DATABASE_URL.dump.gz":        {StatusSkipped, "not a pg_dump"},
		"2024-05-02_04-00_UTC__app_DATABASE_URL.dump.gz":        {StatusSkipped, "zero-byte"},
		"2024-05-02_05-00_UTC__app_DATABASE_URL.dump":           {StatusSkipped, "plain-SQL"},
		"2024-05-02_06-00_UTC__app_DATABASE_URL.dump.gz":        {StatusArchived, "GLACIER"},
		"archive__2024-05-03_00-00_UTC__app_DATABASE_URL.dump":  {StatusValid, ""},
		"2024-05-01_09-00_PDT__app_DATABASE_URL.tgz":            {StatusValid, ""},
		"notes.json": {StatusSkipped, "sidecar"},
	}
	for k, w := range checks {
		c, ok := byKey[k]
		if !ok {
			t.Errorf("%s missing from listing", k)
			continue
		}
		if c.Status != w.status || !strings.Contains(c.SkipReason, w.reason) {
			t.Errorf("%s: status %q reason %q, want %q containing %q", k, c.Status, c.SkipReason, w.status, w.reason)
		}
	}
	copyC := byKey["archive__2024-05-03_00-00_UTC__app_DATABASE_URL.dump"]
	if copyC.TimeSource != TimeFromHeader || !copyC.CapturedAt.Equal(at("2024-04-01 03:00")) {
		t.Errorf("archive copy captured %s from %s, want 2024-04-01 03:00 from the header", copyC.CapturedAt, copyC.TimeSource)
	}
	if w := byKey["2024-05-01_09-00_PDT__app_DATABASE_URL.tgz"]; w.Wrap != WrapTarGz || w.Header == nil || w.Header.DatabaseName != "app" {
		t.Errorf("tgz candidate: wrap %q header %+v", w.Wrap, w.Header)
	}
	// Newest first.
	for i := 1; i < len(l.Candidates); i++ {
		if l.Candidates[i].CapturedAt.After(l.Candidates[i-1].CapturedAt) {
			t.Fatalf("not sorted newest first at %d", i)
		}
	}
	// Every newer unusable object is named in a warning.
	joined := strings.Join(l.Warnings, "\n")
	for _, k := range []string{"2024-05-02_03-00", "2024-05-02_04-00", "2024-05-02_05-00", "2024-05-02_06-00"} {
		if !strings.Contains(joined, k) {
			t.Errorf("no warning names %s:\n%s", k, joined)
		}
	}
	if strings.Contains(joined, "notes.json") || strings.Contains(joined, ".sha256") {
		t.Errorf("sidecars must not produce warnings:\n%s", joined)
	}
}

func TestScanPlainSQLOnlyWhenAllowed(t *testing.T) {
	st, p := mixedBucket(t)
	key := p + "2024-05-02_05-00_UTC__app_DATABASE_URL.dump"
	l, err := Scan(context.Background(), st, p, ScanOptions{MaxChecked: 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range l.Candidates {
		if c.Key == key && (c.Status != StatusSkipped || !strings.Contains(c.SkipReason, "database.allow_plain_sql: true") ||
			!strings.Contains(c.SkipReason, "cannot be verified before it runs")) {
			t.Errorf("plain SQL without the flag: %s %q", c.Status, c.SkipReason)
		}
	}
	l, err = Scan(context.Background(), st, p, ScanOptions{MaxChecked: 20, AllowPlainSQL: true})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := l.NewestCandidate()
	if !ok || c.Key != key || c.Status != StatusValid || c.Header == nil || c.Header.Format != "plain" || c.TimeSource != TimeFromName {
		t.Fatalf("plain SQL with the flag: newest %q %+v", l.Newest, c)
	}
}

func TestScanStopsOpeningOnceNothingOlderCanWin(t *testing.T) {
	dump := fixtureDump(t)
	st := newMemStore()
	base := at("2024-01-01 03:00")
	for i := 0; i < 50; i++ {
		ts := base.Add(time.Duration(i) * 24 * time.Hour)
		st.put("p/"+ts.Format("2006-01-02_15-04")+"_UTC__a_DB.dump", withCreatedAt(t, dump, ts), ts.Add(5*time.Minute))
	}
	l, err := Scan(context.Background(), st, "p/", ScanOptions{MaxChecked: 20})
	if err != nil {
		t.Fatal(err)
	}
	if want := "p/" + base.Add(49*24*time.Hour).Format("2006-01-02_15-04") + "_UTC__a_DB.dump"; l.Newest != want {
		t.Fatalf("newest %s, want %s", l.Newest, want)
	}
	if l.Checked != 1 || st.opens != 1 {
		t.Fatalf("opened %d objects (%d opens), want 1: the newest one bounds all others", l.Checked, st.opens)
	}
}

func TestScanEmptyAndUnreachable(t *testing.T) {
	st := newMemStore()
	l, err := Scan(context.Background(), st, "nothing/", ScanOptions{})
	if err != nil || l.Newest != "" || l.Objects != 0 {
		t.Fatalf("empty prefix: %+v %v", l, err)
	}
	st.unreachable = true
	if _, err := Scan(context.Background(), st, "", ScanOptions{}); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("outage: got %v", err)
	}
}
