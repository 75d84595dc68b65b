package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
)

// Volume is a named Docker volume (local driver).
type Volume struct {
	Name       string
	Labels     map[string]string
	CreatedAt  time.Time
	Mountpoint string // its directory on the host
}

// CreateVolume creates the local volume name with labels. It is not
// idempotent on purpose: a volume of that name that already exists (say a
// leftover database generation) gives ErrConflict, and the caller decides
// whether to reuse it (InspectVolume) or remove it, rather than silently
// restoring into old data. (The daemon itself would return the existing
// volume unchanged.)
func (e *Engine) CreateVolume(ctx context.Context, name string, labels map[string]string) error {
	what := fmt.Sprintf("create volume %q", name)
	if name == "" {
		return fmt.Errorf("create volume: no name given")
	}
	if _, err := e.InspectVolume(ctx, name); err == nil {
		return fmt.Errorf("%s: %w: the volume exists: remove it first (or reuse it)", what, ErrConflict)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	_, err := e.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name, Driver: "local", Labels: labels})
	return e.classify(err, what)
}

// InspectVolume describes the volume name. ErrNotFound when there is none.
func (e *Engine) InspectVolume(ctx context.Context, name string) (Volume, error) {
	res, err := e.cli.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if err != nil {
		return Volume{}, e.classify(err, fmt.Sprintf("inspect volume %q", name))
	}
	return fromVolume(res.Volume), nil
}

// RemoveVolume removes the volume name. Not found is fine. ErrInUse while a
// container (running or not) uses it: remove the container first.
func (e *Engine) RemoveVolume(ctx context.Context, name string) error {
	what := fmt.Sprintf("remove volume %q", name)
	_, err := e.cli.VolumeRemove(ctx, name, client.VolumeRemoveOptions{Force: true})
	switch {
	case err == nil, cerrdefs.IsNotFound(err):
		return nil
	case cerrdefs.IsConflict(err) || strings.Contains(err.Error(), "in use"):
		return fmt.Errorf("%s: %w: %s", what, ErrInUse, daemonMessage(err))
	}
	return e.classify(err, what)
}

// ListVolumes returns the volumes carrying every label in labels, by name.
func (e *Engine) ListVolumes(ctx context.Context, labels map[string]string) ([]Volume, error) {
	res, err := e.cli.VolumeList(ctx, client.VolumeListOptions{Filters: labelFilters(labels)})
	if err != nil {
		return nil, e.classify(err, "list volumes")
	}
	out := make([]Volume, 0, len(res.Items))
	for _, v := range res.Items {
		out = append(out, fromVolume(v))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func fromVolume(v volume.Volume) Volume {
	out := Volume{Name: v.Name, Labels: v.Labels, Mountpoint: v.Mountpoint}
	if t, err := time.Parse(time.RFC3339Nano, v.CreatedAt); err == nil {
		out.CreatedAt = t
	}
	return out
}
