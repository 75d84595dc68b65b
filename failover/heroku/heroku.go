// Package heroku talks to Heroku PGBackups the way the Heroku CLI's
// pg:backups:capture and pg:backups:url do: the add-on attachment is
// resolved on the Platform API (POST /actions/addon-attachments/resolve),
// the backup is started and followed on the Data API
// (POST /client/v11/databases/{addon_id}/backups, then
// GET /client/v11/apps/{app}/transfers/{uuid} until finished_at), and its
// download URL is asked for (POST
// /client/v11/apps/{app}/transfers/{num}/actions/public-url). Both APIs
// take the same bearer token. Every answer is read bounded.
package heroku

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Named errors; test with errors.Is.
var (
	// ErrUnauthorized: the token was refused.
	ErrUnauthorized = errors.New("heroku refused the token")
	// ErrNotFound: no such app, database attachment or transfer.
	ErrNotFound = errors.New("not found on heroku")
	// ErrUnreachable: the API could not be reached, or answered 5xx.
	ErrUnreachable = errors.New("heroku API unreachable")
	// ErrTransferFailed: the backup finished without succeeding; the
	// message quotes its last log lines.
	ErrTransferFailed = errors.New("the heroku backup failed")
	// ErrBadAnswer: an answer that is not what the API documents.
	ErrBadAnswer = errors.New("unexpected answer from heroku")
)

// Defaults of the API hosts (HEROKU_DATA_HOST in the Heroku CLI).
const (
	DefaultAPIURL  = "https://api.heroku.com"
	DefaultDataURL = "https://api.data.heroku.com"
)

// Client is a Heroku API client for backups.
type Client struct {
	// APIURL is the Platform API, DataURL the Data API (PGBackups).
	APIURL, DataURL string
	// Token is an API token (heroku authorizations:create); never logged.
	Token string
	// HTTP defaults to a client with a 30s timeout per request.
	HTTP *http.Client
}

// Attachment is an add-on attachment of a Heroku Postgres database.
type Attachment struct {
	Name       string   `json:"name"`
	Namespace  *string  `json:"namespace"`
	ConfigVars []string `json:"config_vars"`
	App        struct {
		Name string `json:"name"`
	} `json:"app"`
	Addon struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		// App is the app the database is billed to: its transfers live there.
		App struct {
			Name string `json:"name"`
		} `json:"app"`
	} `json:"addon"`
}

// Transfer is a PGBackups transfer (a backup) as the Data API gives it.
type Transfer struct {
	UUID           string `json:"uuid"`
	Num            int    `json:"num"`
	FromName       string `json:"from_name"`
	FromType       string `json:"from_type"`
	ToType         string `json:"to_type"`
	StartedAt      string `json:"started_at"`
	FinishedAt     string `json:"finished_at"`
	CanceledAt     string `json:"canceled_at"`
	Succeeded      bool   `json:"succeeded"`
	ProcessedBytes int64  `json:"processed_bytes"`
	SourceBytes    int64  `json:"source_bytes"`
	Warnings       int    `json:"warnings"`
	Logs           []struct {
		CreatedAt string `json:"created_at"`
		Message   string `json:"message"`
	} `json:"logs"`
}

// Name is the backup's name as the CLI shows it (b042).
func (t Transfer) Name() string { return fmt.Sprintf("b%03d", t.Num) }

