package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/textsafe"
)

// Errors of Up.
var (
	// ErrRelease: the release command failed; nothing else was started.
	ErrRelease = errors.New("release command failed")
	// ErrUnhealthy: web did not answer its health path with 2xx in time, or
	// a process exited.
	ErrUnhealthy = errors.New("app did not become healthy")
	// ErrNoProcesses: neither the config nor the image's Procfile says what to run.
	ErrNoProcesses = errors.New("no process types")
)

// Plan says what to run: the processes of one image against one database
// generation, in one mode.
type Plan struct {
	App        string
	Mode       Mode
	Purpose    string // standby or drill (the io.lifeboat.purpose label)
	Generation int
	// Prefix names the containers: {Prefix}-{type}-{n}.
	Prefix string
	Image  string
	// Processes to run, with their commands and counts.
	Processes map[string]Process
	// Release runs first; empty: no release phase.
	Release string
	// Shell: commands run with /bin/sh -c; false (an image without a
	// shell): split into words.
	Shell bool
	// Vars are the config vars before the per-process DYNO.
	Vars map[string]string
	Port int
	// Network is the app's internal network (the database is on it).
	Network string
	// PublicNetwork, when set, is the primary network (egress, published
	// ports) and Network is joined as well.
	PublicNetwork string
	// Publish web.1 on this host address; zero: not published.
	Publish HostPort
	Health  Health
	// Labels are added to every container (app, purpose, generation).
	Labels map[string]string
}

// Process is one process type: its command, and how many containers run it.
type Process struct {
	Command string
	Count   int
}

// Health is how web is known to be up: its Path answers 2xx within
// Timeout, asked every Interval.
type Health struct {
	Path     string
	Timeout  time.Duration
	Interval time.Duration
}

// HostPort is a host address to publish a port on ("0.0.0.0", 80).
type HostPort struct {
	Host string
	Port int
}

// ContainerName is the name of process n of a type.
func (p *Plan) ContainerName(typ string, n int) string {
	return fmt.Sprintf("%s-%s-%d", p.Prefix, typ, n)
}

// Result says what Up did.
type Result struct {
	// BootSeconds is the whole Up; StartSeconds the part creating and
	// starting the processes (after the release), HealthSeconds the wait
	// for web's health path.
	BootSeconds   float64        `json:"boot_seconds"`
	StartSeconds  float64        `json:"start_seconds"`
	HealthSeconds float64        `json:"health_seconds"`
	Release       *ReleaseResult `json:"release,omitempty"`
	Containers    []string       `json:"containers"`
	// WebURL is where web answered its health check.
	WebURL string `json:"web_url"`
}

// ReleaseResult is the release phase's outcome.
type ReleaseResult struct {
	Command  string  `json:"command"`
	ExitCode int     `json:"exit_code"`
	Seconds  float64 `json:"seconds"`
	Log      string  `json:"log"`
}

// Runner starts and stops app containers.
type Runner struct {
	Engine *engine.Engine
	// Progress gets a line per step; nil: none.
	Progress io.Writer
	// KeepFailed keeps a release container that failed (stopped, for its
	// logs) instead of removing it.
	KeepFailed bool
}

func (r *Runner) say(format string, args ...any) {
	if r.Progress != nil {
		fmt.Fprintf(r.Progress, format+"\n", args...)
	}
}

// Up runs the release command (it must succeed before anything else
// starts), then every process, then waits until web answers its health
// path with 2xx. On failure the containers it started are left for the
// caller to remove (Remove with the plan's labels), so their logs can be read.
func (r *Runner) Up(ctx context.Context, p *Plan) (*Result, error) {
	start := time.Now()
	res := &Result{Containers: []string{}}
	if len(p.Processes) == 0 {
		return res, ErrNoProcesses
	}
	if p.Release != "" {
		rr, err := r.release(ctx, p)
		res.Release = rr
		if err != nil {
			return res, err
		}
	}
	startAt := time.Now()
	names, err := r.startAll(ctx, p)
	res.Containers = append(res.Containers, names...)
	if err != nil {
		return res, err
	}
	res.StartSeconds = time.Since(startAt).Seconds()
	healthAt := time.Now()
	r.say("  waiting for web to answer %s", p.Health.Path)
	url, err := r.waitHealthy(ctx, p, res.Containers)
	res.WebURL = url
	res.HealthSeconds = time.Since(healthAt).Seconds()
	res.BootSeconds = time.Since(start).Seconds()
	return res, err
}

