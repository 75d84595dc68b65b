// Package herokutest is a local stand-in for the Heroku Platform API and
// Data API as Lifeboat's capture uses them, answering with the real APIs'
// shapes (attachment resolve, config vars, backups, transfers, public-url)
// and serving a real dump at the public URL, for tests.
package herokutest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is the fake Heroku. Set its fields before use.
type Server struct {
	*httptest.Server
	// Token is the bearer token the APIs accept.
	Token string
	// App is the Heroku app, AddonID and AddonName its database add-on,
	// attached as DATABASE (config var DATABASE_URL).
	App, AddonID, AddonName string
	// ConfigVars are the app's config vars.
	ConfigVars map[string]string
	// Dump is what the public URL serves.
	Dump []byte
	// PendingPolls is how many polls see the transfer not yet finished.
	PendingPolls int
	// Fail makes the transfer finish without succeeding, with these logs.
	Fail []string

	mu       sync.Mutex
	polls    int
	started  int
	requests []string
	leaked   bool
}

const transferUUID = "2a4b8cf5-1b2c-4d5e-9f00-0123456789ab"

// Start serves the fake Heroku on 127.0.0.1.
func Start(t testing.TB, dump []byte) *Server {
	s := &Server{Token: "heroku-test-token", App: "shop-prod", AddonID: "6c5f6a4e-0c1d-4a6b-8f5e-3d2c1b0a9f8e",
		AddonName: "postgresql-curved-12345", Dump: dump, PendingPolls: 2, ConfigVars: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Requests lists the requests made ("METHOD path").
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// Backups is how many backups were started.
func (s *Server) Backups() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// TokenLeaked reports whether the token was sent with the dump download
// (it must not be: the public URL is someone else's server).
func (s *Server) TokenLeaked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leaked
}

func (s *Server) transfer(finished, succeeded bool, verbose bool) map[string]any {
	t := map[string]any{
		"uuid": transferUUID, "num": 42, "from_name": "DATABASE", "from_type": "pg_dump", "to_type": "gof3r",
		"from_url": nil, "to_url": nil, "options": map[string]any{}, "source_bytes": 123456789, "processed_bytes": 0,
		"succeeded": false, "warnings": 0, "created_at": "2026-12-05 03:00:00 +0000", "started_at": nil,
		"finished_at": nil, "updated_at": "2026-12-05 03:00:00 +0000", "canceled_at": nil, "schedule": nil, "deleted_at": nil,
		"from_database": map[string]any{"name": s.AddonName}, "to_database": nil,
	}
	if s.polls > 0 || finished {
		t["started_at"] = "2026-12-05 03:00:01 +0000"
		t["processed_bytes"] = len(s.Dump) / 2
	}
	if finished {
		t["finished_at"] = "2026-12-05 03:01:00 +0000"
		t["succeeded"] = succeeded
		t["processed_bytes"] = len(s.Dump)
	}
	if verbose {
		logs := []map[string]string{{"created_at": "2026-12-05 03:00:01 +0000", "level": "info", "message": "Running pg_dump"}}
		for _, l := range s.Fail {
			logs = append(logs, map[string]string{"created_at": "2026-12-05 03:00:59 +0000", "level": "error", "message": l})
		}
		t["logs"] = logs
	}
	return t
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r.Method+" "+r.URL.Path)
	if r.URL.Path == "/dumps/b042.dump" {
		if r.Header.Get("Authorization") != "" {
			s.leaked = true
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(len(s.Dump)))
		w.Write(s.Dump)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.Token || !strings.HasPrefix(r.Header.Get("Accept"), "application/vnd.heroku+json; version=3") {
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]string{"id": "unauthorized", "message": "Invalid credentials provided."})
		return
	}
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(v)
	}
	notFound := func(resource string) {
		reply(http.StatusNotFound, map[string]string{"id": "not_found", "resource": resource, "message": "Couldn't find that " + resource + "."})
	}
	base := "/client/v11/apps/" + s.App + "/transfers/"
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/apps/"+s.App+"/config-vars":
		reply(http.StatusOK, s.ConfigVars)
	case r.Method == http.MethodPost && r.URL.Path == "/actions/addon-attachments/resolve":
		var body struct {
			App, AddonAttachment, AddonService string
		}
		var raw map[string]string
		json.NewDecoder(r.Body).Decode(&raw)
		body.App, body.AddonAttachment, body.AddonService = raw["app"], raw["addon_attachment"], raw["addon_service"]
		if body.App != s.App || body.AddonService != "heroku-postgresql" || (body.AddonAttachment != "DATABASE" && body.AddonAttachment != "DATABASE_URL") {
			notFound("add_on attachment")
			return
		}
		app := map[string]string{"id": "01234567-89ab-cdef-0123-456789abcdef", "name": s.App}
		reply(http.StatusOK, []map[string]any{{
			"id": "9e8d7c6b-5a4f-4e3d-2c1b-0a9f8e7d6c5b", "name": "DATABASE", "namespace": nil, "app": app,
			"config_vars": []string{"DATABASE_URL"}, "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
			"web_url": "https://addons-sso.heroku.com/apps/x/addons/y", "log_input_url": nil,
			"addon": map[string]any{"id": s.AddonID, "name": s.AddonName, "app": app,
				"plan": map[string]string{"id": "5e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8", "name": "heroku-postgresql:standard-0"}},
		}})
	case r.Method == http.MethodPost && r.URL.Path == "/client/v11/databases/"+s.AddonID+"/backups":
		s.started++
		s.polls = 0
		reply(http.StatusCreated, s.transfer(false, false, false))
	case r.Method == http.MethodGet && r.URL.Path == base+transferUUID:
		verbose := r.URL.Query().Get("verbose") == "true"
		s.polls++
		if s.polls <= s.PendingPolls && !verbose {
			reply(http.StatusOK, s.transfer(false, false, false))
			return
		}
		reply(http.StatusOK, s.transfer(true, len(s.Fail) == 0, verbose))
	case r.Method == http.MethodPost && r.URL.Path == base+"42/actions/public-url":
		reply(http.StatusOK, map[string]string{"url": s.URL + "/dumps/b042.dump",
			"expires_at": time.Now().Add(time.Hour).UTC().Format("2006-01-02 15:04:05 +0000")})
	default:
		notFound("resource")
	}
}
