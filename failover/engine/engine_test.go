package engine

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

func TestNewNegotiatesAPIVersion(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := testCtx(t, 20*time.Second)
	server, api, err := e.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := e.cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := client.MaxAPIVersion
	if versions.LessThan(raw.APIVersion, want) {
		want = raw.APIVersion
	}
	t.Logf("daemon %s (API %s), client max API %s, negotiated %s", server, raw.APIVersion, client.MaxAPIVersion, api)
	if server == "" || server != raw.Version {
		t.Errorf("server version %q, daemon says %q", server, raw.Version)
	}
	if api != want || e.APIVersion() != want {
		t.Errorf("negotiated API %q (APIVersion() %q), want %q", api, e.APIVersion(), want)
	}
	if strings.HasPrefix(server, "20.10") && api != "1.41" {
		t.Errorf("Docker 20.10 speaks API 1.41, negotiated %q", api)
	}
}

func TestNewUnreachable(t *testing.T) {
	dir := t.TempDir()
	refused := filepath.Join(dir, "refused.sock")
	l, err := net.Listen("unix", refused)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close() // the socket file stays, nobody listens

	for _, tc := range []struct {
		host string
		want []string
	}{
		{"unix:///nonexistent.sock", []string{"/nonexistent.sock", "does not exist", "dockerd running"}},
		{"unix://" + refused, []string{refused, "connection refused", "dockerd running"}},
		{"tcp://127.0.0.1:1", []string{"tcp://127.0.0.1:1", "dockerd running"}},
	} {
		t.Run(tc.host, func(t *testing.T) {
			t.Setenv("DOCKER_HOST", tc.host)
			start := time.Now()
			e, err := New(context.Background())
			took := time.Since(start)
			if err == nil {
				e.Close()
				t.Fatal("New succeeded")
			}
			if !errors.Is(err, ErrUnreachable) {
				t.Fatalf("error %v is not ErrUnreachable", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if took > 5*time.Second {
				t.Errorf("took %s", took)
			}
			t.Logf("%v", err)
		})
	}
}

func TestEnsureImageLocal(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := testCtx(t, 30*time.Second)
	var progress bytes.Buffer
	img, err := e.EnsureImage(ctx, postgresImage, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if progress.Len() != 0 {
		t.Errorf("a local image was pulled: %q", progress.String())
	}
	if !strings.HasPrefix(img.ID, "sha256:") || img.Ref != postgresImage || !slices.Contains(img.RepoTags, postgresImage) {
		t.Errorf("image %+v", img)
	}
	if !slices.Contains(img.ExposedPorts, "5432/tcp") {
		t.Errorf("exposed ports %v", img.ExposedPorts)
	}
	if !slices.Contains(img.Volumes, "/var/lib/postgresql/data") {
		t.Errorf("volumes %v", img.Volumes)
	}
	if !slices.ContainsFunc(img.Env, func(s string) bool { return strings.HasPrefix(s, "PGDATA=") }) {
		t.Errorf("env %v", img.Env)
	}
}

func TestEnsureImageMissing(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := testCtx(t, 60*time.Second)
	const ref = "lifeboat-test/does-not-exist:1"
	if _, err := e.InspectImage(ctx, ref); !errors.Is(err, ErrNotFound) {
		t.Fatalf("InspectImage: %v, want ErrNotFound", err)
	}
	start := time.Now()
	_, err := e.EnsureImage(ctx, ref, nil)
	took := time.Since(start)
	if !errors.Is(err, ErrImageMissing) {
		t.Fatalf("EnsureImage: %v, want ErrImageMissing", err)
	}
	for _, w := range []string{ref, "docker load", "docker pull"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if took > 30*time.Second {
		t.Errorf("took %s", took)
	}
	t.Logf("%s: %v", took.Round(time.Millisecond), err)
}

func TestCreateContainerErrors(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := testCtx(t, 60*time.Second)
	labels := testLabels(t)

	t.Run("image missing", func(t *testing.T) {
		spec := sleeper(uniq(t, ""), labels)
		spec.Image = "lifeboat-test/does-not-exist:1"
		id, err := e.CreateContainer(ctx, spec)
		if err == nil {
			cleanupContainer(t, e, id)
		}
		if !errors.Is(err, ErrImageMissing) || !strings.Contains(err.Error(), spec.Image) {
			t.Fatalf("got %v, want ErrImageMissing naming the image", err)
		}
	})

	t.Run("name conflict", func(t *testing.T) {
		spec := sleeper(uniq(t, ""), labels)
		id, err := e.CreateContainer(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		cleanupContainer(t, e, id)
		id2, err := e.CreateContainer(ctx, spec)
		if err == nil {
			cleanupContainer(t, e, id2)
		}
		if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), spec.Name) {
			t.Fatalf("got %v, want ErrConflict naming the container", err)
		}
	})

	t.Run("network missing", func(t *testing.T) {
		spec := sleeper(uniq(t, ""), labels)
		spec.Network = uniq(t, "nonet")
		id, err := e.CreateContainer(ctx, spec)
		if err == nil {
			cleanupContainer(t, e, id)
		}
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
	})

	t.Run("publish from internal network", func(t *testing.T) {
		netName := uniq(t, "net")
		if _, err := e.EnsureNetwork(ctx, netName, true, labels); err != nil {
			t.Fatal(err)
		}
		cleanupNetwork(t, e, netName)
		spec := sleeper(uniq(t, ""), labels)
		spec.Network = netName
		spec.Publish = []Port{{HostIP: "127.0.0.1", HostPort: freePort(t), ContainerPort: 5432}}
		id, err := e.CreateContainer(ctx, spec)
		if err == nil {
			cleanupContainer(t, e, id)
		}
		if err == nil || !strings.Contains(err.Error(), "internal") {
			t.Fatalf("got %v, want a refusal", err)
		}
	})

	t.Run("exec in a stopped container", func(t *testing.T) {
		spec := sleeper(uniq(t, ""), labels)
		id, err := e.CreateContainer(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		cleanupContainer(t, e, id)
		if _, err := e.Exec(ctx, id, []string{"true"}, ExecOptions{}); !errors.Is(err, ErrNotRunning) {
			t.Errorf("got %v, want ErrNotRunning", err)
		}
		if _, err := e.Exec(ctx, uniq(t, "missing"), []string{"true"}, ExecOptions{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing container: got %v, want ErrNotFound", err)
		}
	})

	t.Run("not found is fine for removal", func(t *testing.T) {
		missing := uniq(t, "missing")
		if _, err := e.InspectContainer(ctx, missing); !errors.Is(err, ErrNotFound) {
			t.Errorf("InspectContainer: %v", err)
		}
		if err := e.StopContainer(ctx, missing, time.Second); !errors.Is(err, ErrNotFound) {
			t.Errorf("StopContainer: %v", err)
		}
		if err := e.RemoveContainer(ctx, missing, true); err != nil {
			t.Errorf("RemoveContainer: %v", err)
		}
		if err := e.RemoveVolume(ctx, missing); err != nil {
			t.Errorf("RemoveVolume: %v", err)
		}
		if err := e.RemoveNetwork(ctx, missing); err != nil {
			t.Errorf("RemoveNetwork: %v", err)
		}
		if err := e.RemoveImage(ctx, "lifeboat-test/does-not-exist:1"); err != nil {
			t.Errorf("RemoveImage: %v", err)
		}
		if _, err := e.InspectVolume(ctx, missing); !errors.Is(err, ErrNotFound) {
			t.Errorf("InspectVolume: %v", err)
		}
		if _, err := e.InspectNetwork(ctx, missing); !errors.Is(err, ErrNotFound) {
			t.Errorf("InspectNetwork: %v", err)
		}
	})
}

// Two containers publishing the same host port, and a host process holding
// one: the second start fails with ErrPortInUse naming the port. (On the
// default bridge: an internal network publishes nothing.)
func TestStartPortInUse(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := testCtx(t, 60*time.Second)
	labels := testLabels(t)
	port := freePort(t)
	publish := []Port{{HostIP: "127.0.0.1", HostPort: port, ContainerPort: 5432}}

	first := sleeper(uniq(t, "first"), labels)
	first.Publish = publish
	firstID := createStarted(t, ctx, e, first)
	c, err := e.InspectContainer(ctx, firstID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(c.Ports, publish[0]) {
		t.Fatalf("ports %+v, want %+v", c.Ports, publish[0])
	}

	second := sleeper(uniq(t, "second"), labels)
	second.Publish = publish
	secondID, err := e.CreateContainer(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	cleanupContainer(t, e, secondID)
	err = e.StartContainer(ctx, secondID)
	if !errors.Is(err, ErrPortInUse) {
		t.Fatalf("second start: %v, want ErrPortInUse", err)
	}
	if want := "127.0.0.1:" + strconv.Itoa(port); !strings.Contains(err.Error(), want+" is taken") {
		t.Errorf("error %q does not name %s", err, want)
	}
	t.Logf("container holds the port: %v", err)

	// A host process holding the port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	hostPort := l.Addr().(*net.TCPAddr).Port
	third := sleeper(uniq(t, "third"), labels)
	third.Publish = []Port{{HostIP: "127.0.0.1", HostPort: hostPort, ContainerPort: 5432}}
	thirdID, err := e.CreateContainer(ctx, third)
	if err != nil {
		t.Fatal(err)
	}
	cleanupContainer(t, e, thirdID)
	err = e.StartContainer(ctx, thirdID)
	if !errors.Is(err, ErrPortInUse) {
		t.Fatalf("start on a port a host process holds: %v, want ErrPortInUse", err)
	}
	if want := "127.0.0.1:" + strconv.Itoa(hostPort); !strings.Contains(err.Error(), want+" is taken") {
		t.Errorf("error %q does not name %s", err, want)
	}
	t.Logf("host process holds the port: %v", err)

	got, err := e.ListContainers(ctx, labels, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != firstID {
		t.Errorf("running containers with the test's labels: %+v, want only %s", got, first.Name)
	}
}

func TestVolumes(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := testCtx(t, 60*time.Second)
	labels := testLabels(t)
	name := uniq(t, "vol")
	if err := e.CreateVolume(ctx, name, with(labels, LabelGeneration, "7")); err != nil {
		t.Fatal(err)
	}
	cleanupVolume(t, e, name)
	if err := e.CreateVolume(ctx, name, labels); !errors.Is(err, ErrConflict) {
		t.Errorf("second CreateVolume: %v, want ErrConflict", err)
	}
	v, err := e.InspectVolume(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != name || v.Labels[LabelGeneration] != "7" || v.CreatedAt.IsZero() || v.Mountpoint == "" {
		t.Errorf("volume %+v", v)
	}
	list, err := e.ListVolumes(ctx, with(labels, LabelGeneration, "7"))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != name {
		t.Errorf("ListVolumes: %+v", list)
	}
	if list, _ := e.ListVolumes(ctx, with(labels, LabelGeneration, "8")); len(list) != 0 {
		t.Errorf("ListVolumes generation 8: %+v", list)
	}

	// In use by a (stopped) container: ErrInUse.
	spec := sleeper(uniq(t, ""), labels)
	spec.Mounts = []Mount{{Type: MountVolume, Source: name, Target: "/data"}}
	id, err := e.CreateContainer(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	cleanupContainer(t, e, id)
	if err := e.RemoveVolume(ctx, name); !errors.Is(err, ErrInUse) {
		t.Errorf("RemoveVolume in use: %v, want ErrInUse", err)
	}
	if err := e.RemoveContainer(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	if err := e.RemoveVolume(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := e.InspectVolume(ctx, name); !errors.Is(err, ErrNotFound) {
		t.Errorf("after removal: %v", err)
	}
}

// The image declares VOLUME /var/lib/postgresql/data: without a mount there,
// each container gets an anonymous, unlabelled volume, removed only with
// RemoveContainer(…, true).
func TestAnonymousVolumeOfImage(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := testCtx(t, 60*time.Second)
	spec := sleeper(uniq(t, ""), testLabels(t))
	id, err := e.CreateContainer(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	cleanupContainer(t, e, id)
	c, err := e.InspectContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var anon string
	for _, m := range c.Mounts {
		if m.Target == "/var/lib/postgresql/data" && m.Type == MountVolume {
			anon = m.Source
		}
	}
	if anon == "" {
		t.Fatalf("no anonymous volume at /var/lib/postgresql/data: %+v", c.Mounts)
	}
	if v, err := e.InspectVolume(ctx, anon); err != nil || len(v.Labels) != 0 {
		t.Fatalf("anonymous volume %q: %+v, %v", anon, v, err)
	}
	if err := e.RemoveContainer(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.InspectVolume(ctx, anon); !errors.Is(err, ErrNotFound) {
		t.Errorf("anonymous volume after RemoveContainer(…, true): %v", err)
	}
}

func TestNetworks(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := testCtx(t, 60*time.Second)
	labels := testLabels(t)
	name := uniq(t, "net")
	cleanupNetwork(t, e, name)

	// Concurrent EnsureNetwork calls end with one network (API 1.41 would
	// let them create several of the same name).
	const n = 4
	ids := make(chan string, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			id, err := e.EnsureNetwork(ctx, name, true, labels)
			ids <- id
			errs <- err
		}()
	}
	var first string
	for range n {
		id := <-ids
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		if first == "" {
			first = id
		}
		if id != first {
			t.Errorf("EnsureNetwork returned %s and %s", shortID(first), shortID(id))
		}
	}
	list, err := e.ListNetworks(ctx, labels)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != first || list[0].Name != name || !list[0].Internal || list[0].Subnet == "" || list[0].Gateway == "" {
		t.Fatalf("ListNetworks: %+v", list)
	}

	if _, err := e.EnsureNetwork(ctx, name, false, labels); !errors.Is(err, ErrConflict) {
		t.Errorf("EnsureNetwork not internal over an internal one: %v, want ErrConflict", err)
	}

	// Connect, connect again, disconnect, disconnect again.
	id := createStarted(t, ctx, e, sleeper(uniq(t, ""), labels))
	if err := e.ConnectNetwork(ctx, name, id, []string{"db"}); err != nil {
		t.Fatal(err)
	}
	if err := e.ConnectNetwork(ctx, name, id, []string{"db"}); err != nil {
		t.Errorf("second connect: %v", err)
	}
	c, err := e.InspectContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.IPs[name] == "" || c.IPs["bridge"] == "" {
		t.Errorf("IPs %v, want one on %s and one on bridge", c.IPs, name)
	}
	if err := e.RemoveNetwork(ctx, name); !errors.Is(err, ErrInUse) {
		t.Errorf("RemoveNetwork with a container attached: %v, want ErrInUse", err)
	}
	if err := e.DisconnectNetwork(ctx, name, id); err != nil {
		t.Fatal(err)
	}
	if err := e.DisconnectNetwork(ctx, name, id); err != nil {
		t.Errorf("second disconnect: %v", err)
	}
	if err := e.RemoveNetwork(ctx, name); err != nil {
		t.Fatal(err)
	}
	if list, _ := e.ListNetworks(ctx, labels); len(list) != 0 {
		t.Errorf("after removal: %+v", list)
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runNewChild())
	}
	// Fail early and clearly when the test image is missing.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	e, err := New(ctx)
	if err == nil {
		_, err = e.InspectImage(ctx, postgresImage)
		if errors.Is(err, ErrNotFound) {
			err = errors.New(postgresImage + " is missing: run scripts/build-postgres-image.sh")
		}
		e.Close()
	}
	cancel()
	if err != nil {
		if testenv.DepsRequired() {
			os.Stderr.WriteString("failover/engine tests: " + err.Error() + "\n")
			os.Exit(1)
		}
		// Each test that needs the engine skips, saying why (newEngine).
		os.Stderr.WriteString("failover/engine tests: " + err.Error() + ": the tests that need it are skipped\n")
	}
	os.Exit(m.Run())
}
