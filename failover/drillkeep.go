package failover

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/names"
	"github.com/lifeboat-dr/lifeboat/failover/report"
)

// failedSoFar reports whether the drill, as recorded so far (before
// teardown and notifications), fails: runErr, or any reason Finalize would
// give. The report itself is not changed.
func failedSoFar(rep *report.Report, runErr error) bool {
	probe := *rep
	probe.Failures = append([]string{}, rep.Failures...)
	if runErr != nil {
		probe.Failures = append(probe.Failures, runErr.Error())
	}
	probe.Checks = append([]report.Check{}, rep.Checks...)
	probe.Finalize()
	return !probe.Pass()
}

// keptAccess says how to reach what a kept drill left running: psql in its
// database, its web process, the logs, and how to remove it all.
func (d *drill) keptAccess(ctx context.Context) []string {
	cs, err := d.Engine.ListContainers(ctx, d.Names.PurposeFilter(""), true)
	if err != nil {
		return []string{"cannot list the drill's containers: " + err.Error()}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	var out []string
	url := d.rep.AppHealth.URL
	for _, c := range cs {
		if ip := c.IPs[d.Names.Network()]; url == "" && c.Labels[engine.LabelRole] == "web" && c.State == "running" && ip != "" {
			// It never answered its health path: still, it may be reached.
			url = fmt.Sprintf("http://%s:%d%s", ip, d.App.Stack.Port, d.App.Stack.Health.Path)
		}
		switch c.Labels[engine.LabelRole] {
		case names.RoleDatabase:
			out = append(out, fmt.Sprintf("psql in the drill's database: docker exec -it %s psql -U postgres -d %s", c.Name, d.App.Database.Name))
		default:
			state := ""
			if c.State != "running" {
				state = fmt.Sprintf(" (%s, exit code %d)", c.State, c.ExitCode)
			}
			out = append(out, fmt.Sprintf("logs of %s%s: docker logs %s", c.Labels[engine.LabelRole], state, c.Name))
		}
	}
	if url != "" {
		out = append(out, "the app (from this host; its network has no way out): "+url)
	}
	return append(out, "remove it all: lifeboat drill --cleanup --app "+d.App.Name+" (the next drill removes it too)")
}

// CleanupDrills removes what earlier drills left behind (kept with --keep
// or --keep-on-failure, or killed): every drill container, volume and
// network of the app and the drills' working records. It returns what it
// removed. The caller holds the app's lock.
func (s *Standby) CleanupDrills(ctx context.Context) ([]string, error) {
	removed, err := s.cleanDrills(ctx)
	if err != nil {
		return removed, err
	}
	if err := os.RemoveAll(s.State.DrillWorkRoot()); err != nil {
		return removed, fmt.Errorf("removing the drills' working records: %w", err)
	}
	return removed, nil
}
