package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/schedule"
)

// visibleDir makes a directory the units' sandbox does not hide (t.TempDir
// is under /tmp, which PrivateTmp= hides), removed at the end: in the
// package's directory unless the checkout itself is hidden (a clone under
// /tmp or /root), else under /var/lib.
func visibleDir(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, base := range []string{".", "/var/lib", "/srv"} {
		abs, err := filepath.Abs(base)
		if err != nil || schedule.HiddenFromUnits(abs) != "" || strings.ContainsAny(abs, " \t\"'\\%$;") {
			tried = append(tried, base+": hidden from the units or unusable in a unit file")
			continue
		}
		dir, err := os.MkdirTemp(abs, ".lifeboat-schedule-test-")
		if err != nil {
			tried = append(tried, err.Error())
			continue
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	t.Fatalf("no directory the systemd units could see: %s", strings.Join(tried, "; "))
	return ""
}

func TestScheduleUnitsCommand(t *testing.T) {
	dir := visibleDir(t)
	cfgPath := filepath.Join(dir, "lifeboat.yaml")
	os.WriteFile(cfgPath, []byte(`state_dir: `+filepath.Join(dir, "state")+`
apps:
  - name: shop
    s3: {bucket: b}
    schedule: {drill: "off", check: "*:0/15"}
`), 0o600)
	out := filepath.Join(dir, "units")
	code, stdout, stderr := lb(t, "--config", cfgPath, "schedule", "units", "--dir", out, "--bin", "/usr/local/bin/lifeboat", "--json")
	if code != 0 {
		t.Fatalf("schedule units: exit %d: %s", code, stderr)
	}
	var units []schedule.Unit
	if err := json.Unmarshal([]byte(stdout), &units); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	var names []string
	for _, u := range units {
		names = append(names, u.Name)
		b, err := os.ReadFile(filepath.Join(out, u.Name))
		if err != nil || string(b) != u.Content {
			t.Errorf("%s not written as printed: %v", u.Name, err)
		}
	}
	if got := strings.Join(names, " "); got != "lifeboat-check@shop.service lifeboat-check@shop.timer lifeboat-refresh@shop.service lifeboat-refresh@shop.timer lifeboat-serve.service" {
		t.Fatalf("units: %s", got)
	}
	if !strings.Contains(units[2].Content, "ExecStart=/usr/local/bin/lifeboat --config "+cfgPath+" --app shop refresh\n") {
		t.Errorf("the refresh service does not run this config:\n%s", units[2].Content)
	}
	if !strings.Contains(units[1].Content, "OnCalendar=*:0/15\n") {
		t.Errorf("check timer:\n%s", units[1].Content)
	}

	// Printed, each unit under the path it would have.
	code, stdout, _ = lb(t, "--config", cfgPath, "schedule", "units", "--app", "shop", "--bin", "/usr/local/bin/lifeboat")
	if code != 0 || !strings.Contains(stdout, "# /etc/systemd/system/lifeboat-refresh@shop.timer\n"+schedule.Marker) || strings.Contains(stdout, "lifeboat-serve") {
		t.Fatalf("schedule units --app shop: exit %d\n%s", code, stdout)
	}
}

func TestScheduleRefusesWhatTheUnitsCannotUse(t *testing.T) {
	// A config under /tmp: the services would not see it (PrivateTmp=).
	cfgPath := filepath.Join(t.TempDir(), "lifeboat.yaml")
	os.WriteFile(cfgPath, []byte("apps:\n  - name: shop\n    s3: {bucket: b}\n"), 0o600)
	code, _, stderr := lb(t, "--config", cfgPath, "schedule", "units", "--bin", "/usr/local/bin/lifeboat")
	if code != exitUsage || !strings.Contains(stderr, "--config: "+cfgPath+" is under /tmp") {
		t.Fatalf("config under /tmp: exit %d: %s", code, stderr)
	}
	// A bad schedule names its key.
	os.WriteFile(cfgPath, []byte("apps:\n  - name: shop\n    s3: {bucket: b}\n    schedule: {refresh: \"nightly\"}\n"), 0o600)
	code, _, stderr = lb(t, "--config", cfgPath, "schedule", "units")
	if code != exitUsage || !strings.Contains(stderr, "apps[shop].schedule.refresh") {
		t.Fatalf("bad schedule: exit %d: %s", code, stderr)
	}
	// install covers every app: --app is a usage error.
	code, _, stderr = lb(t, "--config", cfgPath, "--app", "shop", "schedule", "install")
	if code != exitUsage || !strings.Contains(stderr, "leave out --app") {
		t.Fatalf("install --app: exit %d: %s", code, stderr)
	}
}

func TestPrintScheduleList(t *testing.T) {
	now := time.Date(2025, 12, 3, 12, 0, 0, 0, time.UTC)
	at := func(s string) *time.Time { v, _ := time.Parse(time.RFC3339, s); return &v }
	l := &schedule.Listing{
		Jobs: []schedule.Entry{
			{App: "shop", Job: "refresh", Schedule: "*-*-* 04:00:00 UTC", Installed: true, Enabled: true, Active: true, InConfig: true,
				NextRun: at("2025-12-04T04:07:00Z"), LastRun: at("2025-12-03T04:07:00Z"), LastEnd: at("2025-12-03T04:09:30Z"), Result: "success"},
			{App: "shop", Job: "drill", Schedule: "off", Result: "never run"},
			{App: "shop", Job: "check", Schedule: "*-*-* *:30:00", Installed: true, Enabled: true, Active: true, InConfig: true,
				NextRun: at("2025-12-03T12:30:00Z"), LastRun: at("2025-12-03T11:30:00Z"), LastEnd: at("2025-12-03T11:30:01Z"), Result: "failed", ExitStatus: 75, Detail: "exit 75: another run held the app's lock"},
			{App: "old", Job: "refresh", Schedule: "daily", Installed: true, Enabled: true, Active: true, Result: "never run"},
		},
		Serve: schedule.ServeStatus{Unit: schedule.ServeUnit, Installed: true, State: "active", Since: at("2025-12-01T09:00:00Z"), Listen: "127.0.0.1:8077"},
	}
	var b strings.Builder
	printScheduleList(&b, l, now)
	out := b.String()
	for _, want := range []string{
		"shop  refresh  *-*-* 04:00:00 UTC  2025-12-04 04:07 UTC (in 16h07m)",
		"2025-12-03 04:07 UTC (7h53m ago)  success in 2m30s",
		"shop  drill    off                 off",
		"failed (exit 75: another run held the app's lock) in 1s",
		"not in the config: lifeboat schedule install removes it",
		"serve: active on http://127.0.0.1:8077 since 2025-12-01 09:00 UTC",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("schedule list lacks %q:\n%s", want, out)
		}
	}
}
