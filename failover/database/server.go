package database

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/dump"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/failover/state"
	"github.com/lifeboat-dr/lifeboat/failover/textsafe"
)

// ArchiveMount is where the archive is bind-mounted (read-only) in the
// database container.
const ArchiveMount = "/lifeboat/archive.dump"

// Port is the port Postgres listens on in its container.
const Port = 5432

// DataDir is the data directory (PGDATA) in the container, on its volume.
const DataDir = "/var/lib/postgresql/data/pgdata"

// Server is one Postgres server in a Docker container, and the one value
// that owns its life: its spec (image, volume, network, labels, shared
// memory, durable or bulk-load settings), creating and starting it,
// readiness, how to reach it (from this host and from the app's network),
// commands in it, its log, publishing its port, stopping and removing it,
// and its password file. pgx connections to it are opened here and nowhere
// else.
//
// Its names and labels come from the caller (failover/names); a Server
// only uses them.
type Server struct {
	Engine *engine.Engine
	// Name is the container's name, also its alias on Network.
	Name string
	// Volume holds the data directory.
	Volume string
	// Network is the internal network the server and the app share.
	Network string
	// Image is the Postgres image; it must honour POSTGRES_PASSWORD,
	// POSTGRES_USER, POSTGRES_DB and PGDATA like the official one.
	Image    string
	User     string
	Database string
	// Published is host:port where the server is published on this host
	// ("" when it is not).
	Published string
	// PasswordFile holds the server's password (mode 0600).
	PasswordFile string
	// Labels go on the container and its volume; NetworkLabels on the
	// networks it creates.
	Labels        map[string]string
	NetworkLabels map[string]string
	// ShmSize is /dev/shm's size in bytes (0: Docker's default).
	ShmSize int64
	// ReadyTimeout bounds WaitReady.
	ReadyTimeout time.Duration
}

// Spec is the server's container, running with DurableSettings; archive,
// when set, is bind-mounted read-only at ArchiveMount.
func (s *Server) Spec(archive string, password string) engine.ContainerSpec {
	return s.spec(archive, password, DurableSettings())
}

func (s *Server) spec(archive, password string, settings []Setting) engine.ContainerSpec {
	cmd := []string{"postgres"}
	for _, st := range settings {
		cmd = append(cmd, "-c", st.Name+"="+st.Value)
	}
	spec := engine.ContainerSpec{
		Name:  s.Name,
		Image: s.Image,
		Cmd:   cmd,
		Env: []string{
			"POSTGRES_PASSWORD=" + password,
			"POSTGRES_USER=" + s.User,
			"POSTGRES_DB=" + s.Database,
			"PGDATA=" + DataDir,
		},
		Labels:  s.Labels,
		Network: s.Network,
		Aliases: []string{s.Name},
		Mounts: []engine.Mount{
			{Type: "volume", Source: s.Volume, Target: "/var/lib/postgresql/data"},
		},
		RestartPolicy: "unless-stopped",
		StopTimeout:   60 * time.Second,
		ShmSize:       s.ShmSize,
	}
	if archive != "" {
		spec.Mounts = append(spec.Mounts, engine.Mount{Type: "bind", Source: archive, Target: ArchiveMount, ReadOnly: true})
	}
	return spec
}

// Create makes a new server with a new random password (written 0600 to
// PasswordFile): its internal network when missing, its volume and its
// container, then starts it. archive, when set, is mounted for pg_restore.
func (s *Server) Create(ctx context.Context, archive string) error {
	return s.create(ctx, archive, DurableSettings(), nil)
}

// create makes the server as Create says, with settings; fill, when set,
// runs between the container's creation and its first start.
func (s *Server) create(ctx context.Context, archive string, settings []Setting, fill func(context.Context) error) error {
	password, err := s.newPassword()
	if err != nil {
		return err
	}
	if _, err := s.Engine.EnsureNetwork(ctx, s.Network, true, s.NetworkLabels); err != nil {
		return err
	}
	if err := s.Engine.CreateVolume(ctx, s.Volume, s.Labels); err != nil {
		return err
	}
	if _, err := s.Engine.CreateContainer(ctx, s.spec(archive, password, settings)); err != nil {
		return err
	}
	if fill != nil {
		if err := fill(ctx); err != nil {
			return err
		}
	}
	return s.Engine.StartContainer(ctx, s.Name)
}

