package capture

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/heroku"
	"github.com/lifeboat-dr/lifeboat/failover/stack"
)

// HerokuBackups captures with Heroku PGBackups, as `heroku pg:backups:capture`
// then `heroku pg:backups:url` do, and streams the finished backup from its
// public URL: Heroku makes the dump, Lifeboat verifies and stores it.
type HerokuBackups struct {
	Client *heroku.Client
	// App is the Heroku app, Database the config var (or attachment name)
	// of the database to back up.
	App, Database string
	// Poll is how often the transfer is asked about (default 5s).
	Poll     time.Duration
	Progress io.Writer
	// Download fetches the public URL (default: no overall timeout, 30s
	// to the first byte).
	Download *http.Client
}

// Name is "heroku".
func (h *HerokuBackups) Name() string { return config.CaptureHeroku }

func (h *HerokuBackups) say(format string, args ...any) {
	if h.Progress != nil {
		fmt.Fprintf(h.Progress, "  "+format+"\n", args...)
	}
}

// Open starts a backup on Heroku, waits until it finished, and opens its
// download. Errors wrap heroku.ErrUnauthorized, heroku.ErrNotFound,
// heroku.ErrUnreachable or heroku.ErrTransferFailed (with the transfer's
// last log lines).
func (h *HerokuBackups) Open(ctx context.Context) (*Stream, error) {
	att, err := h.Client.ResolveAttachment(ctx, h.App, h.Database)
	if err != nil {
		return nil, fmt.Errorf("capture.database %s: %w", h.Database, err)
	}
	// Transfers belong to the app the database is billed to.
	billing := att.Addon.App.Name
	if billing == "" {
		billing = h.App
	}
	t, err := h.Client.StartBackup(ctx, att.Addon.ID)
	if err != nil {
		return nil, err
	}
	h.say("Heroku backup %s of %s (%s) started", t.Name(), att.Addon.Name, h.Database)
	poll := h.Poll
	if poll <= 0 {
		poll = 5 * time.Second
	}
	last := ""
	t, err = h.Client.Wait(ctx, billing, t.UUID, poll, func(t heroku.Transfer) {
		state := "pending"
		if t.StartedAt != "" {
			state = fmt.Sprintf("running, %d bytes", t.ProcessedBytes)
		}
		if t.FinishedAt != "" {
			state = "finished"
		}
		if state != last {
			h.say("Heroku backup %s: %s", t.Name(), state)
			last = state
		}
	})
	if err != nil {
		return nil, err
	}
	pu, err := h.Client.PublicURL(ctx, billing, t.Num)
	if err != nil {
		return nil, err
	}
	dl := h.Download
	if dl == nil {
		dl = &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, ResponseHeaderTimeout: 30 * time.Second}}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pu.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: the public URL: %v", heroku.ErrBadAnswer, err)
	}
	// The URL is presigned: it carries no token, and gets none.
	resp, err := dl.Do(req)
	if err != nil {
		return nil, fmt.Errorf("downloading Heroku backup %s: %w: %v", t.Name(), heroku.ErrUnreachable, redactURL(err, pu.URL))
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("downloading Heroku backup %s: %w: %s", t.Name(), heroku.ErrBadAnswer, resp.Status)
	}
	info := SourceInfo{Host: "heroku " + att.Addon.Name, Backup: t.Name()}
	return &Stream{Reader: &lengthChecked{r: resp.Body, want: resp.ContentLength}, Info: info, close: resp.Body.Close}, nil
}

// redactURL keeps the presigned URL's signature out of messages.
func redactURL(err error, u string) string {
	s := err.Error()
	if i := strings.IndexByte(u, '?'); i >= 0 {
		s = strings.ReplaceAll(s, u, u[:i]+"?…")
	}
	return s
}

// lengthChecked ends with io.ErrUnexpectedEOF when its body is shorter
// than the Content-Length announced.
type lengthChecked struct {
	r    io.Reader
	want int64
	n    int64
}

func (l *lengthChecked) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if err == io.EOF && l.want >= 0 && l.n != l.want {
		return n, fmt.Errorf("the download ended after %d of %d bytes: %w", l.n, l.want, io.ErrUnexpectedEOF)
	}
	return n, err
}

// URLFromHeroku resolves the database URL at each run from the Heroku
// Platform API: the config var named by database (a follower's
// HEROKU_POSTGRESQL_NAVY_URL, say), with the token of app.heroku.
func URLFromHeroku(h config.Heroku, database string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		if _, err := os.Stat(h.TokenFile); err != nil {
			return "", fmt.Errorf("app.heroku.token_file: %w", err)
		}
		snap, err := stack.FetchConfigVars(ctx, stack.HerokuAPI{App: h.App, TokenFile: h.TokenFile, APIURL: h.APIURL})
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrSourceUnreachable, err)
		}
		u, ok := snap.Vars[database]
		if !ok || u == "" {
			return "", fmt.Errorf("%w: Heroku app %s has no config var %s (capture.database)", ErrSourceUnreachable, h.App, database)
		}
		return u, nil
	}
}

// readToken reads a token file (checked 0600 by the config).
func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("app.heroku.token_file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
