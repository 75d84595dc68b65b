package report

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// TestScreenshot renders a realistic report with 30 drills of history and
// takes a screenshot of it with headless Chromium, when one is installed
// (apt-get install chromium), to catch a page that a browser cannot lay
// out. It is a smoke test; the assertions are in html_test.go. Set
// LIFEBOAT_REPORT_SCREENSHOTS to a directory to keep the pages and the
// PNGs and look at them.
func TestScreenshot(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	var browser string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		testenv.Missing(t, "no chromium installed (apt-get install chromium)")
	}
	out := os.Getenv("LIFEBOAT_REPORT_SCREENSHOTS")
	if out == "" {
		out = t.TempDir()
	} else if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	pass := series(30, 9, 17)
	fail := series(30, 9, 17, 29)
	for name, page := range map[string]struct {
		r    *Report
		hist []*Report
	}{
		"report-pass":  {pass[29], pass},
		"report-fail":  {fail[29], fail},
		"report-first": {pass[0], nil},
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := HTML(&b, page.r, page.hist); err != nil {
				t.Fatal(err)
			}
			htmlPath := filepath.Join(out, name+".html")
			pngPath := filepath.Join(out, name+".png")
			if err := os.WriteFile(htmlPath, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			os.Remove(pngPath)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
				"--no-first-run", "--user-data-dir="+t.TempDir(), "--screenshot="+pngPath,
				"--window-size=1280,2400", "file://"+htmlPath)
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", browser, err, msg)
			}
			f, err := os.Open(pngPath)
			if err != nil {
				t.Fatalf("no screenshot: %v", err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatalf("screenshot is not a PNG: %v", err)
			}
			// Not a blank page: the badge's color is somewhere near the top.
			colors := map[uint32]bool{}
			bnd := img.Bounds()
			for y := bnd.Min.Y; y < bnd.Min.Y+300 && y < bnd.Max.Y; y += 3 {
				for x := bnd.Min.X; x < bnd.Max.X; x += 3 {
					r, g, b, _ := img.At(x, y).RGBA()
					colors[r>>12<<8|g>>12<<4|b>>12] = true
				}
			}
			if len(colors) < 8 {
				t.Errorf("the screenshot looks blank (%d colors)", len(colors))
			}
			t.Logf("%s", pngPath)
		})
	}
}