// PublicURL is the answer of actions/public-url.
type PublicURL struct {
	URL       string `json:"url"`
	ExpiresAt string `json:"expires_at"`
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// do sends a JSON request and decodes a JSON answer of at most 4 MiB.
func (c *Client) do(ctx context.Context, method, base, path string, body any, accept string, extra map[string]string, out any) error {
	var rb io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rb = bytes.NewReader(b)
	}
	u := strings.TrimRight(base, "/") + path
	req, err := http.NewRequestWithContext(ctx, method, u, rb)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("User-Agent", "lifeboat")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	what := method + " " + u
	resp, err := c.http().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
		return fmt.Errorf("%s: %w: %v", what, ErrUnreachable, rootCause(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s: %w: %v", what, ErrUnreachable, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%s: %w (%d): create a token with `heroku authorizations:create` and put it in the token file", what, ErrUnauthorized, resp.StatusCode)
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s: %w%s", what, ErrNotFound, apiMessage(b))
	case resp.StatusCode >= 500:
		return fmt.Errorf("%s: %w: it answered %d%s", what, ErrUnreachable, resp.StatusCode, apiMessage(b))
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return fmt.Errorf("%s: %w: %d%s", what, ErrBadAnswer, resp.StatusCode, apiMessage(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s: %w: %v", what, ErrBadAnswer, err)
		}
	}
	return nil
}

// apiMessage quotes the "message" of a Heroku error body, briefly.
func apiMessage(b []byte) string {
	var e struct {
		ID      string `json:"id"`
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &e) != nil || e.Message == "" {
		return ""
	}
	m := e.Message
	if len(m) > 300 {
		m = m[:300] + "…"
	}
	return fmt.Sprintf(" (%s: %q)", e.ID, m)
}

func rootCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

const (
	acceptV3    = "application/vnd.heroku+json; version=3"
	acceptV3SDK = "application/vnd.heroku+json; version=3.sdk"
)

// ResolveAttachment finds the Heroku Postgres attachment of app named name
// (a config var such as DATABASE_URL or HEROKU_POSTGRESQL_NAVY_URL, or an
// attachment name such as DATABASE), as the CLI does.
func (c *Client) ResolveAttachment(ctx context.Context, app, name string) (Attachment, error) {
	var matches []Attachment
	err := c.do(ctx, http.MethodPost, c.APIURL, "/actions/addon-attachments/resolve",
		map[string]any{"app": app, "addon_attachment": strings.TrimSuffix(name, "_URL"), "addon_service": "heroku-postgresql"},
		acceptV3SDK, map[string]string{"Accept-Inclusion": "addon:plan,config_vars"}, &matches)
	if err != nil {
		return Attachment{}, err
	}
	// Without a namespace, as the CLI's singularize does.
	var plain []Attachment
	for _, m := range matches {
		if m.Namespace == nil || *m.Namespace == "" {
			plain = append(plain, m)
		}
	}
	switch {
	case len(plain) == 1:
		if plain[0].Addon.ID == "" {
			return Attachment{}, fmt.Errorf("%w: the attachment %s has no add-on id", ErrBadAnswer, plain[0].Name)
		}
		return plain[0], nil
	case len(plain) == 0:
		return Attachment{}, fmt.Errorf("%w: no Heroku Postgres attachment %q on app %s (see heroku pg:info -a %s)", ErrNotFound, name, app, app)
	}
	var names []string
	for _, m := range plain {
		names = append(names, m.Addon.Name)
	}
	return Attachment{}, fmt.Errorf("%w: %q matches several databases on %s (%s): name one by its config var", ErrBadAnswer, name, app, strings.Join(names, ", "))
}

// StartBackup starts a backup of the add-on's database.
func (c *Client) StartBackup(ctx context.Context, addonID string) (Transfer, error) {
	var t Transfer
	err := c.do(ctx, http.MethodPost, c.DataURL, "/client/v11/databases/"+url.PathEscape(addonID)+"/backups", nil, acceptV3, nil, &t)
	if err == nil && t.UUID == "" && t.Num == 0 {
		err = fmt.Errorf("%w: the backup answer names no transfer", ErrBadAnswer)
	}
	return t, err
}

// Transfer returns a transfer of app by uuid or number; verbose includes its logs.
func (c *Client) Transfer(ctx context.Context, app, id string, verbose bool) (Transfer, error) {
	p := "/client/v11/apps/" + url.PathEscape(app) + "/transfers/" + url.PathEscape(id)
	if verbose {
		p += "?verbose=true"
	}
	var t Transfer
	return t, c.do(ctx, http.MethodGet, c.DataURL, p, nil, acceptV3, nil, &t)
}

// PublicURL asks for a temporary download URL of a finished backup.
func (c *Client) PublicURL(ctx context.Context, app string, num int) (PublicURL, error) {
	var u PublicURL
	err := c.do(ctx, http.MethodPost, c.DataURL, fmt.Sprintf("/client/v11/apps/%s/transfers/%d/actions/public-url", url.PathEscape(app), num), nil, acceptV3, nil, &u)
	if err == nil && !strings.HasPrefix(u.URL, "https://") && !strings.HasPrefix(u.URL, "http://") {
		err = fmt.Errorf("%w: the public URL is not an http(s) URL", ErrBadAnswer)
	}
	return u, err
}

// Wait polls the transfer every interval until it has finished_at, as the
// CLI does (up to 20 failed polls in a row are tolerated), reporting
// progress. A transfer that finished without succeeding is ErrTransferFailed
// with its last five log lines.
func (c *Client) Wait(ctx context.Context, app, uuid string, interval time.Duration, progress func(Transfer)) (Transfer, error) {
	failures := 0
	for {
		t, err := c.Transfer(ctx, app, uuid, false)
		switch {
		case err != nil && (errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrNotFound) || ctx.Err() != nil):
			return t, err
		case err != nil:
			if failures++; failures > 20 {
				return t, err
			}
		default:
			failures = 0
			if progress != nil {
				progress(t)
			}
			if t.FinishedAt != "" {
				if t.Succeeded {
					return t, nil
				}
				// Logs come only with verbose=true.
				if v, verr := c.Transfer(ctx, app, uuid, true); verr == nil {
					t = v
				}
				return t, fmt.Errorf("%w: %s did not finish:\n%s\n(heroku pg:backups:info %s -a %s has the details)", ErrTransferFailed, t.Name(), lastLogs(t, 5), t.Name(), app)
			}
		}
		select {
		case <-ctx.Done():
			return t, ctx.Err()
		case <-time.After(interval):
		}
	}
}

func lastLogs(t Transfer, n int) string {
	logs := t.Logs
	if len(logs) > n {
		logs = logs[len(logs)-n:]
	}
	var lines []string
	for _, l := range logs {
		m := l.Message
		if len(m) > 500 {
			m = m[:500] + "…"
		}
		lines = append(lines, "  "+l.CreatedAt+" "+m)
	}
	if len(lines) == 0 {
		return "  (no log lines)"
	}
	return strings.Join(lines, "\n")
}
