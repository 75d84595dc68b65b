// Package schedule turns the schedules in lifeboat.yaml into systemd units
// and keeps them installed: for each app a oneshot service and a timer per
// job (refresh, drill, check, capture), plus one service for `lifeboat serve`. The
// units come from the templates in templates/systemd; Install writes them to
// /etc/systemd/system, removes the units of apps and jobs no longer in the
// config and enables the timers; List says when each runs next and how its
// last run ended.
//
// Every unit it writes carries Marker on its first line: Install only ever
// touches files that do, so a hand-written unit beside them is left alone.
package schedule

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/templates"
)

// Marker is the first line of every unit Lifeboat renders.
const Marker = "# Managed by lifeboat schedule install (" + managedBy + ")."

const managedBy = "io.lifeboat.schedule"

// ServeUnit is the name of the service that runs `lifeboat serve`.
const ServeUnit = "lifeboat-serve.service"

// ErrUnsafePath is wrapped (with config.ErrInvalid) when the config names
// a path the units cannot use: one a scheduled run would not see, or one a
// unit file cannot carry.
var ErrUnsafePath = errors.New("path unusable by the systemd units")

// Unit is one rendered unit file.
type Unit struct {
	// Name is the unit's file name, e.g. lifeboat-refresh@shop.timer.
	Name string `json:"name"`
	// App and Job are empty for the serve unit.
	App     string `json:"app,omitempty"`
	Job     string `json:"job,omitempty"`
	Content string `json:"content"`
}

// Options are what the units need beyond the config.
type Options struct {
	// Binary is the absolute path of the lifeboat executable the units run.
	Binary string
	// App limits the units to one app (and leaves out the serve unit).
	App string
}

// TimerName and ServiceName name a job's units: lifeboat-refresh@shop.timer.
func TimerName(app, job string) string   { return "lifeboat-" + job + "@" + app + ".timer" }
func ServiceName(app, job string) string { return "lifeboat-" + job + "@" + app + ".service" }

// summaries describe what each job does, for Description=.
var summaries = map[string]string{
	"refresh": "newest archive into a new verified standby",
	"drill":   "restore and boot rehearsal, with an evidence report",
	"check":   "freshness and health of the whole backup chain",
	"capture": "a backup of the production database into the bucket",
}

// jobArgs are the command line of each job after the global flags.
func jobArgs(app, job string) []string {
	switch job {
	case "drill":
		return []string{"drill", "--trigger", "schedule", "--triggered-by", TimerName(app, job)}
	default:
		return []string{job}
	}
}

var unitTemplates = template.Must(template.ParseFS(templates.SystemdUnits, "systemd/*.tmpl"))

// unitData is what the templates see.
type unitData struct {
	Marker, Unit, Timer, ConfigPath string
	App, Job, Calendar, Summary     string
	ExecStart, TimeoutStart         string
	RandomizedDelay, Listen         string
	ReadWritePaths                  []string
}

// Render renders the units of cfg, sorted by name. The error wraps
// config.ErrInvalid and ErrUnsafePath when the config names a path the
// scheduled runs could not use (under /home, /root or /tmp, hidden from
// them by ProtectHome= and PrivateTmp=), or config.ErrNoSuchApp.
func Render(cfg *config.Config, opts Options) ([]Unit, error) {
	if !filepath.IsAbs(opts.Binary) {
		return nil, fmt.Errorf("the lifeboat binary must be named by an absolute path, got %q", opts.Binary)
	}
	cfgPath, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, err
	}
	if err := checkPaths(cfg, cfgPath, opts.Binary); err != nil {
		return nil, err
	}
	apps := cfg.Apps
	if opts.App != "" {
		app, err := cfg.App(opts.App)
		if err != nil {
			return nil, err
		}
		apps = []config.App{*app}
	}
	rw := readWritePaths(cfg)
	base := func(unit string) unitData {
		return unitData{Marker: Marker, Unit: unit, ConfigPath: cfgPath, ReadWritePaths: rw}
	}
	var units []Unit
	for _, app := range apps {
		for _, job := range app.Schedule.Jobs() {
			if job.Off() {
				continue
			}
			timeout := app.Schedule.Timeout.D()
			if job.Name == "check" {
				timeout = min(timeout, 30*time.Minute)
			}
			d := base(ServiceName(app.Name, job.Name))
			d.Timer, d.App, d.Job, d.Calendar, d.Summary = TimerName(app.Name, job.Name), app.Name, job.Name, job.Calendar, summaries[job.Name]
			d.ExecStart = execLine(opts.Binary, append([]string{"--config", cfgPath, "--app", app.Name}, jobArgs(app.Name, job.Name)...))
			d.TimeoutStart = systemdSpan(timeout)
			d.RandomizedDelay = systemdSpan(app.Schedule.RandomizedDelay.D())
			for _, kind := range []struct{ name, tmpl string }{
				{ServiceName(app.Name, job.Name), "lifeboat-job.service.tmpl"},
				{TimerName(app.Name, job.Name), "lifeboat-job.timer.tmpl"},
			} {
				content, err := execute(kind.tmpl, d)
				if err != nil {
					return nil, err
				}
				units = append(units, Unit{Name: kind.name, App: app.Name, Job: job.Name, Content: content})
			}
		}
	}
	if opts.App == "" {
		d := base(ServeUnit)
		d.Listen = cfg.Serve.Listen
		d.ExecStart = execLine(opts.Binary, []string{"--config", cfgPath, "serve"})
		content, err := execute("lifeboat-serve.service.tmpl", d)
		if err != nil {
			return nil, err
		}
		units = append(units, Unit{Name: ServeUnit, Content: content})
	}
	sortUnits(units)
	return units, nil
}

