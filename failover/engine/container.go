package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Mount is a volume or bind mount of a container.
type Mount struct {
	Type     string // "volume" or "bind"
	Source   string // volume name, or host path for a bind
	Target   string // path in the container
	ReadOnly bool
}

// Mount types.
const (
	MountVolume = "volume"
	MountBind   = "bind"
)

// Port is a published TCP port: HostIP:HostPort on the host forwards to
// ContainerPort. An empty HostIP means every host address; HostPort 0 lets
// the daemon pick a free port (read it back with InspectContainer).
type Port struct {
	HostIP        string
	HostPort      int
	ContainerPort int
}

// Healthcheck is a container health check; zero durations take the daemon's
// defaults (30s interval, 30s timeout, 3 retries).
type Healthcheck struct {
	Test        []string // {"CMD", "pg_isready"} or {"CMD-SHELL", "pg_isready -U postgres"}
	Interval    time.Duration
	Timeout     time.Duration
	StartPeriod time.Duration
	Retries     int
}

// Restart policies for ContainerSpec.RestartPolicy.
const (
	RestartNo            = "no"
	RestartUnlessStopped = "unless-stopped"
	RestartOnFailure     = "on-failure"
	RestartAlways        = "always"
)

// ContainerSpec describes a container to create.
type ContainerSpec struct {
	Name       string // "" lets the daemon pick one (for throwaway probes); Lifeboat names the rest
	Image      string // must be local (see EnsureImage): creating never pulls
	Cmd        []string
	Entrypoint []string // nil keeps the image's
	Env        []string // KEY=value; may hold secrets: never logged nor put in errors
	User       string
	WorkingDir string
	Labels     map[string]string

	// Network is attached at creation, with Aliases as extra DNS names on
	// it. Empty means the daemon's default bridge network.
	Network string
	Aliases []string

	// Mounts: a "volume" mount of a volume that does not exist makes the
	// daemon create it without labels, so create volumes first (CreateVolume).
	// Image VOLUMEs not covered here get anonymous volumes (see Image.Volumes).
	Mounts []Mount
	// Publish: host ports forwarding to the container. Not possible from an
	// internal network (CreateContainer refuses): the host reaches containers
	// on any bridge network at their IP (Container.IPs).
	Publish []Port

	RestartPolicy string        // "", "no", "unless-stopped", "on-failure", "always"
	StopTimeout   time.Duration // grace before SIGKILL on stop; 0 keeps the daemon's 10s
	StopSignal    string        // "" keeps the image's (SIGTERM by default); postgres likes SIGINT
	Memory        int64         // bytes; 0 = unlimited
	ShmSize       int64         // bytes of /dev/shm; 0 = daemon default (64 MiB)
	Healthcheck   *Healthcheck
}

// Container is a container as the daemon describes it.
type Container struct {
	ID        string
	Name      string // without the leading "/"
	Image     string // as asked for at creation
	ImageID   string // sha256:…
	Labels    map[string]string
	State     string // created, running, paused, restarting, removing, exited, dead
	Health    string // healthy, unhealthy, starting, or "" without a health check
	ExitCode  int
	Created   time.Time
	StartedAt time.Time         // zero if never started
	IPs       map[string]string // network name -> IPv4 address on it
	Ports     []Port            // published ports (the actual ones once running)
	Mounts    []Mount
	Env       []string // holds secrets: never log it
}

// Running reports whether the container is running.
func (c Container) Running() bool { return c.State == "running" }

