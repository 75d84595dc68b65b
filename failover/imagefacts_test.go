package failover

import (
	"context"
	"strings"
	"testing"

	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
	"github.com/lifeboat-dr/lifeboat/internal/imagebuild"
)

// What is read out of the app image (Procfile, shell) is read once per
// image ID and kept: the next failover starts no probe container for it.
func TestImageFactsAreReadOncePerImage(t *testing.T) {
	t.Parallel()
	s := newTestStandby(t, nil)
	ctx := context.Background()
	root, err := imagebuild.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	tag := "lifeboat-test/facts:" + s.App.Name
	if err := imagebuild.ExampleApp(ctx, s.Engine, root, tag); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Engine.RemoveImage(context.Background(), tag) })
	img, err := s.Engine.InspectImage(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	if shell, err := s.imageShell(ctx, img); err != nil || shell {
		t.Fatalf("shell in a FROM scratch image: %v, %v", shell, err)
	}
	text, path, err := s.imageProcfile(ctx, img, procfilePaths)
	if err != nil || path != "/Procfile" || !strings.Contains(text, "web: /app web") {
		t.Fatalf("Procfile %q at %q: %v", text, path, err)
	}
	// Kept for this image: what the record says is what is used.
	f := s.loadImageFacts(img.ID)
	if !f.ShellRead || !f.ProcfileRead {
		t.Fatalf("facts kept: %+v", f)
	}
	f.Procfile, f.Shell = "web: /kept\n", true
	if err := fsutil.WriteJSONAtomic(s.State.ImageFactsFile(), f, 0o600); err != nil {
		t.Fatal(err)
	}
	if text, _, _ := s.imageProcfile(ctx, img, procfilePaths); text != "web: /kept\n" {
		t.Errorf("the Procfile was read again: %q", text)
	}
	if shell, _ := s.imageShell(ctx, img); !shell {
		t.Error("the shell was looked for again")
	}
	// Another image knows nothing yet.
	if other := s.loadImageFacts("sha256:other"); other.ProcfileRead || other.ShellRead {
		t.Errorf("another image's facts: %+v", other)
	}
}