func execute(name string, d unitData) (string, error) {
	var b strings.Builder
	if err := unitTemplates.ExecuteTemplate(&b, name, d); err != nil {
		return "", fmt.Errorf("rendering %s: %w", name, err)
	}
	return b.String(), nil
}

// readWritePaths are the directories the runs write to: the state
// directory, cache directories outside it, and the metrics directory
// ("-": it may not exist, node_exporter may not be installed).
func readWritePaths(cfg *config.Config) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range cfg.Paths() {
		clean := filepath.Clean(p.Path)
		if !p.Dir || seen[clean] || within(clean, filepath.Clean(cfg.StateDir)) && clean != filepath.Clean(cfg.StateDir) {
			continue
		}
		seen[clean] = true
		if p.Key == "metrics.textfile_dir" {
			clean = "-" + clean
		}
		out = append(out, escapePath(clean))
	}
	return out
}

// hiddenDirs are invisible to the units' sandbox (ProtectHome=, PrivateTmp=).
var hiddenDirs = []string{"/home", "/root", "/run/user", "/tmp", "/var/tmp"}

// HiddenFromUnits returns the directory hiding the absolute path p from the
// units' sandbox (ProtectHome=, PrivateTmp=), or "" when the units see it.
func HiddenFromUnits(p string) string {
	for _, h := range hiddenDirs {
		if within(filepath.Clean(p), h) {
			return h
		}
	}
	return ""
}

// checkPaths refuses paths the units could not use: hidden by the sandbox,
// relative, or with characters a unit file would need to quote.
func checkPaths(cfg *config.Config, cfgPath, binary string) error {
	var problems []string
	check := func(key, p string) {
		switch {
		case !filepath.IsAbs(p):
			problems = append(problems, fmt.Sprintf("%s: %q must be an absolute path for the systemd units", key, p))
		case strings.ContainsAny(p, " \t\r\n\"'\\%$;"):
			problems = append(problems, fmt.Sprintf("%s: %q has a space, quote, \\, %%, $ or ; that a systemd unit cannot carry as is: rename it", key, p))
		default:
			if h := HiddenFromUnits(p); h != "" {
				problems = append(problems, fmt.Sprintf("%s: %s is under %s, which the scheduled runs cannot see (ProtectHome=, PrivateTmp=): move it, e.g. to /etc/lifeboat or /var/lib/lifeboat", key, p, h))
			}
		}
	}
	check("--config", cfgPath)
	n := len(problems)
	check("--bin", binary)
	if len(problems) > n {
		problems[n] = fmt.Sprintf("the lifeboat binary %s is where the services cannot run it: install it as /usr/local/bin/lifeboat (or name it with --bin)", binary)
	}
	for _, p := range cfg.Paths() {
		check(p.Key, p.Path)
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w:\n  %s", config.ErrInvalid, ErrUnsafePath, strings.Join(problems, "\n  "))
}

func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// escapePath escapes systemd's specifier character.
func escapePath(p string) string { return strings.ReplaceAll(p, "%", "%%") }

// execLine builds an ExecStart= command line. checkPaths has refused the
// characters that would need quoting in paths; app names and job
// arguments are plain words.
func execLine(bin string, args []string) string {
	words := []string{escapePath(bin)}
	for _, a := range args {
		words = append(words, escapePath(a))
	}
	return strings.Join(words, " ")
}

// systemdSpan renders a duration as a systemd time span ("12h", "10min",
// "90s"); 0 is "0".
func systemdSpan(d time.Duration) string {
	d = d.Round(time.Second)
	if d <= 0 {
		return "0"
	}
	var parts []string
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "min"}, {time.Second, "s"}} {
		if n := d / u.d; n > 0 {
			parts = append(parts, fmt.Sprintf("%d%s", n, u.name))
			d -= n * u.d
		}
	}
	return strings.Join(parts, " ")
}

func sortUnits(units []Unit) {
	slices.SortFunc(units, func(a, b Unit) int { return strings.Compare(a.Name, b.Name) })
}
