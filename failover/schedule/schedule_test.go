package schedule

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const bin = "/usr/local/bin/lifeboat"

// loadConfig loads body as if it were /etc/lifeboat/lifeboat.yaml.
func loadConfig(t *testing.T, body string) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lifeboat.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Path = "/etc/lifeboat/lifeboat.yaml"
	return cfg
}

// goldenConfig has two apps: shop with the default schedule and a cache
// outside state_dir, blog with its own schedule, no delay and no drill.
const goldenConfig = `state_dir: /var/lib/lifeboat
metrics: {textfile_dir: /var/lib/prometheus/node-exporter}
serve: {listen: "127.0.0.1:8077"}
apps:
  - name: shop
    s3: {bucket: b}
    cache: {dir: /srv/archives/shop}
  - name: blog
    s3: {bucket: b}
    schedule:
      refresh: "Mon..Fri *-*-* 02:30 Europe/Berlin"
      drill: "off"
      check: "*:0/15"
      randomized_delay: 0s
      timeout: 90m
`

func TestRenderGolden(t *testing.T) {
	units, err := Render(loadConfig(t, goldenConfig), Options{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range units {
		names = append(names, u.Name)
	}
	want := []string{
		"lifeboat-check@blog.service", "lifeboat-check@blog.timer",
		"lifeboat-check@shop.service", "lifeboat-check@shop.timer",
		"lifeboat-drill@shop.service", "lifeboat-drill@shop.timer",
		"lifeboat-refresh@blog.service", "lifeboat-refresh@blog.timer",
		"lifeboat-refresh@shop.service", "lifeboat-refresh@shop.timer",
		"lifeboat-serve.service",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("units %v\nwant %v", names, want)
	}
	dir := filepath.Join("testdata", "golden")
	if *update {
		os.RemoveAll(dir)
		os.MkdirAll(dir, 0o755)
	}
	for _, u := range units {
		path := filepath.Join(dir, u.Name)
		if *update {
			if err := os.WriteFile(path, []byte(u.Content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		golden, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./failover/schedule -update to write it)", err)
		}
		if string(golden) != u.Content {
			t.Errorf("%s differs from %s (go test ./failover/schedule -update rewrites it):\n%s", u.Name, path, u.Content)
		}
	}
	for _, u := range units {
		if !strings.HasPrefix(u.Content, Marker+"\n") {
			t.Errorf("%s does not start with the marker", u.Name)
		}
	}
}

// TestRenderedUnitsCarryTheConfig checks the facts the goldens encode, so
// that a careless -update cannot bless a wrong unit.
func TestRenderedUnitsCarryTheConfig(t *testing.T) {
	units, err := Render(loadConfig(t, goldenConfig), Options{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for _, u := range units {
		byName[u.Name] = u.Content
	}
	for name, lines := range map[string][]string{
		"lifeboat-refresh@shop.service": {
			"ExecStart=/usr/local/bin/lifeboat --config /etc/lifeboat/lifeboat.yaml --app shop refresh",
			"Type=oneshot", "TimeoutStartSec=12h", "Wants=docker.service network-online.target",
			"ReadWritePaths=/var/lib/lifeboat /srv/archives/shop -/var/lib/prometheus/node-exporter",
			"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "StandardOutput=journal",
		},
		"lifeboat-refresh@shop.timer": {"OnCalendar=*-*-* 04:00:00 UTC", "RandomizedDelaySec=10min", "Persistent=true", "WantedBy=timers.target"},
		"lifeboat-drill@shop.service": {"ExecStart=/usr/local/bin/lifeboat --config /etc/lifeboat/lifeboat.yaml --app shop drill --trigger schedule --triggered-by lifeboat-drill@shop.timer"},
		"lifeboat-drill@shop.timer":   {"OnCalendar=Sun *-*-* 06:00:00 UTC"},
		"lifeboat-check@shop.service": {"TimeoutStartSec=30min"},
		"lifeboat-refresh@blog.timer": {"OnCalendar=Mon..Fri *-*-* 02:30 Europe/Berlin", "RandomizedDelaySec=0"},
		"lifeboat-refresh@blog.service": {"TimeoutStartSec=1h 30min",
			"ReadWritePaths=/var/lib/lifeboat /srv/archives/shop -/var/lib/prometheus/node-exporter"},
		"lifeboat-check@blog.service": {"TimeoutStartSec=30min", "--app blog check"},
		"lifeboat-serve.service": {"ExecStart=/usr/local/bin/lifeboat --config /etc/lifeboat/lifeboat.yaml serve",
			"Restart=on-failure", "WantedBy=multi-user.target", "Description=Lifeboat status page, metrics and hooks on 127.0.0.1:8077"},
	} {
		for _, l := range lines {
			if !strings.Contains(byName[name], l) {
				t.Errorf("%s lacks %q:\n%s", name, l, byName[name])
			}
		}
	}
	if _, ok := byName["lifeboat-drill@blog.timer"]; ok {
		t.Error("blog's drill is off but has a timer")
	}

	// --app renders one app's units and no serve unit.
	one, err := Render(loadConfig(t, goldenConfig), Options{Binary: bin, App: "blog"})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range one {
		if u.App != "blog" {
			t.Errorf("--app blog rendered %s", u.Name)
		}
	}
	if len(one) != 4 {
		t.Errorf("--app blog: %d units, want 4", len(one))
	}
	if _, err := Render(loadConfig(t, goldenConfig), Options{Binary: bin, App: "nope"}); !errors.Is(err, config.ErrNoSuchApp) {
		t.Errorf("--app nope: %v", err)
	}
}

func TestRenderRefusesPathsTheUnitsCannotUse(t *testing.T) {
	cfg := loadConfig(t, "state_dir: /home/ops/lifeboat\napps:\n  - name: shop\n    s3: {bucket: b}\n    cache: {dir: /var/lib/archive store}\n")
	_, err := Render(cfg, Options{Binary: "/tmp/lifeboat"})
	if !errors.Is(err, config.ErrInvalid) || !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("err %v, want ErrInvalid and ErrUnsafePath", err)
	}
	for _, want := range []string{
		"state_dir: /home/ops/lifeboat is under /home",
		`apps[shop].cache.dir: "/var/lib/archive store" has a space`,
		"the lifeboat binary /tmp/lifeboat is where the services cannot run it",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	cfg.Path = "/root/lifeboat.yaml"
	if _, err := Render(cfg, Options{Binary: bin}); err == nil || !strings.Contains(err.Error(), "--config: /root/lifeboat.yaml is under /root") {
		t.Fatalf("config under /root: %v", err)
	}
	if _, err := Render(cfg, Options{Binary: "lifeboat"}); err == nil || !strings.Contains(err.Error(), "absolute path") {
		t.Fatalf("relative binary: %v", err)
	}
}

func TestSystemdSpan(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", 90 * time.Second: "1min 30s", 10 * time.Minute: "10min", 12 * time.Hour: "12h", 36*time.Hour + time.Second: "1d 12h 1s",
	} {
		if got := systemdSpan(d); got != want {
			t.Errorf("systemdSpan(%v) = %q, want %q", d, got, want)
		}
	}
}

// fakeSystemctl plays systemd for Install and List: it records every
// command and answers `show` from unit states it keeps, the way systemctl
// prints them.
type fakeSystemctl struct {
	calls []string
	// enabled and active units; runs holds services' last-run properties.
	enabled, active map[string]bool
	runs            map[string]map[string]string
	next            string
}

func newFake() *fakeSystemctl {
	return &fakeSystemctl{enabled: map[string]bool{}, active: map[string]bool{}, runs: map[string]map[string]string{}}
}

func (f *fakeSystemctl) Run(ctx context.Context, args ...string) (string, error) {
	f.calls = append(f.calls, strings.Join(args, " "))
	var units []string
	for _, a := range args[1:] {
		if !strings.HasPrefix(a, "-") && !strings.Contains(a, ",") {
			units = append(units, a)
		}
	}
	switch args[0] {
	case "daemon-reload":
	case "enable":
		for _, u := range units {
			f.enabled[u] = true
		}
	case "disable":
		for _, u := range units {
			f.enabled[u], f.active[u] = false, false
		}
	case "start", "restart":
		for _, u := range units {
			f.active[u] = true
		}
	case "show":
		var b strings.Builder
		for i, u := range units {
			if i > 0 {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "Id=%s\nLoadState=loaded\n", u)
			state := map[bool]string{true: "enabled", false: "disabled"}[f.enabled[u]]
			fmt.Fprintf(&b, "UnitFileState=%s\n", state)
			active := map[bool]string{true: "active", false: "inactive"}[f.active[u]]
			if r, ok := f.runs[u]; ok {
				for k, v := range r {
					fmt.Fprintf(&b, "%s=%s\n", k, v)
				}
				if r["ActiveState"] != "" {
					active = r["ActiveState"]
				}
			}
			fmt.Fprintf(&b, "ActiveState=%s\n", active)
			if strings.HasSuffix(u, ".timer") && f.active[u] {
				fmt.Fprintf(&b, "NextElapseUSecRealtime=%s\n", f.next)
			}
		}
		return b.String(), nil
	default:
		return "", fmt.Errorf("fake systemctl: unexpected %v", args)
	}
	return "", nil
}

func (f *fakeSystemctl) reset() { f.calls = nil }

func TestInstall(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// A hand-written unit beside ours is never touched.
	handmade := filepath.Join(dir, "lifeboat-backup-offsite.service")
	os.WriteFile(handmade, []byte("[Service]\nExecStart=/bin/true\n"), 0o644)
	sc := newFake()
	cfg := loadConfig(t, goldenConfig)
	units, err := Render(cfg, Options{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}

	res, err := Install(ctx, sc, dir, units)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || len(res.Written) != len(units) || len(res.Removed) != 0 {
		t.Fatalf("first install: %+v", res)
	}
	for _, u := range units {
		b, err := os.ReadFile(filepath.Join(dir, u.Name))
		if err != nil || string(b) != u.Content {
			t.Fatalf("%s not written as rendered: %v", u.Name, err)
		}
		if st, _ := os.Stat(filepath.Join(dir, u.Name)); st.Mode().Perm() != 0o644 {
			t.Errorf("%s mode %v", u.Name, st.Mode().Perm())
		}
	}
	timers := []string{"lifeboat-check@blog.timer", "lifeboat-check@shop.timer", "lifeboat-drill@shop.timer", "lifeboat-refresh@blog.timer", "lifeboat-refresh@shop.timer"}
	wantCalls := []string{
		"daemon-reload",
		"show --timestamp=unix -p Id,UnitFileState,ActiveState -- " + strings.Join(timers, " ") + " lifeboat-serve.service",
		"enable -- " + strings.Join(timers, " ") + " lifeboat-serve.service",
		"start -- " + strings.Join(timers, " ") + " lifeboat-serve.service",
	}
	if !slices.Equal(sc.calls, wantCalls) {
		t.Fatalf("systemctl calls:\n%s\nwant:\n%s", strings.Join(sc.calls, "\n"), strings.Join(wantCalls, "\n"))
	}

	// Nothing changed: no write, no reload, nothing started.
	sc.reset()
	res, err = Install(ctx, sc, dir, units)
	if err != nil || res.Changed || len(res.Unchanged) != len(units) {
		t.Fatalf("second install: %+v %v", res, err)
	}
	if len(sc.calls) != 1 || !strings.HasPrefix(sc.calls[0], "show ") {
		t.Fatalf("second install ran %v", sc.calls)
	}

	// blog leaves the config, shop's refresh moves: blog's units are
	// stopped and removed, shop's refresh timer restarted, the rest kept.
	sc.reset()
	cfg = loadConfig(t, strings.Replace(goldenConfig[:strings.Index(goldenConfig, "  - name: blog")], "cache: {dir: /srv/archives/shop}", "cache: {dir: /srv/archives/shop}\n    schedule: {refresh: \"05:00\"}", 1))
	units, err = Render(cfg, Options{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	res, err = Install(ctx, sc, dir, units)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Removed, []string{"lifeboat-check@blog.service", "lifeboat-check@blog.timer", "lifeboat-refresh@blog.service", "lifeboat-refresh@blog.timer"}) {
		t.Fatalf("removed %v", res.Removed)
	}
	// The serve and refresh services render the config's directories; blog
	// had no directory of its own, so only the refresh timer changed.
	if !slices.Equal(res.Written, []string{"lifeboat-refresh@shop.timer"}) || !slices.Equal(res.Restarted, []string{"lifeboat-refresh@shop.timer"}) {
		t.Fatalf("written %v restarted %v", res.Written, res.Restarted)
	}
	for _, c := range []string{"disable --now lifeboat-check@blog.timer", "disable --now lifeboat-refresh@blog.timer", "daemon-reload"} {
		if !slices.Contains(sc.calls, c) {
			t.Errorf("no %q in %v", c, sc.calls)
		}
	}
	if slices.ContainsFunc(sc.calls, func(c string) bool { return strings.Contains(c, "blog.service") }) {
		t.Errorf("a removed job's service was stopped (a run in progress must finish): %v", sc.calls)
	}
	for _, name := range res.Removed {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there", name)
		}
	}
	if _, err := os.Stat(handmade); err != nil {
		t.Errorf("the hand-written unit was removed: %v", err)
	}

	// A hand-written unit where ours would go: refused before any change.
	sc.reset()
	os.Remove(filepath.Join(dir, "lifeboat-serve.service"))
	os.WriteFile(filepath.Join(dir, "lifeboat-serve.service"), []byte("[Service]\nExecStart=/opt/serve\n"), 0o644)
	_, err = Install(ctx, sc, dir, units)
	if !errors.Is(err, ErrForeignUnit) || len(sc.calls) != 0 {
		t.Fatalf("foreign unit in the way: %v, calls %v", err, sc.calls)
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sc := newFake()
	cfg := loadConfig(t, goldenConfig)
	units, _ := Render(cfg, Options{Binary: bin})
	if _, err := Install(ctx, sc, dir, units); err != nil {
		t.Fatal(err)
	}
	// A unit of an app that has since left the config.
	os.WriteFile(filepath.Join(dir, "lifeboat-refresh@old.timer"), []byte(Marker+"\n[Timer]\nOnCalendar=daily\n"), 0o644)
	sc.next = "Wed 2025-12-03 04:07:12 UTC"
	sc.runs["lifeboat-refresh@shop.service"] = map[string]string{"Result": "success", "ExecMainStatus": "0",
		"ExecMainStartTimestamp": "@1764734400", "ExecMainExitTimestamp": "@1764734472"}
	sc.runs["lifeboat-drill@shop.service"] = map[string]string{"Result": "exit-code", "ExecMainStatus": "75",
		"ExecMainStartTimestamp": "@1764734400", "ExecMainExitTimestamp": "@1764734401"}
	sc.runs["lifeboat-check@shop.service"] = map[string]string{"Result": "success", "ActiveState": "activating",
		"ExecMainStartTimestamp": "@1764734400"}
	sc.runs["lifeboat-check@blog.service"] = map[string]string{"Result": "timeout", "ExecMainStatus": "15",
		"ExecMainStartTimestamp": "@1764734400", "ExecMainExitTimestamp": "@1764736200"}

	l, err := List(ctx, sc, dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Entry{}
	for _, e := range l.Jobs {
		got[e.App+"/"+e.Job] = e
	}
	r := got["shop/refresh"]
	if !r.Installed || !r.Enabled || r.NextRun == nil || r.NextRun.Format(time.RFC3339) != "2025-12-03T04:07:12Z" ||
		r.Result != "success" || r.LastRun == nil || r.LastEnd.Sub(*r.LastRun) != 72*time.Second {
		t.Errorf("shop/refresh %+v", r)
	}
	if d := got["shop/drill"]; d.Result != "failed" || d.ExitStatus != 75 || !strings.Contains(d.Detail, "lock") {
		t.Errorf("shop/drill %+v", d)
	}
	if c := got["shop/check"]; c.Result != "running" || !c.Running || c.LastEnd != nil {
		t.Errorf("shop/check %+v", c)
	}
	if c := got["blog/check"]; c.Result != "failed" || c.Detail != "timeout" {
		t.Errorf("blog/check %+v", c)
	}
	if d := got["blog/drill"]; d.Schedule != "off" || d.InConfig {
		t.Errorf("blog/drill %+v", d)
	}
	if r := got["blog/refresh"]; r.Result != "never run" || r.LastRun != nil {
		t.Errorf("blog/refresh %+v", r)
	}
	if o := got["old/refresh"]; o.InConfig || o.Schedule != "daily" || o.Timer != "lifeboat-refresh@old.timer" {
		t.Errorf("old/refresh %+v", o)
	}
	if len(l.Jobs) != 9 {
		t.Errorf("%d entries, want 2 apps × 4 jobs (capture off) + 1 stale", len(l.Jobs))
	}
	if !l.Serve.Installed || l.Serve.State != "active" || l.Serve.Listen != "127.0.0.1:8077" {
		t.Errorf("serve %+v", l.Serve)
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]string{
		"@1764734400":                 "2025-12-03T04:00:00Z",
		"Wed 2025-12-03 04:07:12 UTC": "2025-12-03T04:07:12Z",
	} {
		if got := parseTime(in); got == nil || got.Format(time.RFC3339) != want {
			t.Errorf("parseTime(%q) = %v, want %s", in, got, want)
		}
	}
	for _, in := range []string{"", "n/a", "@0", "0", "yesterday"} {
		if got := parseTime(in); got != nil {
			t.Errorf("parseTime(%q) = %v, want nil", in, got)
		}
	}
}

// TestCaptureIsScheduledOnlyWhenAsked: schedule.capture is off by default (a
// backup job usually fills the bucket); set, it becomes a timer running
// `lifeboat capture` with the app's timeout.
func TestCaptureIsScheduledOnlyWhenAsked(t *testing.T) {
	units, err := Render(loadConfig(t, goldenConfig), Options{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		if strings.Contains(u.Name, "capture") {
			t.Fatalf("capture not scheduled, yet %s is rendered", u.Name)
		}
	}
	cfg := loadConfig(t, goldenConfig)
	app := &cfg.Apps[0]
	app.Capture.Source = config.CapturePgDump
	app.Schedule.Capture = "*-*-* 02:00:00 UTC"
	units, err = Render(cfg, Options{Binary: bin, App: app.Name})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for _, u := range units {
		byName[u.Name] = u.Content
	}
	svc, timer := byName[ServiceName(app.Name, "capture")], byName[TimerName(app.Name, "capture")]
	for _, want := range []string{"--app " + app.Name + " capture", "TimeoutStartSec=12h", "Type=oneshot"} {
		if !strings.Contains(svc, want) {
			t.Errorf("capture service lacks %q:\n%s", want, svc)
		}
	}
	if !strings.Contains(timer, "OnCalendar=*-*-* 02:00:00 UTC") || !strings.Contains(timer, "Persistent=true") {
		t.Errorf("capture timer:\n%s", timer)
	}
}