// startConcurrency bounds how many containers Up creates and starts at
// once: the engine does most of the work, and each start is mostly
// waiting on it (network attach, the overlay mount).
const startConcurrency = 4

// startAll creates and starts every process container, up to
// startConcurrency at a time (web's containers are queued first): on two
// CPUs, starting web and a worker side by side takes about half of one
// after the other. It returns the containers that started, web first then
// the others by type and number, whatever order they finished in, and the
// first error in that order.
func (r *Runner) startAll(ctx context.Context, p *Plan) ([]string, error) {
	types := make([]string, 0, len(p.Processes))
	for t := range p.Processes {
		types = append(types, t)
	}
	// web first, then the others by name.
	sort.Slice(types, func(i, j int) bool {
		if (types[i] == "web") != (types[j] == "web") {
			return types[i] == "web"
		}
		return types[i] < types[j]
	})
	type job struct {
		typ, cmd string
		n        int
	}
	var jobs []job
	for _, t := range types {
		for n := 1; n <= p.Processes[t].Count; n++ {
			jobs = append(jobs, job{typ: t, cmd: p.Processes[t].Command, n: n})
		}
	}
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, startConcurrency)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			publish := j.typ == "web" && j.n == 1 && p.Publish.Port != 0
			errs[i] = r.start(ctx, p, j.typ, j.n, j.cmd, publish)
		}()
	}
	wg.Wait()
	var started []string
	var first error
	for i, j := range jobs {
		if errs[i] != nil {
			if first == nil {
				first = errs[i]
			}
			continue
		}
		started = append(started, p.ContainerName(j.typ, j.n))
	}
	return started, first
}

// command turns a Procfile command into an entrypoint and arguments; an
// empty command keeps the image's own ENTRYPOINT and CMD.
func (p *Plan) command(cmd string) (entrypoint, args []string) {
	if strings.TrimSpace(cmd) == "" {
		return nil, nil
	}
	if p.Shell {
		return []string{"/bin/sh", "-c"}, []string{cmd}
	}
	f := strings.Fields(cmd)
	return f[:1], f[1:]
}

func (p *Plan) spec(typ string, n int, cmd string, publish bool) (engine.ContainerSpec, error) {
	ep, args := p.command(cmd)
	labels := map[string]string{engine.LabelRole: typ}
	for k, v := range p.Labels {
		labels[k] = v
	}
	vars := map[string]string{}
	for k, v := range p.Vars {
		vars[k] = v
	}
	vars["DYNO"] = fmt.Sprintf("%s.%d", typ, n)
	spec := engine.ContainerSpec{
		Name: p.ContainerName(typ, n), Image: p.Image, Entrypoint: ep, Cmd: args,
		Env: EnvList(vars), Labels: labels, Network: p.Network, Aliases: []string{p.ContainerName(typ, n)},
		StopTimeout: 30 * time.Second,
	}
	if typ != "release" {
		spec.RestartPolicy = "unless-stopped"
	}
	if p.PublicNetwork != "" {
		spec.Network = p.PublicNetwork
	}
	if publish {
		spec.Publish = []engine.Port{{HostIP: p.Publish.Host, HostPort: p.Publish.Port, ContainerPort: p.Port}}
	}
	return spec, nil
}

func (r *Runner) start(ctx context.Context, p *Plan, typ string, n int, cmd string, publish bool) error {
	spec, err := p.spec(typ, n, cmd, publish)
	if err != nil {
		return err
	}
	if err := r.Engine.RemoveContainer(ctx, spec.Name, false); err != nil && !errors.Is(err, engine.ErrNotFound) {
		return err
	}
	if _, err := r.Engine.CreateContainer(ctx, spec); err != nil {
		return err
	}
	if p.PublicNetwork != "" {
		if err := r.Engine.ConnectNetwork(ctx, p.Network, spec.Name, []string{spec.Name}); err != nil {
			return err
		}
	}
	if err := r.Engine.StartContainer(ctx, spec.Name); err != nil {
		return err
	}
	r.say("  started %s (%s.%d)", spec.Name, typ, n)
	return nil
}

