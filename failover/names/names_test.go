package names

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
)

// The names are a contract with the Docker objects already on a VPS: a
// standby made by an earlier version must still be found by its names.
func TestStandbyNames(t *testing.T) {
	s := Standby("shop")
	for got, want := range map[string]string{
		s.Purpose():         "standby",
		s.Prefix():          "lifeboat-shop",
		s.Network():         "lifeboat-shop-standby",
		s.PublicNetwork():   "lifeboat-shop-public",
		s.PublishNetwork():  "lifeboat-shop-db-publish",
		s.Database(3):       "lifeboat-shop-db-3",
		s.DatabaseVolume(3): "lifeboat-shop-db-3",
		s.AppPrefix(3):      "lifeboat-shop-g3",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if s.IsDrill() {
		t.Error("the standby's scope says it is a drill")
	}
}

func TestDrillNames(t *testing.T) {
	start := time.Date(2024, 5, 1, 3, 4, 5, 0, time.FixedZone("PDT", -7*3600))
	d := Drill("shop", start)
	if !d.IsDrill() || d.Purpose() != "drill" {
		t.Fatalf("drill scope: IsDrill %v, purpose %q", d.IsDrill(), d.Purpose())
	}
	// The id is the start in UTC, lower case.
	for got, want := range map[string]string{
		d.Prefix():        "lifeboat-shop-drill-20240501t100405",
		d.Network():       "lifeboat-shop-drill-20240501t100405",
		d.Database(7):     "lifeboat-shop-drill-20240501t100405-db",
		d.AppPrefix(7):    "lifeboat-shop-drill-20240501t100405",
		d.PublicNetwork(): "lifeboat-shop-public",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	// No name of a drill is a name of the standby's.
	s := Standby("shop")
	for _, n := range []string{d.Network(), d.Database(1), d.DatabaseVolume(1), d.AppPrefix(1)} {
		for _, sn := range []string{s.Network(), s.Database(1), s.DatabaseVolume(1), s.AppPrefix(1), s.PublishNetwork()} {
			if n == sn || strings.HasPrefix(sn, n+"-") {
				t.Errorf("drill name %q reaches the standby's %q", n, sn)
			}
		}
	}
}

func TestLabelsAndFilters(t *testing.T) {
	s := Standby("shop")
	d := Drill("shop", time.Date(2024, 5, 1, 3, 4, 5, 0, time.UTC))
	cases := []struct {
		name string
		got  map[string]string
		want map[string]string
	}{
		{"standby database", s.Labels(RoleDatabase, 4), map[string]string{
			engine.LabelApp: "shop", engine.LabelPurpose: "standby", engine.LabelRole: "database", engine.LabelGeneration: "4"}},
		{"standby network", s.Labels(RoleNetwork, 0), map[string]string{
			engine.LabelApp: "shop", engine.LabelPurpose: "standby", engine.LabelRole: "network"}},
		{"standby app containers", s.Labels("", 4), map[string]string{
			engine.LabelApp: "shop", engine.LabelPurpose: "standby", engine.LabelGeneration: "4"}},
		{"drill database", d.Labels(RoleDatabase, 9), map[string]string{
			engine.LabelApp: "shop", engine.LabelPurpose: "drill", engine.LabelRole: "database", engine.LabelGeneration: "drill-20240501t030405"}},
		{"drill network", d.Labels(RoleNetwork, 0), map[string]string{
			engine.LabelApp: "shop", engine.LabelPurpose: "drill", engine.LabelRole: "network", engine.LabelGeneration: "drill-20240501t030405"}},
		{"every standby generation", s.Filter("", 0), map[string]string{engine.LabelApp: "shop", engine.LabelPurpose: "standby"}},
		{"this drill", d.Filter("", 0), map[string]string{engine.LabelApp: "shop", engine.LabelPurpose: "drill", engine.LabelGeneration: "drill-20240501t030405"}},
		{"standby databases", s.PurposeFilter(RoleDatabase), map[string]string{engine.LabelApp: "shop", engine.LabelPurpose: "standby", engine.LabelRole: "database"}},
		{"every drill, from the standby", s.DrillsFilter(), map[string]string{engine.LabelApp: "shop", engine.LabelPurpose: "drill"}},
		{"every drill, from a drill", d.DrillsFilter(), map[string]string{engine.LabelApp: "shop", engine.LabelPurpose: "drill"}},
		{"the app's web containers", d.AppFilter(RoleWeb), map[string]string{engine.LabelApp: "shop", engine.LabelRole: "web"}},
		{"everything of the app", s.AppFilter(""), map[string]string{engine.LabelApp: "shop"}},
	}
	for _, c := range cases {
		if !maps.Equal(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	// A filter is the caller's to change.
	f := s.Filter("", 0)
	f[engine.LabelRole] = "x"
	if _, ok := s.Filter("", 0)[engine.LabelRole]; ok {
		t.Error("filters share a map")
	}
}

func TestGenerationOf(t *testing.T) {
	for label, want := range map[string]int{"4": 4, "drill-20240501t030405": 0, "": 0, "x": 0} {
		if got := GenerationOf(map[string]string{engine.LabelGeneration: label}); got != want {
			t.Errorf("GenerationOf(%q) = %d, want %d", label, got, want)
		}
	}
}
