// Package stack runs an app's Docker image the way Heroku runs it: one
// container per process (web.1, worker.1, …) with PORT, DYNO and the app's
// config vars, DATABASE_URL pointing at the standby database, a release
// phase that must succeed first, and web healthy only once its health path
// answers 2xx. It also owns the config vars: an env file on the VPS, and
// snapshots of the Heroku Platform API kept for when Heroku is down.
package stack

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// ErrEnvFile is returned for an env file that cannot be read or parsed.
var ErrEnvFile = errors.New("bad env file")

// ParseEnvFile reads KEY=VALUE lines (blank lines and # comments ignored,
// optional "export ", values optionally in single or double quotes).
func ParseEnvFile(b []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			// Never echo the line: it may hold a secret.
			return nil, fmt.Errorf("%w: line %d is not KEY=VALUE", ErrEnvFile, n)
		}
		v = strings.TrimSpace(v)
		switch {
		case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
			v = strings.NewReplacer(`\n`, "\n", `\"`, `"`, `\\`, `\`).Replace(v[1 : len(v)-1])
		case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
			v = v[1 : len(v)-1]
		}
		out[k] = v
	}
	return out, sc.Err()
}

// Mode is what the stack is doing: waiting as a standby, or serving users
// after a failover (drills run in their own mode).
type Mode string

// Modes.
const (
	ModeStandby Mode = "standby"
	ModeServing Mode = "serving"
	ModeDrill   Mode = "drill"
)

// Overrides are the config's changes to the app's config vars on the
// standby (app.stack: drop_vars, vars, serving_vars) and the port web
// listens on (PORT).
type Overrides struct {
	Drop    []string
	Set     map[string]string
	Serving map[string]string
	Port    int
}

// Vars computes the config vars of one process container:
//
//  1. the last Heroku snapshot, then the env file on top (the VPS wins);
//  2. drop_vars removed, vars added or overridden;
//  3. serving_vars on top while serving;
//  4. DATABASE_URL (and any var holding the same URL as Heroku's
//     DATABASE_URL, such as HEROKU_POSTGRESQL_NAVY_URL) replaced by the
//     standby database; PORT and DYNO set as Heroku sets them.
func Vars(o Overrides, snapshot, envFile map[string]string, mode Mode, databaseURL string, dyno string) map[string]string {
	out := map[string]string{}
	for k, v := range snapshot {
		out[k] = v
	}
	for k, v := range envFile {
		out[k] = v
	}
	for _, k := range o.Drop {
		delete(out, k)
	}
	for k, v := range o.Set {
		out[k] = v
	}
	if mode == ModeServing {
		for k, v := range o.Serving {
			out[k] = v
		}
	}
	if orig := out["DATABASE_URL"]; orig != "" {
		for k, v := range out {
			if v == orig {
				out[k] = databaseURL
			}
		}
	}
	out["DATABASE_URL"] = databaseURL
	out["PORT"] = fmt.Sprint(o.Port)
	out["DYNO"] = dyno
	out["LIFEBOAT_MODE"] = string(mode)
	return out
}

// EnvList renders vars as sorted KEY=VALUE strings for a container.
func EnvList(vars map[string]string) []string {
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// ReadEnvFile reads and parses the env file at path ("" gives none).
func ReadEnvFile(path string) (map[string]string, error) {
	if path == "" {
		return map[string]string{}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEnvFile, err)
	}
	m, err := ParseEnvFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ParseProcfile reads a Procfile: "type: command" per line.
func ParseProcfile(b []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, cmd, ok := strings.Cut(line, ":")
		name, cmd = strings.TrimSpace(name), strings.TrimSpace(cmd)
		if !ok || name == "" || cmd == "" {
			return nil, fmt.Errorf("Procfile line %d is not \"type: command\"", n)
		}
		out[name] = cmd
	}
	return out, sc.Err()
}
