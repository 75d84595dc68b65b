package failover

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/names"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// ErrNoDatabase is returned when an operation needs a current database
// generation and there is none (run `lifeboat restore` first).
var ErrNoDatabase = errors.New("no current database generation (run `lifeboat restore` first)")

// Standby is one app's standby on this VPS: its config, its records and
// the Docker engine its containers run in.
type Standby struct {
	App    *config.App
	Engine *engine.Engine
	State  *state.Store
	Log    *slog.Logger
	// Progress receives a line per step for the operator (stderr); nil: none.
	Progress io.Writer
	// Names names and labels its Docker objects: the standby's, or for a
	// drill's isolated copy its own (io.lifeboat.purpose=drill), which never
	// touch the standby.
	Names names.Scope
}

// NewStandby returns the app's standby; eng may be nil for operations that
// only read records.
func NewStandby(app *config.App, eng *engine.Engine, log *slog.Logger, progress io.Writer) *Standby {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Standby{App: app, Engine: eng, State: &state.Store{Dir: app.StateDir}, Log: log, Progress: progress, Names: names.Standby(app.Name)}
}

func (s *Standby) say(format string, args ...any) {
	if s.Progress != nil {
		fmt.Fprintf(s.Progress, format+"\n", args...)
	}
}

// newPassword makes a random password and stores it 0600 for generation n.
func (s *Standby) newPassword(n int) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(b)
	if err := os.MkdirAll(s.State.GenerationDir(n), 0o700); err != nil {
		return "", err
	}
	if err := writeSecret(s.State.PasswordFile(n), pw); err != nil {
		return "", err
	}
	return pw, nil
}

func (s *Standby) password(n int) (string, error) {
	b, err := os.ReadFile(s.State.PasswordFile(n))
	if err != nil {
		return "", fmt.Errorf("password of generation %d: %w", n, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// DatabaseURL is how to reach generation g from this host: the container's
// address on the app's network, or the published port when there is one.
// The password is included; callers decide whether to show it.
func (s *Standby) DatabaseURL(ctx context.Context, g *state.Generation) (string, error) {
	pw, err := s.password(g.Number)
	if err != nil {
		return "", err
	}
	host := ""
	if g.Published != "" {
		host = g.Published
	} else {
		c, err := s.Engine.InspectContainer(ctx, g.Container)
		if err != nil {
			return "", fmt.Errorf("database container of generation %d: %w (lifeboat restore builds a new generation from the cache)", g.Number, err)
		}
		ip := c.IPs[g.Network]
		if ip == "" {
			return "", fmt.Errorf("database container %s has no address on %s (state %s): lifeboat up starts it", g.Container, g.Network, c.State)
		}
		host = ip + ":5432"
	}
	return postgresURL(g.User, pw, host, g.Database), nil
}

// InternalURL is how containers on the app's network reach generation g.
func (s *Standby) InternalURL(g *state.Generation) (string, error) {
	pw, err := s.password(g.Number)
	if err != nil {
		return "", err
	}
	return postgresURL(g.User, pw, g.Container+":5432", g.Database), nil
}

func postgresURL(user, password, host, db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: host, Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// RedactURL hides the password of a postgres URL.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return strings.Replace(u.String(), "xxxxx", "*****", 1)
}

// CurrentGeneration returns the record of the current generation, or an
// error wrapping ErrNoDatabase.
func (s *Standby) CurrentGeneration() (*state.Generation, error) {
	cur, err := s.State.Current()
	if errors.Is(err, state.ErrNoCurrent) {
		return nil, ErrNoDatabase
	}
	if err != nil {
		return nil, err
	}
	return s.State.Load(cur.Generation)
}
