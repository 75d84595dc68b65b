package schedule

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// ErrNoSystemd is returned when systemd is not the running init (a
// container, a chroot, a laptop without it) or systemctl is missing.
var ErrNoSystemd = errors.New("systemd is not running on this machine")

// Systemctl runs systemctl commands.
type Systemctl interface {
	// Run runs `systemctl ARGS…` and returns its standard output. A
	// non-zero exit is an error carrying its standard error.
	Run(ctx context.Context, args ...string) (string, error)
}

// Exec is the Systemctl of this machine: the systemctl on PATH, run with
// TZ=UTC and LC_ALL=C so that its dates parse. Run returns ErrNoSystemd
// when systemd is not running.
type Exec struct{}

// Run implements Systemctl.
func (Exec) Run(ctx context.Context, args ...string) (string, error) {
	// sd_booted(3): systemd is PID 1 exactly when this directory exists.
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		return "", fmt.Errorf("%w (no /run/systemd/system): use `lifeboat schedule units --dir DIR` to write the units where they can be copied from", ErrNoSystemd)
	}
	bin, err := exec.LookPath("systemctl")
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoSystemd, err)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C", "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=", "SYSTEMD_LESS=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("systemctl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// show returns the given properties of each unit, in the order of units
// (systemctl show prints one block per unit, blank-line separated).
func show(ctx context.Context, sc Systemctl, units []string, props ...string) ([]map[string]string, error) {
	if len(units) == 0 {
		return nil, nil
	}
	args := append([]string{"show", "--timestamp=unix", "-p", strings.Join(props, ",")}, "--")
	out, err := sc.Run(ctx, append(args, units...)...)
	if err != nil {
		return nil, err
	}
	var blocks []map[string]string
	cur := map[string]string{}
	flush := func() {
		if len(cur) > 0 {
			blocks = append(blocks, cur)
			cur = map[string]string{}
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			cur[k] = v
		}
	}
	flush()
	if len(blocks) != len(units) {
		return nil, fmt.Errorf("systemctl show: %d answers for %d units", len(blocks), len(units))
	}
	return blocks, nil
}

// parseTime reads a timestamp of `systemctl show --timestamp=unix`
// ("@1733112453"), or a date as systemd formats it with TZ=UTC
// ("Wed 2025-12-03 04:07:12 UTC", which NextElapseUSecRealtime keeps).
// Empty and "n/a" are nil.
func parseTime(s string) *time.Time {
	s = strings.TrimSpace(s)
	if s == "" || s == "n/a" || s == "0" {
		return nil
	}
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		n, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || n == 0 {
			return nil
		}
		t := time.Unix(n, 0).UTC()
		return &t
	}
	t, err := time.Parse("Mon 2006-01-02 15:04:05 MST", s)
	if err != nil {
		return nil
	}
	t = t.UTC()
	return &t
}
