package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// PostgresImage is the Docker image of Postgres 15 the tests run, built
// locally from Debian packages by scripts/build-postgres-image.sh (there is no
// registry to pull from). It behaves like the official postgres:15 image
// (POSTGRES_PASSWORD, POSTGRES_USER, POSTGRES_DB, PGDATA,
// /docker-entrypoint-initdb.d, STOPSIGNAL SIGINT, a VOLUME on PGDATA) and
// also carries the tag postgres:15 unless a real official image holds it.
const PostgresImage = "lifeboat/postgres:15"

// imageVersionLabel carries the build script's IMAGE_VERSION.
const imageVersionLabel = "io.lifeboat.image-version"

// dockerAPI is a minimal client of the Docker Engine API, enough to check
// that the engine and an image are there. Lifeboat's own engine client lives
// in failover/engine; this one must not depend on it.
type dockerAPI struct {
	http *http.Client
	base string // "http://docker" for a Unix socket, else the TCP URL
}

// newDockerAPI honours DOCKER_HOST (unix:// or tcp://), defaulting to
// /var/run/docker.sock.
func newDockerAPI() (*dockerAPI, string, error) {
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	u, err := url.Parse(host)
	if err != nil {
		return nil, host, fmt.Errorf("DOCKER_HOST %q: %w", host, err)
	}
	switch u.Scheme {
	case "unix":
		sock := u.Path
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}
		return &dockerAPI{http: &http.Client{Transport: tr, Timeout: 10 * time.Second}, base: "http://docker"}, host, nil
	case "tcp", "http":
		return &dockerAPI{http: &http.Client{Timeout: 10 * time.Second}, base: "http://" + u.Host}, host, nil
	default:
		return nil, host, fmt.Errorf("DOCKER_HOST %q: unsupported scheme (want unix:// or tcp://)", host)
	}
}

func (d *dockerAPI) get(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}

// RequireDocker checks that the Docker Engine answers a ping (at
// $DOCKER_HOST, default /var/run/docker.sock) and fails the test with what
// went wrong if it does not.
func RequireDocker(t testing.TB) {
	t.Helper()
	requireDocker(t)
}

func requireDocker(t testing.TB) *dockerAPI {
	t.Helper()
	api, host, err := newDockerAPI()
	if err != nil {
		Missing(t, "testenv: Docker Engine: %v", err)
	}
	status, body, err := api.get(t.Context(), "/_ping")
	if err != nil {
		Missing(t, "testenv: the Docker Engine at %s is unreachable (is dockerd running, may this user use its socket?): %v", host, err)
	}
	if status != http.StatusOK {
		Missing(t, "testenv: the Docker Engine at %s answered the ping with %d: %s", host, status, strings.TrimSpace(string(body)))
	}
	return api
}

// RequirePostgresImage checks that the Docker Engine is reachable and that
// [PostgresImage] exists and is as recent as scripts/build-postgres-image.sh
// builds it, else fails the test naming that script. It returns the image's
// tag.
func RequirePostgresImage(t testing.TB) string {
	t.Helper()
	api := requireDocker(t)
	status, body, err := api.get(t.Context(), "/images/"+PostgresImage+"/json")
	if err != nil {
		t.Fatalf("testenv: inspecting image %s: %v", PostgresImage, err)
	}
	if status == http.StatusNotFound {
		Missing(t, "testenv: Docker image %s not found: run scripts/build-postgres-image.sh (or scripts/test-deps.sh)", PostgresImage)
	}
	if status != http.StatusOK {
		t.Fatalf("testenv: inspecting image %s: %d: %s", PostgresImage, status, strings.TrimSpace(string(body)))
	}
	var img struct {
		Config struct {
			Labels map[string]string
		}
	}
	if err := json.Unmarshal(body, &img); err != nil {
		t.Fatalf("testenv: inspecting image %s: %v", PostgresImage, err)
	}
	if want := wantImageVersion(); want != "" && img.Config.Labels[imageVersionLabel] != want {
		Missing(t, "testenv: Docker image %s is out of date (%s=%q, the script builds %q): run scripts/build-postgres-image.sh",
			PostgresImage, imageVersionLabel, img.Config.Labels[imageVersionLabel], want)
	}
	return PostgresImage
}

var imageVersionRE = regexp.MustCompile(`(?m)^IMAGE_VERSION=(\S+)`)

// wantImageVersion reads IMAGE_VERSION from scripts/build-postgres-image.sh
// of the module the test runs in; "" when it cannot be found.
func wantImageVersion() string {
	root := moduleRoot()
	if root == "" {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(root, "scripts", "build-postgres-image.sh"))
	if err != nil {
		return ""
	}
	m := imageVersionRE.FindSubmatch(b)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// moduleRoot is the directory of the go.mod above the working directory
// (a test's working directory is its package's directory).
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
