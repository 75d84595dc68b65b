package engine

import "context"

// Removed names what RemoveLabelled removed, each list by name, and
// says why the others could not be removed.
type Removed struct {
	Containers []string
	Volumes    []string
	Networks   []string
	// Failed are the removals that failed (the objects are still there).
	Failed []error
}

// All is every name removed: containers, then volumes, then networks.
func (r Removed) All() []string {
	out := append(append(append([]string{}, r.Containers...), r.Volumes...), r.Networks...)
	return out
}

// RemoveLabelled removes every container (with its anonymous volumes), then
// every volume, then every network carrying all of labels (a label with an
// empty value: any value). What the daemon lists is checked against labels
// again, so that a daemon whose filter is loose never costs another app its
// objects. It goes on past a removal that fails (Removed.Failed); the error
// is a listing that failed, which stops it with what was removed so far.
func (e *Engine) RemoveLabelled(ctx context.Context, labels map[string]string) (Removed, error) {
	res := Removed{Containers: []string{}, Volumes: []string{}, Networks: []string{}}
	cs, err := e.ListContainers(ctx, labels, true)
	if err != nil {
		return res, err
	}
	for _, c := range cs {
		if !hasLabels(c.Labels, labels) {
			continue
		}
		if err := e.RemoveContainer(ctx, c.ID, true); err != nil {
			res.Failed = append(res.Failed, err)
			continue
		}
		res.Containers = append(res.Containers, c.Name)
	}
	vs, err := e.ListVolumes(ctx, labels)
	if err != nil {
		return res, err
	}
	for _, v := range vs {
		if !hasLabels(v.Labels, labels) {
			continue
		}
		if err := e.RemoveVolume(ctx, v.Name); err != nil {
			res.Failed = append(res.Failed, err)
			continue
		}
		res.Volumes = append(res.Volumes, v.Name)
	}
	ns, err := e.ListNetworks(ctx, labels)
	if err != nil {
		return res, err
	}
	for _, n := range ns {
		if !hasLabels(n.Labels, labels) {
			continue
		}
		if err := e.RemoveNetwork(ctx, n.Name); err != nil {
			res.Failed = append(res.Failed, err)
			continue
		}
		res.Networks = append(res.Networks, n.Name)
	}
	return res, nil
}

// hasLabels reports whether have carries every label of want (an empty
// value: the key with any value).
func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		got, ok := have[k]
		if !ok || (v != "" && got != v) {
			return false
		}
	}
	return true
}
