package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// speaksPostgres connects to addr and sends an SSLRequest: a Postgres server
// answers 'S' or 'N'. (A bare TCP connect would not do: docker-proxy accepts
// connections before the server is up.)
func speaksPostgres(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	req := make([]byte, 8)
	binary.BigEndian.PutUint32(req[0:4], 8)
	binary.BigEndian.PutUint32(req[4:8], 80877103)
	if _, err := conn.Write(req); err != nil {
		return err
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(conn, b); err != nil {
		return err
	}
	if b[0] != 'S' && b[0] != 'N' {
		return fmt.Errorf("answer %q is not Postgres's", b)
	}
	return nil
}

// firstWrite records when the first byte was written to it.
type firstWrite struct {
	mu    sync.Mutex
	at    time.Time
	bytes bytes.Buffer
}

func (w *firstWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.at.IsZero() && len(p) > 0 {
		w.at = time.Now()
	}
	return w.bytes.Write(p)
}

// A Postgres container on an internal network with a labelled volume: the
// standby database's shape. Covers create/start/inspect, host reachability
// by IP, exec (exit codes, streaming, stdin, env, cancel, TTY), health,
// listing by labels, logs, stop/wait/remove, and that nothing is left.
func TestPostgresLifecycle(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := testCtx(t, 3*time.Minute)
	labels := testLabels(t)

	netName := uniq(t, "net")
	if _, err := e.EnsureNetwork(ctx, netName, true, labels); err != nil {
		t.Fatal(err)
	}
	cleanupNetwork(t, e, netName)
	vol := uniq(t, "data")
	if err := e.CreateVolume(ctx, vol, with(labels, LabelGeneration, "1")); err != nil {
		t.Fatal(err)
	}
	cleanupVolume(t, e, vol)

	dbLabels := with(with(labels, LabelRole, "database"), LabelGeneration, "1")
	spec := ContainerSpec{
		Name:    uniq(t, "db"),
		Image:   postgresImage,
		Env:     []string{"POSTGRES_PASSWORD=not-a-real-secret", "POSTGRES_DB=lifeboat"},
		Labels:  dbLabels,
		Network: netName,
		Aliases: []string{"db"},
		Mounts:  []Mount{{Type: MountVolume, Source: vol, Target: "/var/lib/postgresql/data"}},
		Healthcheck: &Healthcheck{
			Test:     []string{"CMD-SHELL", "pg_isready -U postgres -h 127.0.0.1"},
			Interval: time.Second, Timeout: 3 * time.Second, Retries: 60,
		},
		RestartPolicy: RestartNo,
		StopTimeout:   20 * time.Second,
		ShmSize:       128 << 20,
		Memory:        512 << 20,
	}
	id := createStarted(t, ctx, e, spec)

	c, err := e.InspectContainer(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	ip := c.IPs[netName]
	switch {
	case c.ID != id || c.Name != spec.Name || c.Image != postgresImage || !strings.HasPrefix(c.ImageID, "sha256:"):
		t.Errorf("identity: %+v", c)
	case !c.Running() || c.StartedAt.IsZero() || c.Created.IsZero():
		t.Errorf("state %q started %v created %v", c.State, c.StartedAt, c.Created)
	case net.ParseIP(ip) == nil || len(c.IPs) != 1:
		t.Errorf("IPs %v, want one on %s", c.IPs, netName)
	case c.Labels[LabelRole] != "database" || c.Labels[labelTest] != labels[labelTest]:
		t.Errorf("labels %v", c.Labels)
	case !slices.Contains(c.Mounts, Mount{Type: MountVolume, Source: vol, Target: "/var/lib/postgresql/data"}):
		t.Errorf("mounts %+v", c.Mounts)
	case !slices.Contains(c.Env, "POSTGRES_DB=lifeboat"):
		t.Errorf("env not reported")
	case len(c.Ports) != 0:
		t.Errorf("ports %+v", c.Ports)
	}

	// The host reaches a container on an internal network by its IP: this is
	// how Lifeboat talks to the standby database.
	addr := net.JoinHostPort(ip, "5432")
	if err := eventually(testCtx(t, 90*time.Second), func() error { return speaksPostgres(ctx, addr) }); err != nil {
		logs, _ := e.Logs(ctx, id, 30)
		t.Fatalf("Postgres at %s (internal network) not reachable from the host: %v\n%s", addr, err, logs)
	}

	asPostgres := ExecOptions{User: "postgres"}
	t.Run("exec", func(t *testing.T) {
		var res ExecResult
		if err := eventually(testCtx(t, 30*time.Second), func() error {
			var err error
			res, err = e.ExecCapture(ctx, id, []string{"pg_isready", "-h", "127.0.0.1"}, asPostgres)
			if err == nil && res.ExitCode != 0 {
				err = fmt.Errorf("exit %d: %s%s", res.ExitCode, res.Stdout, res.Stderr)
			}
			return err
		}); err != nil {
			t.Fatalf("pg_isready: %v", err)
		}
		if !strings.Contains(res.Stdout, "accepting connections") {
			t.Errorf("pg_isready said %q", res.Stdout)
		}

		res, err := e.ExecCapture(ctx, id, []string{"psql", "-d", "lifeboat", "-tAc", "select 40 + 2"}, asPostgres)
		if err != nil || res.ExitCode != 0 || strings.TrimSpace(res.Stdout) != "42" {
			t.Errorf("psql: %+v, %v", res, err)
		}

		res, err = e.ExecCapture(ctx, id, []string{"psql", "-d", "lifeboat", "-v", "ON_ERROR_STOP=1", "-tAc", "select * from no_such_table"}, asPostgres)
		if err != nil || res.ExitCode == 0 || !strings.Contains(res.Stderr, "no_such_table") {
			t.Errorf("failing psql: %+v, %v", res, err)
		}
		res, err = e.ExecCapture(ctx, id, []string{"bash", "-c", "echo out; echo err >&2; exit 7"}, ExecOptions{})
		if err != nil || res.ExitCode != 7 || res.Stdout != "out\n" || res.Stderr != "err\n" {
			t.Errorf("exit 7: %+v, %v", res, err)
		}
		if _, err := e.Exec(ctx, id, []string{"no-such-program"}, ExecOptions{}); err == nil {
			// The daemon reports a missing program as exit code 126/127, or as an error.
			res, _ := e.ExecCapture(ctx, id, []string{"no-such-program"}, ExecOptions{})
			if res.ExitCode == 0 {
				t.Errorf("missing program: exit 0")
			}
		}

		res, err = e.ExecCapture(ctx, id, []string{"bash", "-c", `echo "$FOO"; pwd; id -un`},
			ExecOptions{User: "postgres", Env: []string{"FOO=bar"}, WorkingDir: "/tmp"})
		if err != nil || res.Stdout != "bar\n/tmp\npostgres\n" {
			t.Errorf("env/workdir/user: %+v, %v", res, err)
		}

		res, err = e.ExecCapture(ctx, id, []string{"cat"}, ExecOptions{Stdin: strings.NewReader("through stdin\n")})
		if err != nil || res.ExitCode != 0 || res.Stdout != "through stdin\n" {
			t.Errorf("stdin: %+v, %v", res, err)
		}
	})

	t.Run("exec streams output", func(t *testing.T) {
		var out firstWrite
		start := time.Now()
		code, err := e.Exec(ctx, id, []string{"bash", "-c", "echo first; sleep 3; echo second"}, ExecOptions{Stdout: &out})
		took := time.Since(start)
		if err != nil || code != 0 || out.bytes.String() != "first\nsecond\n" {
			t.Fatalf("exit %d, %v, output %q", code, err, out.bytes.String())
		}
		if first := out.at.Sub(start); first > 2*time.Second || took < 3*time.Second {
			t.Errorf("first output after %s, exec took %s: output was not streamed", first, took)
		}
	})

	t.Run("exec cancel", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		start := time.Now()
		_, err := e.Exec(cctx, id, []string{"sleep", "30"}, ExecOptions{})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want context.DeadlineExceeded", err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("cancel took %s", took)
		}
	})

	t.Run("exec tty", func(t *testing.T) {
		var out bytes.Buffer
		in := strings.NewReader("") // input that ends at once must not cut the output short
		code, err := e.execTTY(ctx, id, []string{"bash", "-c", "test -t 0 && test -t 1 && echo tty-yes; exit 4"}, "postgres",
			in, &out, -1, -1)
		if err != nil || code != 4 || !strings.Contains(out.String(), "tty-yes") {
			t.Errorf("exit %d, %v, output %q", code, err, out.String())
		}
	})

	t.Run("health and listing", func(t *testing.T) {
		if err := eventually(testCtx(t, 60*time.Second), func() error {
			c, err := e.InspectContainer(ctx, id)
			if err == nil && c.Health != "healthy" {
				err = fmt.Errorf("health %q", c.Health)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		list, err := e.ListContainers(ctx, map[string]string{labelTest: labels[labelTest], LabelRole: "database"}, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != id || list[0].IPs[netName] != ip || list[0].Health != "healthy" || !list[0].Running() {
			t.Errorf("ListContainers: %+v", list)
		}
		if list, _ := e.ListContainers(ctx, with(labels, LabelRole, "web"), true); len(list) != 0 {
			t.Errorf("ListContainers role=web: %+v", list)
		}
	})

	t.Run("logs", func(t *testing.T) {
		logs, err := e.Logs(ctx, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logs, "database system is ready to accept connections") {
			t.Errorf("logs:\n%s", logs)
		}
		if strings.Contains(logs, "not-a-real-secret") {
			t.Errorf("the password is in the logs")
		}
		tail, err := e.Logs(ctx, id, 2)
		if err != nil || strings.Count(tail, "\n") != 2 {
			t.Errorf("tail 2: %q, %v", tail, err)
		}
	})

	// Stop (postgres exits 0 on its stop signal), stop again, wait, remove.
	if err := e.StopContainer(ctx, id, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := e.StopContainer(ctx, id, time.Second); err != nil {
		t.Errorf("stopping a stopped container: %v", err)
	}
	if code, err := e.WaitContainer(ctx, id); err != nil || code != 0 {
		t.Errorf("WaitContainer: %d, %v", code, err)
	}
	c, err = e.InspectContainer(ctx, id)
	if err != nil || c.State != "exited" || c.ExitCode != 0 || len(c.IPs) != 0 {
		t.Errorf("after stop: state %q exit %d IPs %v, %v", c.State, c.ExitCode, c.IPs, err)
	}
	if err := e.RemoveContainer(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.InspectVolume(ctx, vol); err != nil {
		t.Errorf("the named volume went with the container: %v", err)
	}
	if err := e.RemoveVolume(ctx, vol); err != nil {
		t.Fatal(err)
	}
	if err := e.RemoveNetwork(ctx, netName); err != nil {
		t.Fatal(err)
	}
	cs, err1 := e.ListContainers(ctx, labels, true)
	vs, err2 := e.ListVolumes(ctx, labels)
	ns, err3 := e.ListNetworks(ctx, labels)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	if len(cs)+len(vs)+len(ns) != 0 {
		t.Errorf("left over: containers %+v volumes %+v networks %+v", cs, vs, ns)
	}
}

// A published port on the default bridge answers on 127.0.0.1, and a second
// container publishing the same port fails to start with ErrPortInUse.
func TestPublishedPort(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := testCtx(t, 2*time.Minute)
	labels := testLabels(t)
	port := freePort(t)
	spec := ContainerSpec{
		Name:    uniq(t, "db"),
		Image:   postgresImage,
		Env:     []string{"POSTGRES_PASSWORD=not-a-real-secret"},
		Labels:  labels,
		Publish: []Port{{HostIP: "127.0.0.1", HostPort: port, ContainerPort: 5432}},
	}
	id := createStarted(t, ctx, e, spec)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := eventually(testCtx(t, 90*time.Second), func() error { return speaksPostgres(ctx, addr) }); err != nil {
		t.Fatalf("Postgres at published %s: %v", addr, err)
	}
	c, err := e.InspectContainer(ctx, id)
	if err != nil || !slices.Equal(c.Ports, spec.Publish) {
		t.Errorf("ports %+v, %v", c.Ports, err)
	}

	second := sleeper(uniq(t, "second"), labels)
	second.Publish = spec.Publish
	id2, err := e.CreateContainer(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	cleanupContainer(t, e, id2)
	err = e.StartContainer(ctx, id2)
	if !errors.Is(err, ErrPortInUse) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("got %v, want ErrPortInUse naming %s", err, addr)
	}
	c2, err := e.InspectContainer(ctx, id2)
	if err != nil || c2.Running() {
		t.Errorf("second container: state %q, %v", c2.State, err)
	}
	// The first one is untouched.
	if err := speaksPostgres(ctx, addr); err != nil {
		t.Errorf("first container after the failed start: %v", err)
	}
}
