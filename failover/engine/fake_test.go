package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDaemon answers the few Engine API calls of a pull, for what a real
// daemon without a registry cannot show: a successful pull's progress, and
// a pull that breaks half-way. Everything else answers 404.
type fakeDaemon struct {
	mu     sync.Mutex
	images map[string]bool     // refs present
	pulls  map[string][]string // ref -> JSON lines of its pull stream
	denied map[string]string   // ref -> error the daemon answers the pull with
}

func (f *fakeDaemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Api-Version", "1.41")
	path := r.URL.Path
	if path == "/_ping" {
		return
	}
	path = strings.TrimPrefix(path, "/v1.41")
	jsonErr := func(code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/images/") && strings.HasSuffix(path, "/json"):
		ref := strings.TrimSuffix(strings.TrimPrefix(path, "/images/"), "/json")
		if !f.images[ref] {
			jsonErr(http.StatusNotFound, "No such image: "+ref)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"Id":"sha256:%064d","RepoTags":[%q],"Config":{"Cmd":["serve"],"ExposedPorts":{"8080/tcp":{}}}}`, 1, ref)
	case r.Method == http.MethodPost && path == "/images/create":
		ref := r.URL.Query().Get("fromImage") + ":" + r.URL.Query().Get("tag")
		ref = strings.TrimPrefix(ref, "docker.io/")
		if msg, ok := f.denied[ref]; ok {
			jsonErr(http.StatusNotFound, msg)
			return
		}
		lines, ok := f.pulls[ref]
		if !ok {
			jsonErr(http.StatusNotFound, "pull access denied for "+ref)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
		if !strings.Contains(strings.Join(lines, ""), "errorDetail") {
			f.images[ref] = true
		}
	default:
		jsonErr(http.StatusNotFound, "page not found")
	}
}

// startFake serves f on a unix socket and points DOCKER_HOST at it.
func startFake(t *testing.T, f *fakeDaemon) *Engine {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(f)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	e, err := New(testCtx(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestEnsureImagePullsWithProgress(t *testing.T) {
	f := &fakeDaemon{
		images: map[string]bool{},
		pulls: map[string][]string{
			"example/app:1": {
				`{"status":"Pulling from example/app","id":"1"}`,
				`{"status":"Pulling fs layer","id":"aaa"}`,
				`{"status":"Pulling fs layer","id":"bbb"}`,
				`{"status":"Downloading","progressDetail":{"current":1,"total":3},"id":"aaa"}`,
				`{"status":"Downloading","progressDetail":{"current":2,"total":3},"id":"aaa"}`,
				`{"status":"Downloading","progressDetail":{"current":3,"total":3},"id":"aaa"}`,
				`{"status":"Download complete","id":"aaa"}`,
				`{"status":"Pull complete","id":"aaa"}`,
				`{"status":"Already exists","id":"bbb"}`,
				`{"status":"Digest: sha256:0123"}`,
				`{"status":"Status: Downloaded newer image for example/app:1"}`,
			},
			"example/broken:1": {
				`{"status":"Pulling fs layer","id":"aaa"}`,
				`{"errorDetail":{"message":"read tcp: connection reset by peer"},"error":"read tcp: connection reset by peer"}`,
			},
		},
		denied: map[string]string{"example/private:1": "pull access denied for example/private, repository does not exist or may require 'docker login'"},
	}
	e := startFake(t, f)
	if e.APIVersion() != "1.41" {
		t.Errorf("negotiated %q with a 1.41 daemon", e.APIVersion())
	}
	ctx := testCtx(t, 10*time.Second)

	var progress bytes.Buffer
	img, err := e.EnsureImage(ctx, "example/app:1", &progress)
	if err != nil {
		t.Fatal(err)
	}
	if img.Ref != "example/app:1" || len(img.ExposedPorts) != 1 || img.ExposedPorts[0] != "8080/tcp" {
		t.Errorf("image %+v", img)
	}
	want := `1: Pulling from example/app
aaa: Pulling fs layer
bbb: Pulling fs layer
aaa: Downloading
aaa: Download complete
aaa: Pull complete
bbb: Already exists
Digest: sha256:0123
Status: Downloaded newer image for example/app:1
`
	if progress.String() != want {
		t.Errorf("progress:\n%s\nwant:\n%s", progress.String(), want)
	}

	for ref, says := range map[string]string{
		"example/broken:1":  "connection reset by peer",
		"example/private:1": "pull access denied",
	} {
		_, err := e.EnsureImage(ctx, ref, nil)
		if !errors.Is(err, ErrImageMissing) || !strings.Contains(err.Error(), ref) || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: %v, want ErrImageMissing naming it and saying %q", ref, err, says)
		}
	}
}