// release runs the release command to completion.
func (r *Runner) release(ctx context.Context, p *Plan) (*ReleaseResult, error) {
	start := time.Now()
	rr := &ReleaseResult{Command: p.Release, ExitCode: -1}
	r.say("  release: %s", p.Release)
	if err := r.start(ctx, p, "release", 1, p.Release, false); err != nil {
		return rr, fmt.Errorf("%w: %w", ErrRelease, err)
	}
	name := p.ContainerName("release", 1)
	code, err := r.Engine.WaitContainer(ctx, name)
	rr.ExitCode, rr.Seconds = code, time.Since(start).Seconds()
	rr.Log = p.excerpt(context.WithoutCancel(ctx), r.Engine, name, 40)
	if !r.KeepFailed || (err == nil && code == 0) {
		r.Engine.RemoveContainer(context.WithoutCancel(ctx), name, true)
	}
	if err != nil {
		return rr, fmt.Errorf("%w: %w", ErrRelease, err)
	}
	if code != 0 {
		return rr, fmt.Errorf("%w: %q exited %d; nothing else was started. Its last lines:\n%s", ErrRelease, p.Release, code, indent(rr.Log))
	}
	return rr, nil
}

// waitHealthy polls web.1's health path from the host over the app's
// network until it answers 2xx, failing fast when a process exits.
func (r *Runner) waitHealthy(ctx context.Context, p *Plan, containers []string) (string, error) {
	start := time.Now()
	deadline := start.Add(p.Health.Timeout)
	client := &http.Client{Timeout: 5 * time.Second}
	last := "no answer yet"
	web := p.ContainerName("web", 1)
	if _, ok := p.Processes["web"]; !ok || p.Processes["web"].Count < 1 {
		web = ""
	}
	for {
		for _, name := range containers {
			c, err := r.Engine.InspectContainer(ctx, name)
			if err != nil {
				return "", fmt.Errorf("%w: %s: %w", ErrUnhealthy, name, err)
			}
			if c.State != "running" {
				logs := p.excerpt(ctx, r.Engine, name, 20)
				return "", fmt.Errorf("%w: %s is %s (exit code %d). Its last lines:\n%s", ErrUnhealthy, name, c.State, c.ExitCode, indent(logs))
			}
		}
		if web == "" {
			return "", nil // no web process: running is all we can check
		}
		c, err := r.Engine.InspectContainer(ctx, web)
		if err == nil {
			ip := c.IPs[p.Network]
			url := "http://" + ip + ":" + strconv.Itoa(p.Port) + p.Health.Path
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := client.Do(req)
			if err == nil {
				io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
				if resp.StatusCode >= 200 && resp.StatusCode < 300 {
					return url, nil
				}
				last = fmt.Sprintf("%s answered %d", url, resp.StatusCode)
			} else {
				last = err.Error()
			}
		}
		if time.Now().After(deadline) {
			logs := p.excerpt(ctx, r.Engine, web, 20)
			return "", fmt.Errorf("%w within %v: %s. web.1's last lines:\n%s", ErrUnhealthy, p.Health.Timeout, last, indent(logs))
		}
		// Poll fast at first (most apps answer within a second or two),
		// then at the configured interval.
		wait := p.Health.Interval
		if time.Since(start) < 3*time.Second {
			wait = min(wait, 100*time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(wait):
		}
	}
}

// Remove stops and removes every container matching labels.
func (r *Runner) Remove(ctx context.Context, labels map[string]string) ([]string, error) {
	cs, err := r.Engine.ListContainers(ctx, labels, true)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, c := range cs {
		if err := r.Engine.RemoveContainer(ctx, c.ID, true); err != nil && !errors.Is(err, engine.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, c.Name)
	}
	return removed, errors.Join(errs...)
}

// Healthy checks once that web answers its health path at url.
func Healthy(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return fmt.Errorf("%s answered %d", url, resp.StatusCode)
	}
	return nil
}

// excerpt returns the last n lines of a container's log with the value of
// every config var (the database URL and its password among them) hidden:
// excerpts go into errors, run records, drill reports, notifications and
// the status page.
func (p *Plan) excerpt(ctx context.Context, eng *engine.Engine, container string, n int) string {
	logs, _ := eng.Logs(ctx, container, n)
	var sc textsafe.Scrubber
	sc.AddVars(p.Vars)
	return sc.Scrub(logs)
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "    (no output)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
