package engine

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

const helloMain = `package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	fmt.Println("hello from lifeboat " + strings.Join(os.Args[1:], " "))
	fmt.Fprintln(os.Stderr, "to stderr")
	os.Exit(3)
}
`

// buildStatic compiles src as a static Linux binary and returns its bytes.
func buildStatic(t *testing.T, src string) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", "hello", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOFLAGS=", "GOTOOLCHAIN=local", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(filepath.Join(dir, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// tarOf makes a build context holding files (name -> content; names ending
// in no extension are executable).
func tarOf(t *testing.T, files map[string][]byte) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		mode := int64(0o644)
		if name != "Dockerfile" && filepath.Ext(name) == "" {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(files[name])), ModTime: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

func TestBuildImage(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := testCtx(t, 3*time.Minute)
	labels := testLabels(t)
	tag := "lifeboat-test/" + uniq(t, "") + ":1"
	t.Cleanup(func() {
		if err := e.RemoveImage(testCtx(t, 30*time.Second), tag); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	buildCtx := tarOf(t, map[string][]byte{
		"Dockerfile": []byte("FROM scratch\nCOPY hello /hello\nENTRYPOINT [\"/hello\"]\nCMD [\"default\"]\n"),
		"hello":      buildStatic(t, helloMain),
	})
	if err := e.BuildImage(ctx, buildCtx, tag, labels); err != nil {
		t.Fatal(err)
	}
	img, err := e.InspectImage(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	if img.Labels[labelTest] != labels[labelTest] || !slices.Equal(img.Entrypoint, []string{"/hello"}) || !slices.Equal(img.Cmd, []string{"default"}) {
		t.Errorf("image %+v", img)
	}

	spec := ContainerSpec{Name: uniq(t, ""), Image: tag, Cmd: []string{"from", "the", "spec"}, Labels: labels}
	id := createStarted(t, ctx, e, spec)
	code, err := e.WaitContainer(ctx, id)
	if err != nil || code != 3 {
		t.Fatalf("WaitContainer: %d, %v", code, err)
	}
	logs, err := e.Logs(ctx, id, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs, "hello from lifeboat from the spec\n") || !strings.Contains(logs, "to stderr\n") {
		t.Errorf("logs %q", logs)
	}
	c, err := e.InspectContainer(ctx, id)
	if err != nil || c.State != "exited" || c.ExitCode != 3 {
		t.Errorf("after exit: %q %d, %v", c.State, c.ExitCode, err)
	}
}

func TestBuildImageFails(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := testCtx(t, time.Minute)
	tag := "lifeboat-test/" + uniq(t, "") + ":1"
	t.Cleanup(func() { _ = e.RemoveImage(testCtx(t, 30*time.Second), tag) })

	for name, dockerfile := range map[string]string{
		"missing file":       "FROM scratch\nCOPY not-in-context /x\n",
		"bad instruction":    "FROM scratch\nFLY away\n",
		"base image missing": "FROM lifeboat-test/does-not-exist:1\n",
	} {
		t.Run(name, func(t *testing.T) {
			err := e.BuildImage(ctx, tarOf(t, map[string][]byte{"Dockerfile": []byte(dockerfile)}), tag, nil)
			if err == nil {
				t.Fatal("build succeeded")
			}
			if !strings.Contains(err.Error(), tag) {
				t.Errorf("error %q does not name the tag", err)
			}
			t.Logf("%v", err)
			if _, err := e.InspectImage(ctx, tag); err == nil {
				t.Errorf("a failed build left the image")
			}
		})
	}
}
