package capture

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestKeyIsHerokuDatabaseBackupsScheme(t *testing.T) {
	at := time.Date(2026, 12, 5, 3, 7, 59, 0, time.FixedZone("CET", 3600))
	for _, c := range []struct {
		prefix  string
		gz, age bool
		want    string
	}{
		{"backups/shop/DATABASE_URL/", false, false, "backups/shop/DATABASE_URL/2026-12-05_02-07_UTC__shop_DATABASE_URL.dump"},
		{"backups/shop/DATABASE_URL", true, false, "backups/shop/DATABASE_URL/2026-12-05_02-07_UTC__shop_DATABASE_URL.dump.gz"},
		{"", true, true, "2026-12-05_02-07_UTC__shop_DATABASE_URL.dump.gz.age"},
	} {
		if got := Key(c.prefix, "shop", "DATABASE_URL", at, c.gz, c.age); got != c.want {
			t.Errorf("Key(%q, gz %v, age %v) = %s, want %s", c.prefix, c.gz, c.age, got, c.want)
		}
	}
}

func TestConnectionGoesToTheEnvironmentOnly(t *testing.T) {
	c, err := parseURL("postgres://u5er:s3cr%40t@db.example.com:6543/d8abc?sslmode=require&application_name=x")
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Join(c.env, "\n")
	for _, want := range []string{"PGHOST=db.example.com", "PGPORT=6543", "PGUSER=u5er", "PGPASSWORD=s3cr@t", "PGDATABASE=d8abc", "PGSSLMODE=require"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %s:\n%s", want, env)
		}
	}
	for _, a := range PgDumpArgs {
		if strings.Contains(a, "s3cr") || strings.Contains(a, "db.example.com") {
			t.Fatalf("pg_dump's arguments carry the connection: %v", PgDumpArgs)
		}
	}
	if got := c.scrub("FATAL: password authentication failed for s3cr@t"); strings.Contains(got, "s3cr@t") {
		t.Fatalf("not scrubbed: %s", got)
	}
	if _, err := parseURL("mysql://x@y/z"); err == nil {
		t.Fatal("a non-postgres URL was accepted")
	}
	if _, err := parseURL("postgres://u:hunter2@%zz"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("a bad URL: %v", err)
	}
}

func TestDumpFailuresAreNamed(t *testing.T) {
	for stderr, want := range map[string]error{
		"pg_dump: error: Dumping the contents of table \"events\" failed: PQgetResult() failed.\npg_dump: error: Error message from server: ERROR:  canceling statement due to conflict with recovery\nDETAIL:  User query might have needed to see row versions that must be removed.": ErrRecoveryConflict,
		`pg_dump: error: connection to server at "10.0.0.1", port 5432 failed: Connection refused`:                            ErrSourceUnreachable,
		`pg_dump: error: connection to server at "db", port 5432 failed: FATAL:  password authentication failed for user "u"`: ErrSourceUnreachable,
		"pg_dump: error: query failed: FATAL:  terminating connection due to administrator command":                           ErrDumpFailed,
		"pg_dump: error: aborting because of server version mismatch":                                                         ErrDumpFailed,
	} {
		err := dumpFailure(1, stderr)
		if !errors.Is(err, want) {
			t.Errorf("%q: %v, want %v", stderr, err, want)
		}
	}
}