// CreateContainer creates (does not start) a container and returns its ID.
// ErrConflict when the name is taken; ErrImageMissing when the image is not
// local (creating never pulls: call EnsureImage first); ErrNotFound when the
// network does not exist.
func (e *Engine) CreateContainer(ctx context.Context, spec ContainerSpec) (string, error) {
	what := fmt.Sprintf("create container %q", spec.Name)
	if spec.Image == "" {
		return "", fmt.Errorf("%s: no image given", what)
	}
	cfg := &container.Config{
		Image:      spec.Image,
		Cmd:        spec.Cmd,
		Entrypoint: spec.Entrypoint,
		Env:        spec.Env,
		User:       spec.User,
		WorkingDir: spec.WorkingDir,
		Labels:     spec.Labels,
		StopSignal: spec.StopSignal,
	}
	if spec.StopTimeout > 0 {
		secs := int((spec.StopTimeout + time.Second - 1) / time.Second)
		cfg.StopTimeout = &secs
	}
	if h := spec.Healthcheck; h != nil {
		cfg.Healthcheck = &container.HealthConfig{
			Test:        h.Test,
			Interval:    h.Interval,
			Timeout:     h.Timeout,
			StartPeriod: h.StartPeriod,
			Retries:     h.Retries,
		}
	}
	host := &container.HostConfig{
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyMode(spec.RestartPolicy)},
		ShmSize:       spec.ShmSize,
	}
	host.Memory = spec.Memory
	for _, m := range spec.Mounts {
		if m.Type != MountVolume && m.Type != MountBind {
			return "", fmt.Errorf("%s: mount of %s: type %q is neither %q nor %q", what, m.Target, m.Type, MountVolume, MountBind)
		}
		host.Mounts = append(host.Mounts, mount.Mount{
			Type: mount.Type(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly,
		})
	}
	if len(spec.Publish) > 0 {
		cfg.ExposedPorts = network.PortSet{}
		host.PortBindings = network.PortMap{}
	}
	for _, p := range spec.Publish {
		cport, ok := network.PortFrom(uint16(p.ContainerPort), network.TCP)
		if !ok || p.ContainerPort <= 0 || p.ContainerPort > 65535 || p.HostPort < 0 || p.HostPort > 65535 {
			return "", fmt.Errorf("%s: bad published port %+v", what, p)
		}
		var hostIP netip.Addr
		if p.HostIP != "" {
			ip, err := netip.ParseAddr(p.HostIP)
			if err != nil {
				return "", fmt.Errorf("%s: bad host IP %q for port %d: %v", what, p.HostIP, p.ContainerPort, err)
			}
			hostIP = ip
		}
		hostPort := ""
		if p.HostPort > 0 {
			hostPort = strconv.Itoa(p.HostPort)
		}
		cfg.ExposedPorts[cport] = struct{}{}
		host.PortBindings[cport] = append(host.PortBindings[cport], network.PortBinding{HostIP: hostIP, HostPort: hostPort})
	}
	var netcfg *network.NetworkingConfig
	if spec.Network != "" {
		// The daemon creates a container on a network that does not exist
		// (it fails only at start) and accepts published ports on an
		// internal network, then silently publishes nothing: check first.
		n, err := e.InspectNetwork(ctx, spec.Network)
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		if n.Internal && len(spec.Publish) > 0 {
			return "", fmt.Errorf("%s: cannot publish ports from the internal network %q (the daemon would silently publish nothing): reach the container at its IP on that network from the host instead", what, spec.Network)
		}
	}
	if spec.Network != "" {
		host.NetworkMode = container.NetworkMode(spec.Network)
		netcfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			spec.Network: {Aliases: spec.Aliases},
		}}
	}
	res, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:             spec.Name,
		Config:           cfg,
		HostConfig:       host,
		NetworkingConfig: netcfg,
	})
	if err != nil {
		if cerrdefs.IsNotFound(err) && strings.Contains(strings.ToLower(err.Error()), "no such image") {
			return "", fmt.Errorf("%s: %w", what, imageMissing(spec.Image, nil))
		}
		return "", e.classify(err, what)
	}
	return res.ID, nil
}

// StartContainer starts a created or stopped container. ErrPortInUse when a
// host port it publishes is taken (by another container or a host process),
// naming the address; the container is then left created, not running.
func (e *Engine) StartContainer(ctx context.Context, id string) error {
	_, err := e.cli.ContainerStart(ctx, id, client.ContainerStartOptions{})
	if err == nil {
		return nil
	}
	if addr, ok := portInUse(err); ok {
		if addr == "" {
			addr = "a published port"
		}
		return fmt.Errorf("start container %s: %w: %s is taken: stop whatever listens there or publish another port (daemon said: %s)",
			shortID(id), ErrPortInUse, addr, daemonMessage(err))
	}
	return e.classify(err, "start container "+shortID(id))
}

// StopContainer stops a running container: the stop signal, then SIGKILL
// after timeout (0: the container's own stop timeout). A container that is
// already stopped is fine; ErrNotFound when it does not exist.
func (e *Engine) StopContainer(ctx context.Context, id string, timeout time.Duration) error {
	opts := client.ContainerStopOptions{}
	if timeout > 0 {
		secs := int((timeout + time.Second - 1) / time.Second)
		opts.Timeout = &secs
	}
	_, err := e.cli.ContainerStop(ctx, id, opts)
	// The daemon answers 304 Not Modified for a stopped container, which
	// the client does not treat as an error.
	return e.classify(err, "stop container "+shortID(id))
}

// RemoveContainer removes a container, running or not (force). With
// removeVolumes its anonymous volumes go too (named volumes never do).
// A container that does not exist is fine: removal is idempotent.
func (e *Engine) RemoveContainer(ctx context.Context, id string, removeVolumes bool) error {
	_, err := e.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: removeVolumes})
	if err != nil && cerrdefs.IsNotFound(err) {
		return nil
	}
	if err != nil && strings.Contains(err.Error(), "is already in progress") {
		return nil // another remove of the same container is under way
	}
	return e.classify(err, "remove container "+shortID(id))
}

// WaitContainer waits until the container is not running and returns its
// exit code. For a container that has already exited it returns at once.
// Cancelling ctx stops the wait, not the container.
func (e *Engine) WaitContainer(ctx context.Context, id string) (int, error) {
	res := e.cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-res.Result:
		if r.Error != nil && r.Error.Message != "" {
			return int(r.StatusCode), fmt.Errorf("wait for container %s: %s", shortID(id), r.Error.Message)
		}
		return int(r.StatusCode), nil
	case err := <-res.Error:
		return -1, e.classify(err, "wait for container "+shortID(id))
	case <-ctx.Done():
		return -1, fmt.Errorf("wait for container %s: %w", shortID(id), ctx.Err())
	}
}

