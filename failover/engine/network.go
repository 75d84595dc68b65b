package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Network is a Docker network.
type Network struct {
	ID       string
	Name     string
	Internal bool // no route out: containers on it reach only each other (and the host, see EnsureNetwork)
	Labels   map[string]string
	Subnet   string // first IPv4 subnet, e.g. "172.18.0.0/16"
	Gateway  string // the host's address on it, e.g. "172.18.0.1"
}

// EnsureNetwork returns the ID of the bridge network name, creating it with
// labels when it does not exist. An existing network is reused as it is (its
// labels are not changed) when its internal flag is as asked; otherwise the
// error wraps ErrConflict. Internal networks give containers no route out
// (drills must not send real e-mail), yet the host reaches the containers
// by their IPs and the containers reach the host's address on the network.
//
// The daemon at API 1.41 happily creates a second network of the same name;
// EnsureNetwork looks first and, when it loses a race to a concurrent
// creator, removes its own copy and returns the other.
func (e *Engine) EnsureNetwork(ctx context.Context, name string, internal bool, labels map[string]string) (string, error) {
	what := fmt.Sprintf("network %q", name)
	existing, err := e.InspectNetwork(ctx, name)
	switch {
	case err == nil:
		return existing.ID, checkInternal(existing, internal)
	case !errors.Is(err, ErrNotFound):
		return "", err
	}
	res, err := e.cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{
		Driver:   "bridge",
		Internal: internal,
		Labels:   labels,
	})
	if err != nil {
		if cerrdefs.IsConflict(err) { // newer daemons refuse duplicates: someone was faster
			existing, ierr := e.InspectNetwork(ctx, name)
			if ierr != nil {
				return "", ierr
			}
			return existing.ID, checkInternal(existing, internal)
		}
		return "", e.classify(err, "create "+what)
	}
	for _, w := range res.Warning {
		if strings.Contains(w, "already exists") {
			// Created a duplicate: keep the other one.
			if _, err := e.cli.NetworkRemove(ctx, res.ID, client.NetworkRemoveOptions{}); err != nil {
				return "", e.classify(err, "remove duplicate "+what)
			}
			existing, err := e.InspectNetwork(ctx, name)
			if err != nil {
				return "", err
			}
			return existing.ID, checkInternal(existing, internal)
		}
	}
	return res.ID, nil
}

func checkInternal(n Network, internal bool) error {
	if n.Internal == internal {
		return nil
	}
	return fmt.Errorf("network %q: %w: it exists and is %s, but %s was asked for: remove it (docker network rm %s) or use another name",
		n.Name, ErrConflict, describeInternal(n.Internal), describeInternal(internal), n.Name)
}

func describeInternal(internal bool) string {
	if internal {
		return "internal (no egress)"
	}
	return "not internal (with egress)"
}

// InspectNetwork describes the network with exactly this name (or this ID).
// ErrNotFound when there is none; ErrConflict when several networks share
// the name (only old daemons allow that): remove the extras.
func (e *Engine) InspectNetwork(ctx context.Context, nameOrID string) (Network, error) {
	what := fmt.Sprintf("inspect network %q", nameOrID)
	// List by name, then match exactly: the name filter matches substrings,
	// and inspecting by name also matches ID prefixes.
	res, err := e.cli.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("name", nameOrID)})
	if err != nil {
		return Network{}, e.classify(err, what)
	}
	var found []Network
	for _, s := range res.Items {
		if s.Name == nameOrID {
			found = append(found, fromNetwork(s.Network))
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		r, err := e.cli.NetworkInspect(ctx, nameOrID, client.NetworkInspectOptions{})
		if err == nil && strings.HasPrefix(r.Network.ID, nameOrID) {
			return fromNetwork(r.Network.Network), nil
		}
		if err == nil || cerrdefs.IsNotFound(err) {
			return Network{}, fmt.Errorf("%s: %w", what, ErrNotFound)
		}
		return Network{}, e.classify(err, what)
	default:
		ids := make([]string, len(found))
		for i, n := range found {
			ids[i] = shortID(n.ID)
		}
		return Network{}, fmt.Errorf("%s: %w: %d networks have this name (%s): remove the extra ones with docker network rm <id>",
			what, ErrConflict, len(found), strings.Join(ids, ", "))
	}
}

func fromNetwork(n network.Network) Network {
	out := Network{ID: n.ID, Name: n.Name, Internal: n.Internal, Labels: n.Labels}
	for _, c := range n.IPAM.Config {
		if c.Subnet.IsValid() && c.Subnet.Addr().Is4() {
			out.Subnet = c.Subnet.String()
			if c.Gateway.IsValid() {
				out.Gateway = c.Gateway.String()
			}
			break
		}
	}
	return out
}

// ListNetworks returns the networks carrying every label in labels, by name.
func (e *Engine) ListNetworks(ctx context.Context, labels map[string]string) ([]Network, error) {
	res, err := e.cli.NetworkList(ctx, client.NetworkListOptions{Filters: labelFilters(labels)})
	if err != nil {
		return nil, e.classify(err, "list networks")
	}
	out := make([]Network, 0, len(res.Items))
	for _, s := range res.Items {
		out = append(out, fromNetwork(s.Network))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// RemoveNetwork removes the network name (or ID). Not found is fine.
// ErrInUse while containers are still attached.
func (e *Engine) RemoveNetwork(ctx context.Context, nameOrID string) error {
	what := fmt.Sprintf("remove network %q", nameOrID)
	n, err := e.InspectNetwork(ctx, nameOrID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = e.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
	switch {
	case err == nil, cerrdefs.IsNotFound(err):
		return nil
	case strings.Contains(err.Error(), "active endpoints"):
		return fmt.Errorf("%s: %w: containers are still attached (%s)", what, ErrInUse, daemonMessage(err))
	}
	return e.classify(err, what)
}

// ConnectNetwork attaches a container to a network, with aliases as extra
// DNS names on it. A container already attached is fine (its aliases are
// then left as they are). ErrNotFound when either does not exist.
func (e *Engine) ConnectNetwork(ctx context.Context, networkName, containerID string, aliases []string) error {
	_, err := e.cli.NetworkConnect(ctx, networkName, client.NetworkConnectOptions{
		Container:      containerID,
		EndpointConfig: &network.EndpointSettings{Aliases: aliases},
	})
	if err != nil && strings.Contains(err.Error(), "already exists in network") {
		return nil
	}
	return e.classify(err, fmt.Sprintf("connect container %s to network %q", shortID(containerID), networkName))
}

// DisconnectNetwork detaches a container from a network (force: also when
// the container is not running). Not attached is fine.
func (e *Engine) DisconnectNetwork(ctx context.Context, networkName, containerID string) error {
	_, err := e.cli.NetworkDisconnect(ctx, networkName, client.NetworkDisconnectOptions{Container: containerID, Force: true})
	if err != nil && strings.Contains(err.Error(), "is not connected to") {
		return nil
	}
	return e.classify(err, fmt.Sprintf("disconnect container %s from network %q", shortID(containerID), networkName))
}