func (s *Server) newPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(b)
	if err := os.MkdirAll(filepath.Dir(s.PasswordFile), 0o700); err != nil {
		return "", err
	}
	if err := fsutil.WriteFileAtomic(s.PasswordFile, []byte(pw+"\n"), 0o600); err != nil {
		return "", err
	}
	return pw, nil
}

// Password is the server's password, from its file.
func (s *Server) Password() (string, error) {
	b, err := os.ReadFile(s.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("password of %s: %w", s.Name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// URL is how to reach the server from this host: the published port when
// there is one, else the container's address on its network. The password
// is included; callers decide whether to show it.
func (s *Server) URL(ctx context.Context) (string, error) {
	pw, err := s.Password()
	if err != nil {
		return "", err
	}
	host := s.Published
	if host == "" {
		c, err := s.Engine.InspectContainer(ctx, s.Name)
		if err != nil {
			return "", fmt.Errorf("database container %s: %w (lifeboat restore builds a new generation from the cache)", s.Name, err)
		}
		ip := c.IPs[s.Network]
		if ip == "" {
			return "", fmt.Errorf("database container %s has %w on %s (state %s): lifeboat up starts it", s.Name, errNoAddress, s.Network, c.State)
		}
		host = ip + ":" + strconv.Itoa(Port)
	}
	return postgresURL(s.User, pw, host, s.Database), nil
}

// InternalURL is how containers on the server's network reach it.
func (s *Server) InternalURL() (string, error) {
	pw, err := s.Password()
	if err != nil {
		return "", err
	}
	return postgresURL(s.User, pw, s.Name+":"+strconv.Itoa(Port), s.Database), nil
}

func postgresURL(user, password, host, db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: host, Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// WaitReady waits until the server answers a query over a real connection
// (ReadyTimeout at most; it gives up at once when the container stops) and
// returns its version. Errors wrap ErrNotReady.
func (s *Server) WaitReady(ctx context.Context) (string, error) {
	deadline := time.Now().Add(s.ReadyTimeout)
	var version string
	var noAddress error
	err := poll(ctx, s.ReadyTimeout, 100*time.Millisecond, 100*time.Millisecond, func() (bool, error) {
		u, err := s.URL(ctx)
		if err == nil {
			version, err = WaitReady(ctx, u, time.Until(deadline), s.Running)
			return true, err
		}
		if !errors.Is(err, errNoAddress) {
			return false, err
		}
		// Without a published port the URL is the container's address,
		// which it has only while it runs: one that died (and, by its
		// restart policy, is restarting) has none. That is the server not
		// becoming ready; one seen running again gets its address.
		if rerr := s.Running(ctx); rerr != nil {
			return false, fmt.Errorf("%w: %w", ErrNotReady, rerr)
		}
		noAddress = err
		return false, nil
	})
	if errors.Is(err, errPollTimeout) {
		return "", fmt.Errorf("%w within %v: %w", ErrNotReady, s.ReadyTimeout, noAddress)
	}
	return version, err
}

// errNoAddress is URL's error for a container without an address on its
// network: it is not running.
var errNoAddress = errors.New("no address")

// Running returns an error when the container is neither running nor
// about to (created).
func (s *Server) Running(ctx context.Context) error {
	c, err := s.Engine.InspectContainer(ctx, s.Name)
	if err != nil {
		return err
	}
	if c.State != "running" && c.State != "created" {
		return fmt.Errorf("container %s is %s (exit code %d)", s.Name, c.State, c.ExitCode)
	}
	return nil
}

// EnsureRunning starts the container when it is stopped (calling
// starting first, when set) and waits until the server answers. A missing
// container is an error wrapping engine.ErrNotFound.
func (s *Server) EnsureRunning(ctx context.Context, starting func()) error {
	c, err := s.Engine.InspectContainer(ctx, s.Name)
	if err != nil {
		return err
	}
	if c.State != "running" {
		if starting != nil {
			starting()
		}
		if err := s.Engine.StartContainer(ctx, s.Name); err != nil {
			return err
		}
	}
	_, err = s.WaitReady(ctx)
	return err
}

// Start starts the container.
func (s *Server) Start(ctx context.Context) error { return s.Engine.StartContainer(ctx, s.Name) }

// Stop stops the container (a minute for a clean shutdown); a container
// that is gone is not an error.
func (s *Server) Stop(ctx context.Context) error {
	if err := s.Engine.StopContainer(ctx, s.Name, time.Minute); err != nil && !errors.Is(err, engine.ErrNotFound) {
		return err
	}
	return nil
}

// Remove removes the container and its volume (the data); what is gone
// already is not an error.
func (s *Server) Remove(ctx context.Context) error {
	if err := s.Engine.RemoveContainer(ctx, s.Name, true); err != nil && !errors.Is(err, engine.ErrNotFound) {
		return err
	}
	if err := s.Engine.RemoveVolume(ctx, s.Volume); err != nil && !errors.Is(err, engine.ErrNotFound) {
		return err
	}
	return nil
}

// Exec runs a command in the container, streaming its output, and returns
// its exit code. Commands run as root so that they can read the
// bind-mounted archive, which is private to root on the host (0600); they
// connect to the server as its user over the local socket.
func (s *Server) Exec(ctx context.Context, cmd []string, stdout, stderr io.Writer) (int, error) {
	return s.Engine.Exec(ctx, s.Name, cmd, engine.ExecOptions{User: "root", Stdout: stdout, Stderr: stderr})
}

// run runs a short command in the container as user, env added to its
// environment, and fails when it cannot run or exits non-zero (the error
// names the exit code and its output).
func (s *Server) run(ctx context.Context, user string, env []string, cmd ...string) error {
	var out strings.Builder
	code, err := s.Engine.Exec(ctx, s.Name, cmd, engine.ExecOptions{User: user, Env: env, Stdout: &out, Stderr: &out})
	if err == nil && code != 0 {
		err = fmt.Errorf("exit %d: %s", code, strings.TrimSpace(out.String()))
	}
	return err
}

// Logs returns the last n lines of the server's log with its password
// scrubbed out.
func (s *Server) Logs(ctx context.Context, n int) (string, error) {
	l, err := s.Engine.Logs(ctx, s.Name, n)
	if err != nil {
		return "", err
	}
	if pw, err := s.Password(); err == nil {
		l = textsafe.ScrubValue(l, "database password", pw)
	}
	return l, nil
}

// LogTail is Logs for an error message: the reason there is no log instead
// of an error.
func (s *Server) LogTail(ctx context.Context, n int) string {
	l, err := s.Logs(ctx, n)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return l
}

// Publish re-creates the container with its port published on host:port
// (ports cannot be added to a running container); the volume keeps the
// data. Ports cannot be published from an internal network: the
// container's primary network is then publishNet, a small non-internal one,
// and it joins its internal network as well. holder, when set, is a server
// holding the same port: it is stopped first and started again when
// publishing fails. archive is mounted as by Create.
func (s *Server) Publish(ctx context.Context, host string, port int, publishNet, archive string, holder *Server) error {
	if err := s.Engine.StopContainer(ctx, s.Name, time.Minute); err != nil {
		return err
	}
	if err := s.Engine.RemoveContainer(ctx, s.Name, false); err != nil {
		return err
	}
	if holder != nil {
		if err := holder.Stop(ctx); err != nil {
			return err
		}
	}
	fail := func(err error) error {
		if holder != nil {
			if serr := holder.Start(ctx); serr != nil {
				err = fmt.Errorf("%w (and the server holding the port could not be started again: %v)", err, serr)
			}
		}
		return err
	}
	if _, err := s.Engine.EnsureNetwork(ctx, publishNet, false, s.NetworkLabels); err != nil {
		return fail(err)
	}
	password, err := s.Password()
	if err != nil {
		return fail(err)
	}
	spec := s.Spec(archive, password)
	spec.Publish = []engine.Port{{HostIP: host, HostPort: port, ContainerPort: Port}}
	spec.Network = publishNet
	if _, err := s.Engine.CreateContainer(ctx, spec); err != nil {
		return fail(err)
	}
	if err := s.Engine.ConnectNetwork(ctx, s.Network, s.Name, []string{s.Name}); err != nil {
		return fail(err)
	}
	if err := s.Engine.StartContainer(ctx, s.Name); err != nil {
		return fail(err)
	}
	s.Published = fmt.Sprintf("%s:%d", host, port)
	if _, err := s.WaitReady(ctx); err != nil {
		return fail(fmt.Errorf("after publishing on %s: %w", s.Published, err))
	}
	return nil
}

// Prepare creates what the archive needs before pg_restore (see Prepare).
func (s *Server) Prepare(ctx context.Context, sum dump.Summary) ([]string, error) {
	u, err := s.URL(ctx)
	if err != nil {
		return nil, err
	}
	return Prepare(ctx, u, s.Database, sum)
}

// Restore runs pg_restore in the container (see Restore).
func (s *Server) Restore(ctx context.Context, o RestoreOptions) (state.RestoreOutcome, error) {
	o.Database, o.User = s.Database, s.User
	return Restore(ctx, s.Exec, o)
}

// Analyze gives the planner statistics for every table, as quickly as a
// restored database can be put to use: the first stage of `vacuumdb
// --analyze-in-stages` (ANALYZE with default_statistics_target 1: each
// table's size and row estimate, the most common value and the range of
// each column; a column given a statistics target of its own keeps it),
// on jobs connections, in the container. A sample of 300 rows per table
// takes a fraction of a second where a full ANALYZE of a 1 GiB archive's
// tables reads most of their pages (1.6 s on 2 CPUs). AnalyzeInBackground
// then starts the full one.
func (s *Server) Analyze(ctx context.Context, jobs int) error {
	err := s.run(ctx, "root", []string{minimalStatistics}, "vacuumdb", "--analyze-only", "--jobs", strconv.Itoa(jobs),
		"--username", s.User, "--dbname", s.Database)
	if err != nil {
		return fmt.Errorf("ANALYZE after the restore failed: %w", err)
	}
	return nil
}

// minimalStatistics is what vacuumdb --analyze-in-stages sets for its
// first stage, given to vacuumdb's connections through libpq.
const minimalStatistics = "PGOPTIONS=-c default_statistics_target=1 -c vacuum_cost_delay=0"

// AnalyzeInBackground starts a full ANALYZE of every table (vacuumdb
// --analyze-only, one connection, in the container) and returns once it
// started: it replaces Analyze's minimal statistics while the database
// serves, as pg_upgrade's documentation advises after a bulk load, and
// may outlive this process. Its outcome is not waited for: the minimal
// statistics stay if it fails or the container goes, and autovacuum
// analyzes each table again as it changes.
func (s *Server) AnalyzeInBackground(ctx context.Context) error {
	err := s.Engine.ExecDetached(ctx, s.Name, []string{"vacuumdb", "--analyze-only", "--quiet",
		"--username", s.User, "--dbname", s.Database}, engine.ExecOptions{User: "root"})
	if err != nil {
		return fmt.Errorf("starting the full ANALYZE: %w", err)
	}
	return nil
}

// Verify runs the checks against the server (see Verify).
func (s *Server) Verify(ctx context.Context, o VerifyOptions) ([]report.Check, []report.Table, error) {
	u, err := s.URL(ctx)
	if err != nil {
		return nil, nil, err
	}
	return Verify(ctx, u, o)
}
