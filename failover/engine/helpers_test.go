package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// These tests run against the real Docker Engine named by DOCKER_HOST (by
// default the local socket) and the local image lifeboat/postgres:15
// (scripts/build-postgres-image.sh makes it). Every object a test creates
// has a unique name and the labels of testLabels, and is removed by
// t.Cleanup.

const postgresImage = "lifeboat/postgres:15"

// labelTest marks objects made by these tests, with a per-test value.
const labelTest = "io.lifeboat.test"

// newEngine connects to the daemon or fails the test.
func newEngine(t *testing.T) *Engine {
	t.Helper()
	testenv.RequirePostgresImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e, err := New(ctx)
	if err != nil {
		t.Fatalf("New: %v (these tests need a Docker Engine)", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// testCtx is a context bounded by d and by the test's end.
func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// uniq is a Docker-safe name unique to this test run: lbtest-<test>-<random>.
func uniq(t *testing.T, part string) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 40 {
		name = name[:40]
	}
	s := "lbtest-" + name
	if part != "" {
		s += "-" + part
	}
	return s + "-" + hex.EncodeToString(b)
}

// testLabels are the labels of every object one test creates.
func testLabels(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		LabelApp:     "lbtest",
		LabelPurpose: "drill",
		labelTest:    uniq(t, ""),
	}
}

func with(labels map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for lk, lv := range labels {
		out[lk] = lv
	}
	return out
}

// cleanupContainer removes the container (and its anonymous volumes) when the test ends.
func cleanupContainer(t *testing.T, e *Engine, id string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.RemoveContainer(ctx, id, true); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
}

func cleanupVolume(t *testing.T, e *Engine, name string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.RemoveVolume(ctx, name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
}

func cleanupNetwork(t *testing.T, e *Engine, name string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.RemoveNetwork(ctx, name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
}

// createStarted creates and starts a container, removed at the end of the test.
func createStarted(t *testing.T, ctx context.Context, e *Engine, spec ContainerSpec) string {
	t.Helper()
	id, err := e.CreateContainer(ctx, spec)
	if err != nil {
		t.Fatalf("CreateContainer %s: %v", spec.Name, err)
	}
	cleanupContainer(t, e, id)
	if err := e.StartContainer(ctx, id); err != nil {
		t.Fatalf("StartContainer %s: %v", spec.Name, err)
	}
	return id
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// eventually retries f every 250ms until it returns nil or ctx ends, and
// returns f's last error.
func eventually(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// sleeper is a container spec that just sleeps, from the postgres image.
func sleeper(name string, labels map[string]string) ContainerSpec {
	return ContainerSpec{
		Name:        name,
		Image:       postgresImage,
		Entrypoint:  []string{"sleep"},
		Cmd:         []string{"300"},
		Labels:      labels,
		StopTimeout: time.Second,
	}
}
