// Package engine is the one place Lifeboat talks to the Docker Engine API.
//
// It is a thin, typed wrapper over github.com/moby/moby/client: the rest of
// Lifeboat sees only this package's types (ContainerSpec, Container, Image,
// Network, Volume…) and its named errors (ErrUnreachable, ErrNotFound,
// ErrImageMissing, ErrPortInUse, ErrConflict, ErrInUse, ErrNotRunning),
// never the client's.
// Every method takes a context first; cancelling it abandons the request.
//
// The client negotiates the API version down to what the daemon speaks (a
// Debian 12 docker.io 20.10 speaks API 1.41), so the newest client works
// against old daemons. Engine is safe for concurrent use.
//
// Objects Lifeboat creates carry the Label* labels and are found again by
// them (ListContainers, ListNetworks, ListVolumes), never by name patterns.
//
// What the daemon does that callers would not guess (all seen on Debian 12's
// docker.io 20.10.24, API 1.41, and pinned down by this package's tests):
//
//   - Internal networks: no egress to other machines, but the host reaches
//     containers by IP, and containers reach host processes listening on
//     0.0.0.0 (through the gateway and the host's other addresses; 127.0.0.1
//     stays out of reach). Published ports on an internal network are
//     silently dropped by the daemon; CreateContainer refuses them.
//   - Network names are not unique at API 1.41; EnsureNetwork and
//     RemoveNetwork deal with it.
//   - A container may be created on a network that does not exist (it fails
//     at start); CreateContainer checks first.
//   - Image VOLUMEs (postgres: /var/lib/postgresql/data) become anonymous,
//     unlabelled volumes unless mounted over; only RemoveContainer(…, true)
//     removes them.
//   - Mounting a volume that does not exist creates it, unlabelled: create
//     volumes with CreateVolume first.
//   - A taken host port is only found at start, not create.
package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/moby/moby/client"
)

// Labels every Lifeboat object carries.
const (
	LabelApp        = "io.lifeboat.app"        // the app's name in lifeboat.yaml
	LabelRole       = "io.lifeboat.role"       // database, web, worker, release…
	LabelPurpose    = "io.lifeboat.purpose"    // standby, drill
	LabelGeneration = "io.lifeboat.generation" // the database generation the object belongs to
)

// pingTimeout bounds New's first contact with the daemon when the caller's
// context has no deadline: a hung daemon must not hang the CLI.
const pingTimeout = 15 * time.Second

// Engine is a connection to one Docker daemon.
type Engine struct {
	cli        *client.Client
	host       string // DOCKER_HOST as used, for messages
	apiVersion string // negotiated API version
}

// New connects to the Docker daemon named by the environment (DOCKER_HOST,
// DOCKER_API_VERSION, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH; the default is
// unix:///var/run/docker.sock; docker CLI contexts are not read), negotiates
// the API version and pings the daemon. A daemon that cannot be reached gives
// ErrUnreachable with a message saying whether the socket is missing,
// refuses connections or denies permission, and what to do.
func New(ctx context.Context) (*Engine, error) {
	// Version negotiation is the default of this client (and
	// WithAPIVersionNegotiation a no-op); it is named here for the reader.
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("%w: bad Docker client settings (check DOCKER_HOST, DOCKER_API_VERSION, DOCKER_CERT_PATH): %v", ErrUnreachable, err)
	}
	e := &Engine{cli: cli, host: cli.DaemonHost()}

	pctx := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		pctx, cancel = context.WithTimeout(ctx, pingTimeout)
		defer cancel()
	}
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = cli.Close()
		if ctx.Err() != nil { // the caller gave up: not the daemon's fault
			return nil, fmt.Errorf("connect to docker engine at %s: %w", e.host, ctx.Err())
		}
		return nil, e.unreachable(err)
	}
	e.apiVersion = cli.ClientVersion()
	return e, nil
}

// Close releases the client's idle connections.
func (e *Engine) Close() error {
	return e.cli.Close()
}

// Host returns the daemon address in use (a DOCKER_HOST value).
func (e *Engine) Host() string { return e.host }

// APIVersion returns the API version negotiated with the daemon (e.g. "1.41").
func (e *Engine) APIVersion() string { return e.apiVersion }

// Version returns the daemon's version (e.g. "20.10.24+dfsg1") and the API
// version this client uses with it (the lower of the two sides' maximums).
func (e *Engine) Version(ctx context.Context) (server, api string, err error) {
	v, err := e.cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "", "", e.classify(err, "docker version")
	}
	return v.Version, e.cli.ClientVersion(), nil
}

// RootDir returns the daemon's data directory (DockerRootDir, e.g.
// /var/lib/docker), where the database volumes live; on a daemon of this
// host, a path Lifeboat can ask the free space of.
func (e *Engine) RootDir(ctx context.Context) (string, error) {
	r, err := e.cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", e.classify(err, "docker info")
	}
	return r.Info.DockerRootDir, nil
}
