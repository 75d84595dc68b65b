package schedule

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWriteAndUnseenEnv(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "units")
	units := []Unit{{Name: "lifeboat-refresh@a.timer", Content: "[Timer]\n"}, {Name: "lifeboat-refresh@a.service", Content: "[Service]\n"}}
	if err := Write(dir, units); err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		b, err := os.ReadFile(filepath.Join(dir, u.Name))
		if err != nil || string(b) != u.Content {
			t.Errorf("%s: %q, %v", u.Name, b, err)
		}
	}
	got := UnseenEnv([]string{"LIFEBOAT_CONFIG=/etc/l.yaml", "LIFEBOAT_APP=a", "LIFEBOAT_STATE_DIR=/x", "HOME=/root", "LIFEBOAT_APPS_0_NAME=b"})
	if !slices.Equal(got, []string{"LIFEBOAT_STATE_DIR", "LIFEBOAT_APPS_0_NAME"}) {
		t.Errorf("UnseenEnv = %q", got)
	}
}
