package stack

import (
	"errors"
	"strings"
	"testing"
)

func TestVarsPrecedence(t *testing.T) {
	herokuURL := "postgres://u:p@ec2.amazonaws.com:5432/d1"
	snap := map[string]string{"DATABASE_URL": herokuURL, "HEROKU_POSTGRESQL_NAVY_URL": herokuURL, "MAIL_KEY": "secret", "A": "heroku", "B": "heroku"}
	env := map[string]string{"A": "vps"}
	cfg := Overrides{Port: 5000, Drop: []string{"MAIL_KEY"}, Set: map[string]string{"B": "override"},
		Serving: map[string]string{"B": "serving"}}
	v := Vars(cfg, snap, env, ModeStandby, "postgres://standby/db", "web.1")
	want := map[string]string{"A": "vps", "B": "override", "DATABASE_URL": "postgres://standby/db",
		"HEROKU_POSTGRESQL_NAVY_URL": "postgres://standby/db", "PORT": "5000", "DYNO": "web.1", "LIFEBOAT_MODE": "standby"}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("%s = %q, want %q", k, v[k], w)
		}
	}
	if _, ok := v["MAIL_KEY"]; ok {
		t.Error("MAIL_KEY was not dropped")
	}
	if s := Vars(cfg, snap, env, ModeServing, "x", "web.1"); s["B"] != "serving" || s["LIFEBOAT_MODE"] != "serving" {
		t.Errorf("serving vars: %v", s)
	}
}

func TestParseEnvFile(t *testing.T) {
	m, err := ParseEnvFile([]byte("# comment\n\nexport A=1\nB = two words \nC=\"quoted \\\"x\\\"\\nnext\"\nD='single $x'\nE=\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "two words", "C": "quoted \"x\"\nnext", "D": "single $x", "E": ""}
	for k, w := range want {
		if m[k] != w {
			t.Errorf("%s = %q, want %q", k, m[k], w)
		}
	}
	_, err = ParseEnvFile([]byte("OK=1\nthis line holds SECRET-VALUE\n"))
	if !errors.Is(err, ErrEnvFile) || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad line: %v", err)
	}
}

func TestParseProcfile(t *testing.T) {
	m, err := ParseProcfile([]byte("web: bundle exec puma -p $PORT\nworker:bundle exec sidekiq\n# x\nrelease: rails db:migrate\n"))
	if err != nil || m["web"] != "bundle exec puma -p $PORT" || m["worker"] != "bundle exec sidekiq" || m["release"] != "rails db:migrate" {
		t.Fatalf("%v %v", m, err)
	}
	if _, err := ParseProcfile([]byte("nonsense\n")); err == nil {
		t.Fatal("want an error")
	}
}

func TestCommandWithAndWithoutShell(t *testing.T) {
	p := &Plan{Shell: true}
	ep, args := p.command("bundle exec puma -p $PORT")
	if strings.Join(ep, " ") != "/bin/sh -c" || len(args) != 1 {
		t.Fatalf("%v %v", ep, args)
	}
	if ep, args := p.command(""); ep != nil || args != nil {
		t.Fatalf("empty command must keep the image's: %v %v", ep, args)
	}
	p.Shell = false
	ep, args = p.command("/app web --flag")
	if strings.Join(ep, " ") != "/app" || strings.Join(args, " ") != "web --flag" {
		t.Fatalf("%v %v", ep, args)
	}
}
