package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// TestDestroyRemovesOneAppOnly: destroy asks for --yes off a terminal,
// then removes every Docker object and the state of the app it names, and
// nothing of another app, not even one whose name starts the same.
func TestDestroyRemovesOneAppOnly(t *testing.T) {
	image := testenv.RequirePostgresImage(t)
	ctx := context.Background()
	eng, err := engine.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, app := range []string{"shop", "blog", "shop-staging"} {
			removeAppObjects(t, app)
		}
		eng.Close()
	})
	w := newWorld(t, "    database: {image: auto, jobs: 2}\n  - name: blog\n    s3: {bucket: other}\n  - name: shop-staging\n    s3: {bucket: other}\n")
	w.s3.Put(t, bucket, w.key(2*time.Hour, true), testenv.Gzip(t, sourceDump(t)), testenv.WithSHA256Checksum())
	if code, out, errOut := lb(t, "--config", w.cfgPath, "refresh", "--app", "shop"); code != 0 {
		t.Fatalf("refresh: %d\n%s\n%s", code, out, errOut)
	}
	// The other apps' objects and state, one named like shop's.
	others := map[string]string{"blog": "lifeboat-blog-x", "shop-staging": "lifeboat-shop-staging-x"}
	for app, name := range others {
		labels := map[string]string{engine.LabelApp: app, engine.LabelPurpose: "standby"}
		if err := eng.CreateVolume(ctx, name, labels); err != nil {
			t.Fatal(err)
		}
		if _, err := eng.EnsureNetwork(ctx, name, true, labels); err != nil {
			t.Fatal(err)
		}
		if _, err := eng.CreateContainer(ctx, engine.ContainerSpec{Name: name, Image: image, Labels: labels, Network: name}); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(w.stateDir, app), 0o700); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(w.stateDir, app, "keep"), []byte("x"), 0o600)
	}
	shopObjects := func() int {
		f := map[string]string{engine.LabelApp: "shop"}
		cs, _ := eng.ListContainers(ctx, f, true)
		vs, _ := eng.ListVolumes(ctx, f)
		ns, _ := eng.ListNetworks(ctx, f)
		return len(cs) + len(vs) + len(ns)
	}
	if shopObjects() < 3 {
		t.Fatalf("refresh left %d Docker objects of shop, want a container, a volume and a network", shopObjects())
	}

	// Off a terminal, --yes is required; nothing is removed without it.
	code, _, errOut := lb(t, "--config", w.cfgPath, "destroy", "--app", "shop")
	if code != exitUsage || !strings.Contains(errOut, "--yes") || shopObjects() == 0 {
		t.Fatalf("destroy without --yes: exit %d, %s", code, errOut)
	}
	// --app is required.
	if code, _, errOut := lb(t, "--config", w.cfgPath, "destroy", "--yes"); code != exitUsage || !strings.Contains(errOut, "--app") {
		t.Fatalf("destroy without --app: exit %d, %s", code, errOut)
	}

	code, out, errOut := lb(t, "--config", w.cfgPath, "destroy", "--app", "shop", "--yes", "--json")
	var res struct {
		Containers []string `json:"containers"`
		Volumes    []string `json:"volumes"`
		Networks   []string `json:"networks"`
		StateDir   string   `json:"state_dir"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
		t.Fatalf("destroy: exit %d, %v\n%s\n%s", code, err, out, errOut)
	}
	if len(res.Containers) == 0 || len(res.Volumes) == 0 || len(res.Networks) == 0 || res.StateDir != filepath.Join(w.stateDir, "shop") {
		t.Errorf("destroy result: %s", out)
	}
	if n := shopObjects(); n != 0 {
		t.Errorf("%d Docker objects of shop left", n)
	}
	if _, err := os.Stat(filepath.Join(w.stateDir, "shop")); !os.IsNotExist(err) {
		t.Errorf("shop's state dir is still there: %v", err)
	}
	for app, name := range others {
		if _, err := eng.InspectContainer(ctx, name); err != nil {
			t.Errorf("%s's container: %v", app, err)
		}
		if _, err := eng.InspectVolume(ctx, name); err != nil {
			t.Errorf("%s's volume: %v", app, err)
		}
		if _, err := eng.InspectNetwork(ctx, name); err != nil {
			t.Errorf("%s's network: %v", app, err)
		}
		if _, err := os.Stat(filepath.Join(w.stateDir, app, "keep")); err != nil {
			t.Errorf("%s's state: %v", app, err)
		}
	}

	// Again: nothing to remove, and that is fine.
	code, out, _ = lb(t, "--config", w.cfgPath, "destroy", "--app", "shop", "--yes")
	if code != 0 || !strings.Contains(out, "nothing to remove") {
		t.Errorf("second destroy: exit %d\n%s", code, out)
	}
}
