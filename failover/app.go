package failover

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/database"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/names"
	"github.com/lifeboat-dr/lifeboat/failover/stack"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// ErrNoStack is returned by app operations when the config names no app image.
var ErrNoStack = errors.New("no app image configured (app.image)")

// procfilePaths are where images keep their Procfile: the root, Heroku's
// /app, Cloud Native Buildpacks' /workspace.
var procfilePaths = []string{"/Procfile", "/app/Procfile", "/workspace/Procfile"}

// appPlan is what to run for generation g in a mode, with image img.
func (s *site) appPlan(ctx context.Context, g *state.Generation, mode stack.Mode, img engine.Image) (*stack.Plan, error) {
	cfg := s.App.Stack
	procs, release, err := s.processes(ctx, img)
	if err != nil {
		return nil, err
	}
	if mode == stack.ModeStandby || mode == stack.ModeDrill {
		only := map[string]bool{}
		for _, p := range cfg.StandbyProcesses {
			only[p] = true
		}
		for name := range procs {
			if !only[name] && mode == stack.ModeStandby {
				delete(procs, name)
			}
		}
	}
	shell, err := s.imageShell(ctx, img)
	if err != nil {
		return nil, err
	}
	snap, err := stack.LoadSnapshot(s.rowsStore().ConfigVarsFile())
	if err != nil {
		return nil, err
	}
	envFile, err := stack.ReadEnvFile(cfg.EnvFile)
	if err != nil {
		return nil, err
	}
	dbURL, err := s.Server(g).InternalURL()
	if err != nil {
		return nil, err
	}
	overrides := stack.Overrides{Drop: cfg.DropVars, Set: cfg.Vars, Serving: cfg.ServingVars, Port: cfg.Port}
	p := &stack.Plan{
		App: s.App.Name, Mode: mode, Purpose: s.Names.Purpose(), Generation: g.Number,
		Prefix: s.Names.AppPrefix(g.Number), Image: img.ID,
		Processes: procs, Release: release, Shell: shell,
		Vars: stack.Vars(overrides, snap.Vars, envFile, mode, dbURL, ""), Port: cfg.Port,
		Network: g.Network,
		Health:  stack.Health{Path: cfg.Health.Path, Timeout: cfg.Health.Timeout.D(), Interval: cfg.Health.Interval.D()},
		Labels:  s.Names.Labels("", g.Number),
	}
	if mode == stack.ModeServing {
		host, port, err := config.ParseHostPort(cfg.Publish)
		if err != nil {
			return nil, fmt.Errorf("app.stack.publish: %w", err)
		}
		p.PublicNetwork, p.Publish = s.Names.PublicNetwork(), stack.HostPort{Host: host, Port: port}
	}
	return p, nil
}

// herokuAPI is the Platform API access of app.stack.heroku.
func herokuAPI(h config.Heroku) stack.HerokuAPI {
	return stack.HerokuAPI{App: h.App, TokenFile: h.TokenFile, APIURL: h.APIURL}
}

// processes are the config's process types, or the image's Procfile's.
func (s *site) processes(ctx context.Context, img engine.Image) (map[string]stack.Process, string, error) {
	cfg := s.App.Stack
	procs := map[string]stack.Process{}
	for k, v := range cfg.Processes {
		if v.Count == 0 {
			v.Count = 1
		}
		procs[k] = stack.Process{Command: v.Command, Count: v.Count}
	}
	release := cfg.Release
	if len(procs) == 0 || release == "" {
		var procfile map[string]string
		paths := append([]string{}, procfilePaths...)
		if img.WorkingDir != "" {
			paths = append(paths, img.WorkingDir+"/Procfile")
		}
		text, p, err := s.imageProcfile(ctx, img, paths)
		if err != nil {
			return nil, "", err
		}
		if p != "" {
			if procfile, err = stack.ParseProcfile([]byte(text)); err != nil {
				return nil, "", fmt.Errorf("%s in image %s: %w", p, cfg.Image, err)
			}
		}
		if len(procs) == 0 {
			for name, cmd := range procfile {
				if name != "release" {
					procs[name] = stack.Process{Command: cmd, Count: 1}
				}
			}
		}
		if release == "" {
			release = procfile["release"]
		}
	}
	if release == "none" {
		release = ""
	}
	if len(procs) == 0 {
		// No Procfile: web is whatever the image runs by default.
		procs["web"] = stack.Process{Count: 1}
	}
	return procs, release, nil
}

