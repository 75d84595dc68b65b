package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Named errors. Every error an Engine method returns for one of these
// situations wraps the matching value: test with errors.Is. The wrapped
// message adds the object's name and the daemon's own words, never a
// container's environment (it may hold secrets).
var (
	// ErrUnreachable: the Docker daemon cannot be reached (socket missing,
	// connection refused, permission denied, no answer). The message says
	// which, and what to do about it.
	ErrUnreachable = errors.New("docker engine unreachable")

	// ErrNotFound: the container, volume, network or image does not exist.
	ErrNotFound = errors.New("not found")

	// ErrImageMissing: the image is not in the local image store and could
	// not be pulled. The message names the image and how to load it.
	ErrImageMissing = errors.New("image not available")

	// ErrPortInUse: a host port a container publishes is already taken (by
	// another container or by a host process). The message names the port.
	ErrPortInUse = errors.New("port already in use")

	// ErrConflict: a container, network or volume of that name already exists.
	ErrConflict = errors.New("name already in use")

	// ErrNotRunning: the container is not running (created, exited,
	// paused, restarting), so nothing can be executed in it.
	ErrNotRunning = errors.New("container not running")

	// ErrInUse: the object cannot be removed because something still uses
	// it (a volume mounted by a container, a network with attached containers).
	ErrInUse = errors.New("in use")
)

// daemonPrefix is what the client puts in front of every message the daemon
// sends back; it says nothing our own wrapping does not already say.
const daemonPrefix = "Error response from daemon: "

// daemonMessage returns the daemon's message of err without the client's prefix.
func daemonMessage(err error) string {
	return strings.TrimPrefix(err.Error(), daemonPrefix)
}

// classify maps an error from the Docker client onto the package's named
// errors. what names the operation and the object ("inspect container web.1").
// Errors that match no named error keep their message (and the client error
// stays reachable through errors.Unwrap for callers that want it).
func (e *Engine) classify(err error, what string) error {
	if err == nil {
		return nil
	}
	if client.IsErrConnectionFailed(err) {
		return e.unreachable(err)
	}
	msg := daemonMessage(err)
	switch {
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("%s: %w: %s", what, ErrNotFound, msg)
	case cerrdefs.IsConflict(err) && notRunning(msg):
		return fmt.Errorf("%s: %w: %s", what, ErrNotRunning, msg)
	case cerrdefs.IsConflict(err):
		return fmt.Errorf("%s: %w: %s", what, ErrConflict, msg)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return &opError{what: what, msg: msg, err: err}
}

// opError keeps the client's error reachable (errors.Is, errors.As) while
// its message shows the daemon's words without the client's prefix.
type opError struct {
	what, msg string
	err       error
}

func (o *opError) Error() string { return o.what + ": " + o.msg }
func (o *opError) Unwrap() error { return o.err }

// notRunning recognises the daemon's "Container … is not running" (and
// paused, restarting) conflicts, which are not name clashes.
func notRunning(msg string) bool {
	return strings.Contains(msg, "is not running") || strings.Contains(msg, "is paused") || strings.Contains(msg, "is restarting")
}

// unreachable builds the ErrUnreachable error for a failed connection,
// diagnosing a local socket directly (the client's own message does not
// always keep the cause).
func (e *Engine) unreachable(cause error) error {
	return fmt.Errorf("%w: %s", ErrUnreachable, diagnoseHost(e.host, cause))
}

// diagnoseHost says why host (a DOCKER_HOST value) cannot be reached, and
// what to do about it.
func diagnoseHost(host string, cause error) string {
	u, err := url.Parse(host)
	if err != nil || u.Scheme != "unix" {
		return fmt.Sprintf("cannot connect to the Docker daemon at %s (%s): is dockerd running and listening there? Check DOCKER_HOST and DOCKER_TLS_VERIFY/DOCKER_CERT_PATH", host, causeText(cause))
	}
	path := u.Path
	if path == "" {
		path = u.Host + u.Path
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Sprintf("the Docker socket %s does not exist: is dockerd running (systemctl status docker)? If the daemon listens elsewhere, set DOCKER_HOST", path)
	}
	conn, err := net.DialTimeout("unix", path, 2*time.Second)
	switch {
	case err == nil:
		_ = conn.Close()
		return fmt.Sprintf("the Docker socket %s accepts connections but the daemon did not answer (%s): is dockerd hung or still starting? (systemctl status docker, journalctl -u docker)", path, causeText(cause))
	case errors.Is(err, syscall.EACCES) || errors.Is(err, os.ErrPermission):
		return fmt.Sprintf("permission denied on the Docker socket %s: run as root or add this user to the docker group (usermod -aG docker $USER, then log in again)", path)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("connection refused on the Docker socket %s: the socket exists but no daemon is listening: is dockerd running? (systemctl start docker)", path)
	default:
		return fmt.Sprintf("cannot connect to the Docker socket %s (%v): is dockerd running? (systemctl status docker)", path, err)
	}
}

func causeText(err error) string {
	if err == nil {
		return "no answer"
	}
	return err.Error()
}

// portInUseRE finds the host port in the daemon's messages for a taken port:
//
//	Bind for 127.0.0.1:5433 failed: port is already allocated          (another container holds it)
//	... listen tcp4 127.0.0.1:5433: bind: address already in use        (docker-proxy could not bind: a host process holds it)
var portInUseRE = regexp.MustCompile(`(?:Bind for |listen tcp[46]? )(\[?[0-9a-fA-F:.]*\]?):(\d+)(?:: bind: address already in use| failed: port is already allocated)`)

// portInUse recognises the daemon's port-taken messages. It returns the
// host address and port when err is one.
func portInUse(err error) (addr string, ok bool) {
	if err == nil {
		return "", false
	}
	msg := err.Error()
	if m := portInUseRE.FindStringSubmatch(msg); m != nil {
		return m[1] + ":" + m[2], true
	}
	if strings.Contains(msg, "address already in use") || strings.Contains(msg, "port is already allocated") {
		return "", true
	}
	return "", false
}
