package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
)

// ErrHeroku is returned when the Heroku Platform API cannot give the
// config vars (unreachable, bad token, unknown app).
var ErrHeroku = errors.New("heroku API")

// Snapshot is a copy of the app's Heroku config vars, kept so that a
// failover has them when Heroku is down.
type Snapshot struct {
	App   string            `json:"app"`
	Taken time.Time         `json:"taken"`
	Vars  map[string]string `json:"vars"`
}

// HerokuAPI is access to one app on the Heroku Platform API.
type HerokuAPI struct {
	// App is the Heroku app name.
	App string
	// TokenFile holds an API token (mode 0600).
	TokenFile string
	// APIURL is https://api.heroku.com (or a test server).
	APIURL string
}

// FetchConfigVars calls GET /apps/{app}/config-vars.
func FetchConfigVars(ctx context.Context, h HerokuAPI) (*Snapshot, error) {
	tok, err := os.ReadFile(h.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("%w: token file: %v", ErrHeroku, err)
	}
	u := strings.TrimRight(h.APIURL, "/") + "/apps/" + url.PathEscape(h.App) + "/config-vars"
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/vnd.heroku+json; version=3")
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	req.Header.Set("User-Agent", "lifeboat")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w unreachable: %v", ErrHeroku, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("%w: the token in %s was refused (%d): create one with `heroku authorizations:create`", ErrHeroku, h.TokenFile, resp.StatusCode)
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w: no Heroku app %q (check app.heroku.app)", ErrHeroku, h.App)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: %s answered %d", ErrHeroku, u, resp.StatusCode)
	}
	vars := map[string]any{}
	if err := json.Unmarshal(body, &vars); err != nil {
		return nil, fmt.Errorf("%w: the answer is not a JSON object of config vars", ErrHeroku)
	}
	s := &Snapshot{App: h.App, Taken: time.Now().UTC(), Vars: map[string]string{}}
	for k, v := range vars {
		if v != nil {
			s.Vars[k] = fmt.Sprint(v)
		}
	}
	return s, nil
}

// SaveSnapshot writes the snapshot atomically with mode 0600.
func SaveSnapshot(path string, s *Snapshot) error { return fsutil.WriteJSONAtomic(path, s, 0o600) }

// LoadSnapshot reads the last snapshot; a missing file gives an empty one.
func LoadSnapshot(path string) (*Snapshot, error) {
	var s Snapshot
	err := fsutil.ReadJSON(path, &s)
	if errors.Is(err, os.ErrNotExist) {
		return &Snapshot{Vars: map[string]string{}}, nil
	}
	if err != nil {
		return nil, err
	}
	if s.Vars == nil {
		s.Vars = map[string]string{}
	}
	return &s, nil
}