// appImage returns the app image: pulled to its newest version when pull
// is set (refresh), else the local copy only (failover must not depend on
// a registry). A pull that fails with a local copy present gives the local
// copy and a warning.
func (s *site) appImage(ctx context.Context, pull bool) (engine.Image, []string, error) {
	ref := s.App.Stack.Image
	if !pull {
		img, err := s.Engine.InspectImage(ctx, ref)
		if errors.Is(err, engine.ErrNotFound) {
			return img, nil, fmt.Errorf("%w: app image %s is not on this host: run `lifeboat refresh` while the registry is reachable", engine.ErrImageMissing, ref)
		}
		return img, nil, err
	}
	// An image built on this host (no registry digest) has nowhere to be
	// pulled from: asking a public registry for its tag only fails.
	if local, err := s.Engine.InspectImage(ctx, ref); err == nil && len(local.RepoDigests) == 0 {
		s.say("using the local image %s (built on this host, not pulled from a registry)", ref)
		return local, nil, nil
	}
	img, err := s.Engine.PullImage(ctx, ref, nil)
	if errors.Is(err, engine.ErrStaleImage) {
		return img, []string{err.Error()}, nil
	}
	return img, nil, err
}

// UpResult says what Up did.
type UpResult struct {
	Generation int           `json:"generation"`
	Mode       string        `json:"mode"`
	Image      string        `json:"image"`
	ImageID    string        `json:"image_id"`
	Stack      *stack.Result `json:"stack"`
	Warnings   []string      `json:"warnings"`
}

// Up starts the app on the current generation in the current mode
// (serving after a failover, else standby), replacing the app containers
// of that generation.
func (s *Standby) Up(ctx context.Context) (*UpResult, error) {
	if !s.App.Stack.Enabled() {
		return nil, ErrNoStack
	}
	g, err := s.CurrentGeneration()
	if err != nil {
		return nil, err
	}
	mode := stack.ModeStandby
	if sv, err := s.State.Serving(); err == nil && sv != nil {
		mode = stack.ModeServing
	}
	if err := s.ensureDatabaseRunning(ctx, g); err != nil {
		return nil, err
	}
	img, warnings, err := s.appImage(ctx, false)
	if err != nil {
		return nil, err
	}
	res, err := s.startApp(ctx, g, mode, img, true)
	if res != nil {
		res.Warnings = append(res.Warnings, warnings...)
	}
	return res, err
}

// startApp replaces generation g's app containers with new ones in mode
// and waits until web is healthy. The release phase runs only with
// release set: like Heroku, on a new release (new data or a new image),
// not when the same release is restarted or switched to serving. On
// failure the new containers are removed (their logs are in the error),
// unless the site keeps them (KeepFailedApp).
func (s *site) startApp(ctx context.Context, g *state.Generation, mode stack.Mode, img engine.Image, release bool) (*UpResult, error) {
	plan, err := s.appPlan(ctx, g, mode, img)
	if err != nil {
		return nil, err
	}
	if !release {
		plan.Release = ""
	}
	res := &UpResult{Generation: g.Number, Mode: string(mode), Image: s.App.Stack.Image, ImageID: img.ID, Warnings: []string{}}
	if plan.PublicNetwork != "" {
		if _, err := s.Engine.EnsureNetwork(ctx, plan.PublicNetwork, false, s.Names.Labels(names.RoleNetwork, 0)); err != nil {
			return res, err
		}
	}
	if err := s.removeApp(ctx, g.Number); err != nil {
		return res, err
	}
	if s.Names.IsDrill() {
		// A drill's database is its own, outside the standby's
		// generations: its number would name one `generations` never shows.
		s.say("starting the app on the drill's database (%s)", mode)
	} else {
		s.say("starting the app on generation %d (%s)", g.Number, mode)
	}
	runner := &stack.Runner{Engine: s.Engine, Progress: s.Progress, KeepFailed: s.KeepFailedApp}
	res.Stack, err = runner.Up(ctx, plan)
	if err != nil {
		if !s.KeepFailedApp {
			s.removeApp(context.WithoutCancel(ctx), g.Number)
		}
		return res, err
	}
	counts := map[string]int{}
	for name, p := range plan.Processes {
		counts[name] = p.Count
	}
	published := "" // as the config writes it ("0.0.0.0:80")
	if plan.Publish.Port != 0 {
		published = s.App.Stack.Publish
	}
	rec := &state.StackRecord{Generation: g.Number, Mode: string(mode), Image: s.App.Stack.Image, ImageID: img.ID,
		Processes: counts, StartedAt: time.Now().UTC(), BootSeconds: res.Stack.BootSeconds, WebURL: res.Stack.WebURL, Published: published}
	return res, s.State.SaveStack(rec)
}

// removeApp removes the app containers of generation n (0: of every
// generation), never the database's.
func (s *site) removeApp(ctx context.Context, n int) error {
	_, err := s.removeAppContainers(ctx, n)
	return err
}

