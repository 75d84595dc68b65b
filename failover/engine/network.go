package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

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

// networkCreateMu serialises EnsureNetwork within this process: at API
// 1.41 the daemon creates a second network of the same name when asked, and
// its own duplicate check does not hold against concurrent requests.
var networkCreateMu sync.Mutex

// EnsureNetwork returns the ID of the bridge network name, creating it with
// labels when it does not exist. An existing network is reused as it is (its
// labels are not changed) when its internal flag is as asked; otherwise the
// error wraps ErrConflict.
//
// Internal networks give containers no route to other machines (drills must
// not send real e-mail), yet the host reaches the containers by their IPs,
// and the containers reach every host address on which a host process
// listens on all interfaces (0.0.0.0): bind host services to 127.0.0.1 or
// firewall the bridge if drills must not reach them.
//
// Duplicates: calls in one process are serialised; across processes
// Lifeboat's per-app lock keeps two runs from creating the same network.
// Should a duplicate still appear, the oldest network of the name is kept
// and the one just created is removed.
func (e *Engine) EnsureNetwork(ctx context.Context, name string, internal bool, labels map[string]string) (string, error) {
	networkCreateMu.Lock()
	defer networkCreateMu.Unlock()

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
		return "", e.classify(err, fmt.Sprintf("create network %q", name))
	}
	keep, err := e.oldestNetwork(ctx, name)
	if err != nil {
		return "", err
	}
	if keep.ID != res.ID {
		// Another process created it meanwhile: keep theirs, drop ours.
		if _, err := e.cli.NetworkRemove(ctx, res.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return "", e.classify(err, fmt.Sprintf("remove duplicate network %q", name))
		}
	}
	return keep.ID, checkInternal(keep, internal)
}

// oldestNetwork returns the first created of the networks named exactly name.
func (e *Engine) oldestNetwork(ctx context.Context, name string) (Network, error) {
	found, err := e.networksNamed(ctx, name)
	if err != nil {
		return Network{}, err
	}
	if len(found) == 0 {
		return Network{}, fmt.Errorf("network %q: %w (removed while being created?)", name, ErrNotFound)
	}
	sort.Slice(found, func(i, j int) bool {
		if !found[i].Created.Equal(found[j].Created) {
			return found[i].Created.Before(found[j].Created)
		}
		return found[i].ID < found[j].ID
	})
	return fromNetwork(found[0]), nil
}

// networksNamed lists the networks named exactly name. The daemon's name
// filter matches substrings, hence the exact comparison.
func (e *Engine) networksNamed(ctx context.Context, name string) ([]network.Network, error) {
	res, err := e.cli.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("name", name)})
	if err != nil {
		return nil, e.classify(err, fmt.Sprintf("list networks named %q", name))
	}
	var found []network.Network
	for _, s := range res.Items {
		if s.Name == name {
			found = append(found, s.Network)
		}
	}
	return found, nil
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
// the name (only old daemons allow that): RemoveNetwork removes them all.
func (e *Engine) InspectNetwork(ctx context.Context, nameOrID string) (Network, error) {
	what := fmt.Sprintf("inspect network %q", nameOrID)
	found, err := e.networksNamed(ctx, nameOrID)
	if err != nil {
		return Network{}, err
	}
	switch len(found) {
	case 1:
		return fromNetwork(found[0]), nil
	case 0:
		// Not a name: maybe an ID (inspecting by name would also match ID prefixes).
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

// RemoveNetwork removes the network name (every network of that exact
// name, should there be duplicates), or the network with that ID. Not found
// is fine. ErrInUse while containers are still attached.
func (e *Engine) RemoveNetwork(ctx context.Context, nameOrID string) error {
	what := fmt.Sprintf("remove network %q", nameOrID)
	found, err := e.networksNamed(ctx, nameOrID)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(found))
	for _, n := range found {
		ids = append(ids, n.ID)
	}
	if len(ids) == 0 {
		n, err := e.InspectNetwork(ctx, nameOrID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		ids = append(ids, n.ID)
	}
	for _, id := range ids {
		_, err := e.cli.NetworkRemove(ctx, id, client.NetworkRemoveOptions{})
		switch {
		case err == nil, cerrdefs.IsNotFound(err):
		case strings.Contains(err.Error(), "active endpoints"):
			return fmt.Errorf("%s: %w: containers are still attached (%s)", what, ErrInUse, daemonMessage(err))
		default:
			return e.classify(err, what)
		}
	}
	return nil
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
