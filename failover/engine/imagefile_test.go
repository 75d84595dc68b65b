package engine

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestReadImageFile(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := testCtx(t, time.Minute)
	b, err := e.ReadImageFile(ctx, postgresImage, "/usr/lib/os-release") // a regular file (/etc/os-release links to it)
	if err != nil || !strings.Contains(string(b), "Debian") {
		t.Errorf("/usr/lib/os-release: %q, %v", b, err)
	}
	if _, err := e.ReadImageFile(ctx, postgresImage, "/no/such/file"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing file: %v, want ErrNotFound", err)
	}
	if ok, err := e.ImageHasFile(ctx, postgresImage, "/bin/sh"); !ok || err != nil {
		t.Errorf("ImageHasFile /bin/sh: %v, %v", ok, err)
	}
	if ok, err := e.ImageHasFile(ctx, postgresImage, "/Procfile"); ok || err != nil {
		t.Errorf("ImageHasFile /Procfile: %v, %v", ok, err)
	}
	if _, err := e.ReadImageFile(ctx, "lifeboat-test/does-not-exist:1", "/x"); !errors.Is(err, ErrImageMissing) {
		t.Errorf("missing image: %v, want ErrImageMissing", err)
	}
	// The probe containers are gone.
	if list, err := e.ListContainers(ctx, map[string]string{LabelRole: "probe"}, true); err != nil {
		t.Fatal(err)
	} else {
		for _, c := range list {
			if c.Image == postgresImage && time.Since(c.Created) < time.Minute {
				t.Errorf("probe container left: %s", c.Name)
			}
		}
	}
}

// Without a registry, PullImage of a local image returns it with
// ErrStaleImage; of a missing image, ErrImageMissing.
func TestPullImageWithoutRegistry(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := testCtx(t, time.Minute)
	img, err := e.PullImage(ctx, postgresImage, nil)
	if !errors.Is(err, ErrStaleImage) || img.ID == "" {
		t.Errorf("local image: %+v, %v, want it with ErrStaleImage", img, err)
	}
	if _, err := e.PullImage(ctx, "lifeboat-test/does-not-exist:1", nil); !errors.Is(err, ErrImageMissing) {
		t.Errorf("missing image: %v, want ErrImageMissing", err)
	}
}
