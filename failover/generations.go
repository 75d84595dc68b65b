package failover

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/names"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// ErrNoRollback is returned by Rollback when no earlier verified generation is kept.
var ErrNoRollback = errors.New("no earlier verified generation to roll back to")

// retire keeps the newest keep_generations verified generations besides
// current (stopped, for rollback, unless keepRunning) and removes older ones.
func (s *Standby) retire(ctx context.Context, current int, keepRunning bool) ([]int, error) {
	list, err := s.State.List()
	if err != nil {
		return nil, err
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Number > list[j].Number })
	kept := 0
	var retired []int
	var errs []error
	for _, g := range list {
		if g.Number == current || g.Status != state.StatusReady {
			continue
		}
		if kept < s.App.Database.KeepGenerations {
			kept++
			if !keepRunning {
				if err := s.Server(g).Stop(ctx); err != nil {
					errs = append(errs, err)
				}
			}
			continue
		}
		if err := s.Server(g).Remove(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		g.Status = state.StatusRetired
		if err := s.State.Save(g); err != nil {
			errs = append(errs, err)
		}
		retired = append(retired, g.Number)
		s.say("retired generation %d", g.Number)
	}
	return retired, errors.Join(errs...)
}

// StopPrevious stops every kept generation but the current one: refresh
// calls it once the app runs on the new generation.
func (s *Standby) StopPrevious(ctx context.Context) error {
	cur, err := s.State.Current()
	if err != nil {
		return err
	}
	_, err = s.retire(ctx, cur.Generation, false)
	return err
}

// CleanLeftovers removes what interrupted runs left behind: database
// containers and volumes of generations that are not verified (building,
// failed, retired, or unknown to the records), and marks records of killed
// builds failed. It never touches the current generation or kept ones.
func (s *site) CleanLeftovers(ctx context.Context) ([]string, error) {
	cleaned := []string{}
	current := 0
	if cur, err := s.State.Current(); err == nil {
		current = cur.Generation
	}
	records, err := s.State.List()
	if err != nil {
		return cleaned, err
	}
	status := map[int]string{}
	for _, g := range records {
		if g.Status == state.StatusBuilding && g.Number != current {
			g.Status = state.StatusFailed
			g.Error = "interrupted: the run building it was killed; its leftovers were removed by the next run"
			g.FinishedAt = time.Now().UTC()
			if err := s.State.Save(g); err != nil {
				return cleaned, err
			}
			cleaned = append(cleaned, fmt.Sprintf("generation %d (interrupted build)", g.Number))
		}
		status[g.Number] = g.Status
	}
	keep := func(n int) bool { return n == current || status[n] == state.StatusReady }
	filter := s.Names.PurposeFilter(names.RoleDatabase)
	cs, err := s.Engine.ListContainers(ctx, filter, true)
	if err != nil {
		return cleaned, err
	}
	for _, c := range cs {
		n := names.GenerationOf(c.Labels)
		if n == 0 || keep(n) {
			continue
		}
		if err := s.Engine.RemoveContainer(ctx, c.ID, true); err != nil && !errors.Is(err, engine.ErrNotFound) {
			return cleaned, err
		}
		cleaned = append(cleaned, "container "+c.Name)
	}
	vs, err := s.Engine.ListVolumes(ctx, filter)
	if err != nil {
		return cleaned, err
	}
	for _, v := range vs {
		n := names.GenerationOf(v.Labels)
		if n == 0 || keep(n) {
			continue
		}
		if err := s.Engine.RemoveVolume(ctx, v.Name); err != nil && !errors.Is(err, engine.ErrNotFound) {
			return cleaned, err
		}
		cleaned = append(cleaned, "volume "+v.Name)
	}
	// App containers of a generation that is not current: a refresh
	// killed while starting the app on its new generation leaves them.
	if !s.Names.IsDrill() {
		apps, err := s.Engine.ListContainers(ctx, s.Names.PurposeFilter(""), true)
		if err != nil {
			return cleaned, err
		}
		for _, c := range apps {
			n := names.GenerationOf(c.Labels)
			if n == 0 || c.Labels[engine.LabelRole] == names.RoleDatabase || n == current {
				continue
			}
			if err := s.Engine.RemoveContainer(ctx, c.ID, true); err != nil && !errors.Is(err, engine.ErrNotFound) {
				return cleaned, err
			}
			cleaned = append(cleaned, "container "+c.Name)
		}
	}
	if len(cleaned) > 0 {
		s.Log.Info("removed leftovers of interrupted runs", "items", cleaned)
	}
	return cleaned, nil
}

// Rollback makes the previous verified generation current again: it
// starts its container, waits until it answers, then moves the pointer.
// The generation rolled back from is stopped and kept.
func (s *Standby) Rollback(ctx context.Context) (*state.Generation, error) {
	cur, err := s.State.Current()
	if errors.Is(err, state.ErrNoCurrent) {
		return nil, ErrNoDatabase
	}
	if err != nil {
		return nil, err
	}
	records, err := s.State.List()
	if err != nil {
		return nil, err
	}
	var target *state.Generation
	for _, g := range records {
		if g.Status != state.StatusReady || g.Number == cur.Generation {
			continue
		}
		if g.Number == cur.Previous {
			target = g
			break
		}
		if g.Number < cur.Generation && (target == nil || g.Number > target.Number) {
			target = g
		}
	}
	if target == nil {
		return nil, fmt.Errorf("%w (keep_generations: %d)", ErrNoRollback, s.App.Database.KeepGenerations)
	}
	from, err := s.State.Load(cur.Generation)
	if err != nil {
		return nil, err
	}
	fromSrv, targetSrv := s.Server(from), s.Server(target)
	// A published port is held by one container at a time.
	if target.Published != "" {
		if err := fromSrv.Stop(ctx); err != nil {
			return nil, err
		}
	}
	if err := targetSrv.Start(ctx); err != nil {
		fromSrv.Start(ctx)
		return nil, fmt.Errorf("starting generation %d: %w", target.Number, err)
	}
	if _, err := targetSrv.WaitReady(ctx); err != nil {
		targetSrv.Stop(ctx)
		fromSrv.Start(ctx)
		return nil, fmt.Errorf("generation %d does not answer, staying on %d: %w", target.Number, from.Number, err)
	}
	if err := s.State.SetCurrent(target.Number); err != nil {
		return nil, err
	}
	if err := fromSrv.Stop(ctx); err != nil {
		s.Log.Warn("could not stop the generation rolled back from", "generation", from.Number, "err", err)
	}
	return target, nil
}
