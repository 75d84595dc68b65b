// Package imagebuild builds small Docker images of Go programs FROM
// scratch, so that tests and the demo need no registry: the example app,
// and images that misbehave on purpose.
package imagebuild

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
)

// Spec describes an image.
type Spec struct {
	// Package is the Go package to build (e.g. "./internal/exampleapp"),
	// relative to ModuleDir.
	Package   string
	ModuleDir string
	Tag       string
	// Files are extra files to put at the image's root (e.g. "Procfile").
	Files map[string]string
	// Cmd is the image's default command after the binary; Entrypoint is /app.
	Cmd    []string
	Labels map[string]string
}

// Build compiles the package statically and builds the image.
func Build(ctx context.Context, eng *engine.Engine, s Spec) error {
	tmp, err := os.MkdirTemp("", "imagebuild-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "app")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, s.Package)
	cmd.Dir = s.ModuleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", s.Package, err, out)
	}
	binData, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	df := "FROM scratch\nCOPY app /app\n"
	names := make([]string, 0, len(s.Files))
	for name := range s.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		df += fmt.Sprintf("COPY %s /%s\n", name, name)
	}
	df += `ENTRYPOINT ["/app"]` + "\n"
	if len(s.Cmd) > 0 {
		df += `CMD ["` + strings.Join(s.Cmd, `", "`) + `"]` + "\n"
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte, mode int64) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data))}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := add("Dockerfile", []byte(df), 0o644); err != nil {
		return err
	}
	if err := add("app", binData, 0o755); err != nil {
		return err
	}
	for _, name := range names {
		if err := add(name, []byte(s.Files[name]), 0o644); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return eng.BuildImage(ctx, &buf, s.Tag, s.Labels)
}

// ExampleApp builds the example app image with its Procfile.
func ExampleApp(ctx context.Context, eng *engine.Engine, moduleDir, tag string) error {
	return Build(ctx, eng, Spec{
		Package:   "./internal/exampleapp",
		ModuleDir: moduleDir,
		Tag:       tag,
		Files:     map[string]string{"Procfile": "web: /app web\nworker: /app worker\nrelease: /app release\n"},
		Cmd:       []string{"web"},
	})
}

// ModuleRoot finds the directory holding go.mod, from the working directory up.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