// InspectContainer describes the container idOrName. ErrNotFound when there
// is none.
func (e *Engine) InspectContainer(ctx context.Context, idOrName string) (Container, error) {
	res, err := e.cli.ContainerInspect(ctx, idOrName, client.ContainerInspectOptions{})
	if err != nil {
		return Container{}, e.classify(err, fmt.Sprintf("inspect container %q", idOrName))
	}
	return fromInspect(res.Container), nil
}

func fromInspect(r container.InspectResponse) Container {
	c := Container{
		ID:      r.ID,
		Name:    strings.TrimPrefix(r.Name, "/"),
		ImageID: r.Image,
		Created: parseTime(r.Created),
		IPs:     map[string]string{},
	}
	if r.Config != nil {
		c.Image = r.Config.Image
		c.Labels = r.Config.Labels
		c.Env = r.Config.Env
	}
	if s := r.State; s != nil {
		c.State = string(s.Status)
		c.ExitCode = s.ExitCode
		c.StartedAt = parseTime(s.StartedAt)
		if s.Health != nil && s.Health.Status != container.NoHealthcheck {
			c.Health = string(s.Health.Status)
		}
	}
	if ns := r.NetworkSettings; ns != nil {
		for name, ep := range ns.Networks {
			if ep != nil && ep.IPAddress.IsValid() {
				c.IPs[name] = ep.IPAddress.String()
			}
		}
		c.Ports = portsFromMap(ns.Ports)
	}
	if len(c.Ports) == 0 && r.HostConfig != nil {
		c.Ports = portsFromMap(r.HostConfig.PortBindings)
	}
	for _, m := range r.Mounts {
		c.Mounts = append(c.Mounts, fromMountPoint(m))
	}
	return c
}

func fromMountPoint(m container.MountPoint) Mount {
	src := m.Source
	if m.Type == mount.TypeVolume {
		src = m.Name
	}
	return Mount{Type: string(m.Type), Source: src, Target: m.Destination, ReadOnly: !m.RW}
}

func portsFromMap(pm network.PortMap) []Port {
	var out []Port
	for cport, bindings := range pm {
		if cport.Proto() != network.TCP {
			continue
		}
		for _, b := range bindings {
			p := Port{ContainerPort: int(cport.Num())}
			if b.HostIP.IsValid() {
				p.HostIP = b.HostIP.String()
			}
			p.HostPort, _ = strconv.Atoi(b.HostPort)
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ContainerPort != out[j].ContainerPort {
			return out[i].ContainerPort < out[j].ContainerPort
		}
		return out[i].HostIP+strconv.Itoa(out[i].HostPort) < out[j].HostIP+strconv.Itoa(out[j].HostPort)
	})
	return out
}

// ListContainers returns the containers carrying every label in labels
// (filtered by the daemon), running ones only unless all. Each is fully
// inspected, so every Container field is filled; a container removed while
// listing is left out.
func (e *Engine) ListContainers(ctx context.Context, labels map[string]string, all bool) ([]Container, error) {
	res, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: all, Filters: labelFilters(labels)})
	if err != nil {
		return nil, e.classify(err, "list containers")
	}
	out := make([]Container, 0, len(res.Items))
	for _, s := range res.Items {
		c, err := e.InspectContainer(ctx, s.ID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Logs returns the last tail lines (all when tail <= 0) of the container's
// stdout and stderr, interleaved as the daemon stored them.
func (e *Engine) Logs(ctx context.Context, id string, tail int) (string, error) {
	what := "logs of container " + shortID(id)
	info, err := e.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return "", e.classify(err, what)
	}
	opts := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true}
	if tail > 0 {
		opts.Tail = strconv.Itoa(tail)
	}
	rc, err := e.cli.ContainerLogs(ctx, id, opts)
	if err != nil {
		return "", e.classify(err, what)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if info.Container.Config != nil && info.Container.Config.Tty {
		_, err = buf.ReadFrom(rc) // a TTY's output is not multiplexed
	} else {
		_, err = stdcopy.StdCopy(&buf, &buf, rc)
	}
	if err != nil {
		return buf.String(), fmt.Errorf("%s: %w", what, err)
	}
	return buf.String(), nil
}

// labelFilters turns labels into the daemon's label filter (all must match).
// A label with an empty value matches any value.
func labelFilters(labels map[string]string) client.Filters {
	f := client.Filters{}
	for k, v := range labels {
		if v == "" {
			f.Add("label", k)
		} else {
			f.Add("label", k+"="+v)
		}
	}
	return f
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

// shortID shortens a 64-hex container ID for messages; names pass unchanged.
func shortID(id string) string {
	if len(id) == 64 {
		return id[:12]
	}
	return id
}