// removeAppContainers removes the app containers of generation n (0: of
// every generation) and returns their names.
func (s *site) removeAppContainers(ctx context.Context, n int) ([]string, error) {
	cs, err := s.Engine.ListContainers(ctx, s.Names.Filter("", n), true)
	if err != nil {
		return nil, err
	}
	removed := []string{}
	var errs []error
	for _, c := range cs {
		if c.Labels[engine.LabelRole] == names.RoleDatabase {
			continue
		}
		switch err := s.Engine.RemoveContainer(ctx, c.ID, true); {
		case err == nil:
			removed = append(removed, c.Name)
		case !errors.Is(err, engine.ErrNotFound):
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// removeOtherApps removes app containers of every generation but keep.
func (s *Standby) removeOtherApps(ctx context.Context, keep int) error {
	cs, err := s.Engine.ListContainers(ctx, names.Standby(s.App.Name).PurposeFilter(""), true)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range cs {
		if c.Labels[engine.LabelRole] == names.RoleDatabase || names.GenerationOf(c.Labels) == keep {
			continue
		}
		if err := s.Engine.RemoveContainer(ctx, c.ID, true); err != nil && !errors.Is(err, engine.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Down stops and removes the app's containers (the database stays).
// It returns the names of the containers removed (none when the app was
// not running).
func (s *Standby) Down(ctx context.Context) ([]string, error) {
	removed, err := s.removeAppContainers(ctx, 0)
	if err != nil {
		return removed, err
	}
	return removed, s.State.ClearStack()
}

// ensureDatabaseRunning starts generation g's container when it is stopped
// and waits until it answers.
func (s *site) ensureDatabaseRunning(ctx context.Context, g *state.Generation) error {
	err := s.Server(g).EnsureRunning(ctx, func() { s.say("starting database generation %d", g.Number) })
	if errors.Is(err, engine.ErrNotFound) {
		return databaseGone(g)
	}
	return err
}

// Process is one container as `lifeboat ps` shows it.
type Process struct {
	Name       string    `json:"name"`
	App        string    `json:"app"`
	Role       string    `json:"role"`
	Purpose    string    `json:"purpose"`
	Generation int       `json:"generation"`
	Image      string    `json:"image"`
	ImageID    string    `json:"image_id"`
	State      string    `json:"state"`
	Health     string    `json:"health"`
	Current    bool      `json:"current"`
	Created    time.Time `json:"created"`
	Ports      []string  `json:"ports"`
}

// PS lists every Lifeboat container of the app (purpose standby and drill),
// with a live health check of web and database containers.
func (s *Standby) PS(ctx context.Context) ([]Process, error) {
	cs, err := s.Engine.ListContainers(ctx, s.Names.AppFilter(""), true)
	if err != nil {
		return nil, err
	}
	cur := 0
	if c, err := s.State.Current(); err == nil {
		cur = c.Generation
	}
	out := []Process{}
	for _, c := range cs {
		if c.Labels[engine.LabelRole] == names.RoleProbe {
			continue
		}
		n := names.GenerationOf(c.Labels)
		img := c.Image
		if c.Labels[engine.LabelRole] != names.RoleDatabase && c.ImageID == c.Image && s.App.Stack.Image != "" {
			img = s.App.Stack.Image // containers run the image by ID; show its name
		}
		p := Process{Name: c.Name, App: c.Labels[engine.LabelApp], Role: c.Labels[engine.LabelRole], Purpose: c.Labels[engine.LabelPurpose],
			Generation: n, Image: img, ImageID: c.ImageID, State: c.State, Health: "-", Created: c.Created,
			Current: n == cur && c.Labels[engine.LabelPurpose] == names.PurposeStandby, Ports: []string{}}
		for _, port := range c.Ports {
			p.Ports = append(p.Ports, fmt.Sprintf("%s:%d->%d", port.HostIP, port.HostPort, port.ContainerPort))
		}
		if c.State == "running" {
			p.Health = s.health(ctx, c)
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *Standby) health(ctx context.Context, c engine.Container) string {
	switch c.Labels[engine.LabelRole] {
	case names.RoleWeb:
		ip := ""
		for _, v := range c.IPs {
			ip = v
			break
		}
		if ip2 := c.IPs[s.Names.Network()]; ip2 != "" {
			ip = ip2
		}
		if ip == "" {
			return "unknown"
		}
		if err := stack.Healthy(ctx, "http://"+ip+":"+strconv.Itoa(s.App.Stack.Port)+s.App.Stack.Health.Path); err != nil {
			return "unhealthy: " + err.Error()
		}
		return "healthy"
	case names.RoleDatabase:
		n := names.GenerationOf(c.Labels)
		g, err := s.State.Load(n)
		if err != nil {
			return "unknown"
		}
		url, err := s.Server(g).URL(ctx)
		if err != nil {
			return "unknown"
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if _, err := database.WaitReady(cctx, url, time.Second, nil); err != nil {
			return "unhealthy"
		}
		return "healthy"
	}
	return "-"
}
