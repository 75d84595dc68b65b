package schedule

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/config"
)

// Entry is one scheduled job as systemd sees it.
type Entry struct {
	App string `json:"app"`
	Job string `json:"job"`
	// Schedule is the calendar event in the config ("off" when disabled),
	// or, for a unit whose app or job left the config, in its timer file.
	Schedule string `json:"schedule"`
	Timer    string `json:"timer"`
	Service  string `json:"service"`
	// Installed: the timer's unit file is loaded. Enabled: it starts at
	// boot. Active: it is waiting for its next time.
	Installed bool `json:"installed"`
	Enabled   bool `json:"enabled"`
	Active    bool `json:"active"`
	// InConfig is false for a unit whose app or job is no longer in the
	// config (`lifeboat schedule install` removes it).
	InConfig bool       `json:"in_config"`
	NextRun  *time.Time `json:"next_run"`
	// LastRun is when the service last started (by its timer or by hand),
	// LastEnd when it last finished; Running while it runs.
	LastRun *time.Time `json:"last_run"`
	LastEnd *time.Time `json:"last_end"`
	Running bool       `json:"running"`
	// Result of the last run: "success", "failed", "running" or "never run";
	// ExitStatus is the process's exit status (75: the app's lock was held).
	Result     string `json:"result"`
	ExitStatus int    `json:"exit_status"`
	// Detail explains a failure in words ("exit 1", "timeout", …).
	Detail string `json:"detail,omitempty"`
}

// ServeStatus is the state of the serve service.
type ServeStatus struct {
	Unit      string     `json:"unit"`
	Installed bool       `json:"installed"`
	Enabled   bool       `json:"enabled"`
	State     string     `json:"state"`
	Since     *time.Time `json:"since"`
	Listen    string     `json:"listen"`
}

// Listing is the result of List.
type Listing struct {
	Jobs  []Entry     `json:"jobs"`
	Serve ServeStatus `json:"serve"`
}

var timerProps = []string{"Id", "LoadState", "UnitFileState", "ActiveState", "NextElapseUSecRealtime"}
var serviceProps = []string{"Id", "LoadState", "UnitFileState", "ActiveState", "SubState", "Result",
	"ExecMainStatus", "ExecMainCode", "ExecMainStartTimestamp", "ExecMainExitTimestamp", "ActiveEnterTimestamp"}

// List asks systemd about every job of cfg (in config order, "off" ones
// included) and every Lifeboat unit in dir that the config no longer has.
func List(ctx context.Context, sc Systemctl, dir string, cfg *config.Config) (*Listing, error) {
	var entries []Entry
	known := map[string]bool{}
	for _, app := range cfg.Apps {
		for _, j := range app.Schedule.Jobs() {
			e := Entry{App: app.Name, Job: j.Name, Schedule: j.Calendar, Timer: TimerName(app.Name, j.Name), Service: ServiceName(app.Name, j.Name), InConfig: !j.Off()}
			known[e.Timer] = e.InConfig
			entries = append(entries, e)
		}
	}
	names, err := managedNames(dir)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		base, ok := strings.CutSuffix(name, ".timer")
		if !ok || known[name] {
			continue
		}
		job, app, _ := strings.Cut(strings.TrimPrefix(base, "lifeboat-"), "@")
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if i := indexOf(entries, name); i >= 0 {
			entries[i].Schedule = calendarOf(string(b)) // an "off" job whose units are still there
			continue
		}
		entries = append(entries, Entry{App: app, Job: job, Schedule: calendarOf(string(b)), Timer: name, Service: base + ".service"})
	}

	units := make([]string, 0, 2*len(entries)+1)
	for _, e := range entries {
		units = append(units, e.Timer, e.Service)
	}
	units = append(units, ServeUnit)
	props := append(append([]string{}, timerProps...), serviceProps...)
	states, err := show(ctx, sc, units, props...)
	if err != nil {
		return nil, err
	}
	for i := range entries {
		fillEntry(&entries[i], states[2*i], states[2*i+1])
	}
	s := states[len(states)-1]
	serve := ServeStatus{Unit: ServeUnit, Installed: s["LoadState"] == "loaded", Enabled: s["UnitFileState"] == "enabled",
		State: s["ActiveState"], Listen: cfg.Serve.Listen}
	if serve.State == "active" {
		serve.Since = parseTime(s["ActiveEnterTimestamp"])
	}
	return &Listing{Jobs: entries, Serve: serve}, nil
}

func indexOf(entries []Entry, timer string) int {
	for i, e := range entries {
		if e.Timer == timer {
			return i
		}
	}
	return -1
}

func fillEntry(e *Entry, timer, svc map[string]string) {
	e.Installed = timer["LoadState"] == "loaded"
	e.Enabled = timer["UnitFileState"] == "enabled"
	e.Active = timer["ActiveState"] == "active"
	if e.Active {
		e.NextRun = parseTime(timer["NextElapseUSecRealtime"])
	}
	e.LastRun = parseTime(svc["ExecMainStartTimestamp"])
	e.LastEnd = parseTime(svc["ExecMainExitTimestamp"])
	fmt.Sscan(svc["ExecMainStatus"], &e.ExitStatus)
	switch {
	case svc["ActiveState"] == "activating" || svc["ActiveState"] == "active" || svc["ActiveState"] == "deactivating":
		e.Running, e.Result, e.LastEnd = true, "running", nil
	case e.LastRun == nil:
		e.Result = "never run"
	case svc["Result"] == "success":
		e.Result = "success"
	default:
		e.Result = "failed"
		switch {
		case svc["Result"] == "exit-code" && e.ExitStatus == 75:
			e.Detail = "exit 75: another run held the app's lock"
		case svc["Result"] == "exit-code":
			e.Detail = fmt.Sprintf("exit %d", e.ExitStatus)
		default:
			e.Detail = svc["Result"] // timeout, signal, core-dump, …
		}
	}
}
