package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestScheduleDefaults(t *testing.T) {
	c, err := Load(write(t, "apps:\n  - name: shop\n    s3: {bucket: b}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Apps[0].Schedule
	if s.Refresh != DefaultRefreshSchedule || s.Drill != DefaultDrillSchedule || s.Check != DefaultCheckSchedule {
		t.Fatalf("default schedule %+v", s)
	}
	if s.RandomizedDelay == nil || s.RandomizedDelay.D() != 10*time.Minute || s.Timeout.D() != 12*time.Hour {
		t.Fatalf("default delay %v, timeout %v", s.RandomizedDelay, s.Timeout)
	}
	var jobs []string
	for _, j := range s.Jobs() {
		jobs = append(jobs, j.Name+"="+j.Calendar)
	}
	if got := strings.Join(jobs, ";"); got != "refresh=*-*-* 04:00:00 UTC;drill=Sun *-*-* 06:00:00 UTC;check=*-*-* *:30:00;capture=off" {
		t.Fatalf("jobs %s", got)
	}
}

func TestScheduleKeys(t *testing.T) {
	c, err := Load(write(t, `apps:
  - name: shop
    s3: {bucket: b}
    schedule:
      refresh: "Mon..Fri 02:15 Europe/Berlin"
      drill: "off"
      check: " *:0/15 "
      randomized_delay: 0s
      timeout: 3h
`))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Apps[0].Schedule
	if s.Refresh != "Mon..Fri 02:15 Europe/Berlin" || s.Check != "*:0/15" || s.RandomizedDelay == nil || *s.RandomizedDelay != 0 || s.Timeout.D() != 3*time.Hour {
		t.Fatalf("schedule %+v (delay %v)", s, s.RandomizedDelay)
	}
	if !s.Jobs()[1].Off() || s.Jobs()[0].Off() {
		t.Fatalf("off: %+v", s.Jobs())
	}

	// The environment overrides a schedule like any other key.
	t.Setenv("LIFEBOAT_APPS_SHOP_SCHEDULE_REFRESH", "daily")
	c, err = Load(write(t, "apps:\n  - name: shop\n    s3: {bucket: b}\n"))
	if err != nil || c.Apps[0].Schedule.Refresh != "daily" {
		t.Fatalf("env override: %v %+v", err, c)
	}
}

func TestScheduleErrorsNameTheKey(t *testing.T) {
	cases := map[string]string{
		`refresh: "25:00"`:               `apps[shop].schedule.refresh: not a systemd calendar event: "25:00"`,
		`drill: "Sun..Mon 06:00"`:        `apps[shop].schedule.drill: not a systemd calendar event`,
		`check: "every hour"`:            `apps[shop].schedule.check: not a systemd calendar event`,
		`refresh: "2024-02-30 04:00"`:    `apps[shop].schedule.refresh: "2024-02-30 04:00" never elapses again`,
		`refresh: "2001-01-01"`:          `apps[shop].schedule.refresh: "2001-01-01" never elapses again`,
		`check: "04:00 CEST"`:            `apps[shop].schedule.check: not a systemd calendar event`,
		`randomized_delay: -5m`:          `apps[shop].schedule.randomized_delay: must be between 0s and 24h`,
		`randomized_delay: 2d`:           `apps[shop].schedule.randomized_delay: must be between 0s and 24h`,
		`timeout: 30s`:                   `apps[shop].schedule.timeout: must be at least 1m`,
		`refreshh: daily`:                `refreshh`,
		`refresh: "Mon 04:00 Mars/Base"`: `apps[shop].schedule.refresh: not a systemd calendar event`,
	}
	for line, want := range cases {
		_, err := Load(write(t, "apps:\n  - name: shop\n    s3: {bucket: b}\n    schedule:\n      "+line+"\n"))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("schedule %s: error %v, want %q", line, err, want)
		}
	}
}

func TestPathsNamesEveryFileAndDirectory(t *testing.T) {
	secret := write(t, "k\n")
	c, err := Load(write(t, `state_dir: /srv/lifeboat
metrics: {textfile_dir: /var/lib/prometheus/node-exporter}
serve: {hook_secret_file: `+secret+`}
apps:
  - name: shop
    s3: {bucket: b, credentials_file: `+secret+`}
    cache: {dir: /data/shop-archives}
  - name: blog
    s3: {bucket: b}
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.Paths() {
		got = append(got, fmt.Sprintf("%s=%s:%v", p.Key, p.Path, p.Dir))
	}
	want := []string{
		"state_dir=/srv/lifeboat:true",
		"apps[shop].s3.credentials_file=" + secret + ":false",
		"apps[shop].cache.dir=/data/shop-archives:true",
		"apps[blog].cache.dir=/srv/lifeboat/blog/archives:true",
		"metrics.textfile_dir=/var/lib/prometheus/node-exporter:true",
		"serve.hook_secret_file=" + secret + ":false",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Paths():\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestScheduledCaptureNeedsASource: a capture timer without capture.source
// would fail every night; the config says so up front.
func TestScheduledCaptureNeedsASource(t *testing.T) {
	_, err := Load(write(t, "apps:\n  - name: shop\n    s3: {bucket: b}\n    schedule: {capture: \"*-*-* 02:00:00 UTC\"}\n"))
	if err == nil || !strings.Contains(err.Error(), "schedule.capture") || !strings.Contains(err.Error(), "capture.source") {
		t.Fatalf("a scheduled capture without a source: %v", err)
	}
}
