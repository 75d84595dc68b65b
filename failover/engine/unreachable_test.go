package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// childEnv makes the test binary act as a plain program that calls New and
// prints the error (see TestMain): for running as another user.
const childEnv = "LIFEBOAT_ENGINE_TEST_NEW_CHILD"

// runNewChild is what the test binary does when childEnv is set.
func runNewChild() int {
	e, err := New(context.Background())
	if err == nil {
		e.Close()
		fmt.Println("connected")
		return 0
	}
	fmt.Printf("unreachable=%v\n%v\n", errors.Is(err, ErrUnreachable), err)
	return 1
}

// A user who may not open the socket (not root, not in the docker group)
// is told so, and what to do.
func TestNewPermissionDenied(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the check as the user nobody")
	}
	host := os.Getenv("DOCKER_HOST")
	if host != "" && !strings.HasPrefix(host, "unix://") {
		t.Skipf("DOCKER_HOST=%s is not a unix socket", host)
	}
	testenv.RequireDocker(t) // the socket must be there to be refused
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A copy of the test binary that nobody may run (t.TempDir is 0700).
	dir, err := os.MkdirTemp("", "lifeboat-engine-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "engine.test")
	if err := copyFile(self, bin, 0o755); err != nil {
		t.Fatal(err)
	}

	ctx := testCtx(t, 30*time.Second)
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = dir
	cmd.Env = []string{childEnv + "=1", "PATH=/usr/bin:/bin", "HOME=" + dir}
	if host != "" {
		cmd.Env = append(cmd.Env, "DOCKER_HOST="+host)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("nobody reached the daemon: %s", out)
	}
	for _, w := range []string{"unreachable=true", "permission denied", "docker group"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("output %q does not say %q", out, w)
		}
	}
	t.Logf("%s", out)
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// A daemon that goes away after New: every method says ErrUnreachable.
func TestUnreachableAfterNew(t *testing.T) {
	t.Parallel()
	cli, err := client.New(client.WithHost("unix:///nonexistent.sock"), client.WithAPIVersion("1.41"))
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{cli: cli, host: cli.DaemonHost(), apiVersion: "1.41"}
	defer e.Close()
	ctx := testCtx(t, 10*time.Second)
	checks := map[string]error{}
	_, checks["InspectContainer"] = e.InspectContainer(ctx, "x")
	_, checks["ListContainers"] = e.ListContainers(ctx, nil, true)
	_, checks["EnsureImage"] = e.EnsureImage(ctx, postgresImage, nil)
	_, checks["EnsureNetwork"] = e.EnsureNetwork(ctx, "x", true, nil)
	checks["RemoveContainer"] = e.RemoveContainer(ctx, "x", true)
	checks["CreateVolume"] = e.CreateVolume(ctx, "x", nil)
	_, checks["Exec"] = e.Exec(ctx, "x", []string{"true"}, ExecOptions{})
	_, _, checks["Version"] = e.Version(ctx)
	for name, err := range checks {
		if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "/nonexistent.sock") {
			t.Errorf("%s: %v, want ErrUnreachable naming the socket", name, err)
		}
	}
}
