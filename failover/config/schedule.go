package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/calendar"
	"github.com/lifeboat-dr/lifeboat/failover/units"
)

func (s *Schedule) applyDefaults() {
	for _, f := range []struct {
		v   *string
		def string
	}{{&s.Refresh, DefaultRefreshSchedule}, {&s.Drill, DefaultDrillSchedule}, {&s.Check, DefaultCheckSchedule}, {&s.Capture, DefaultCaptureSchedule}} {
		*f.v = strings.TrimSpace(*f.v)
		if *f.v == "" {
			*f.v = f.def
		}
	}
	if s.RandomizedDelay == nil {
		d := units.Duration(10 * time.Minute)
		s.RandomizedDelay = &d
	}
	if s.Timeout == 0 {
		s.Timeout = units.Duration(12 * time.Hour)
	}
}

// validate checks each calendar event as systemd would, and that it still
// elapses: a timer that never fires is a standby that silently goes stale.
func (s Schedule) validate(key string, add func(key, format string, args ...any)) {
	now := time.Now()
	for _, j := range s.Jobs() {
		if j.Off() {
			continue
		}
		ev, err := calendar.Parse(j.Calendar)
		if err != nil {
			add(key+"."+j.Name, "%v (systemd calendar syntax, e.g. \"*-*-* 04:00:00 UTC\", \"Sun 06:00\", \"hourly\"; or off)", err)
			continue
		}
		if _, ok := ev.Next(now); !ok {
			add(key+"."+j.Name, "%q never elapses again (normalized: %s)", j.Calendar, ev.Normalized())
		}
	}
	if d := s.RandomizedDelay; d != nil && (*d < 0 || d.D() > 24*time.Hour) {
		add(key+".randomized_delay", "must be between 0s and 24h, got %s", *d)
	}
	if s.Timeout < units.Duration(time.Minute) {
		add(key+".timeout", "must be at least 1m, got %s", s.Timeout)
	}
}

// PathKey is a file or directory the config names, with its key.
type PathKey struct {
	Key  string
	Path string
	// Dir is true for directories Lifeboat writes to (state_dir, cache.dir,
	// metrics.textfile_dir); false for files it reads (secrets, env files).
	Dir bool
}

// Paths lists every file and directory the config names (keys ending in
// _file or _dir, and cache.dir), with the key that names it, in the order
// of the config; empty values are left out. It lets `lifeboat schedule`
// give the scheduled runs access to exactly these paths.
func (c *Config) Paths() []PathKey {
	var out []PathKey
	walkPaths(reflect.ValueOf(*c), "", &out)
	return out
}

func walkPaths(v reflect.Value, prefix string, out *[]PathKey) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("mapstructure"), ",")[0]
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		fv := v.Field(i)
		switch {
		case f.Type.Kind() == reflect.Struct:
			walkPaths(fv, key, out)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			for j := 0; j < fv.Len(); j++ {
				item := fv.Index(j)
				ik := fmt.Sprintf("%s[%d]", key, j)
				if name := item.FieldByName("Name"); name.IsValid() && name.Kind() == reflect.String && name.String() != "" {
					ik = fmt.Sprintf("%s[%s]", key, name.String())
				}
				walkPaths(item, ik, out)
			}
		case f.Type.Kind() == reflect.String && fv.String() != "":
			switch {
			case strings.HasSuffix(tag, "_file"):
				*out = append(*out, PathKey{Key: key, Path: fv.String()})
			case strings.HasSuffix(tag, "_dir") || tag == "dir":
				*out = append(*out, PathKey{Key: key, Path: fv.String(), Dir: true})
			}
		}
	}
}
