package engine

import (
	"slices"
	"testing"
)

func TestHasLabels(t *testing.T) {
	have := map[string]string{LabelApp: "shop", "io.lifeboat.purpose": "drill"}
	for _, c := range []struct {
		want map[string]string
		ok   bool
	}{
		{map[string]string{LabelApp: "shop"}, true},
		{map[string]string{LabelApp: "shop", "io.lifeboat.purpose": ""}, true},
		{map[string]string{LabelApp: "shop2"}, false},
		{map[string]string{LabelApp: "shop", "io.lifeboat.generation": ""}, false},
		{map[string]string{}, true},
	} {
		if got := hasLabels(have, c.want); got != c.ok {
			t.Errorf("hasLabels(%v) = %v, want %v", c.want, got, c.ok)
		}
	}
}

func TestRemovedAllKeepsTheOrder(t *testing.T) {
	r := Removed{Containers: []string{"c"}, Volumes: []string{"v1", "v2"}, Networks: []string{"n"}}
	if got := r.All(); !slices.Equal(got, []string{"c", "v1", "v2", "n"}) {
		t.Errorf("All = %v", got)
	}
	if got := (Removed{}).All(); got == nil || len(got) != 0 {
		t.Errorf("All of nothing = %#v, want an empty list", got)
	}
}
