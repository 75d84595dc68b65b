package engine

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// tcpProbe is a command that exits 0 when it can open a TCP connection to
// host:port within 3 seconds, non-zero otherwise (bash's /dev/tcp).
func tcpProbe(host string, port int) []string {
	return []string{"bash", "-c", fmt.Sprintf("timeout 3 bash -c 'echo > /dev/tcp/%s/%d'", host, port)}
}

// A container on an internal network cannot reach a service outside it,
// while a container on an ordinary (non-internal) network can (the
// control). The service is a Postgres container on a network this test
// creates: tests only ever talk to 127.0.0.1 or their own Docker networks.
func TestInternalNetworkHasNoEgress(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := testCtx(t, 3*time.Minute)
	labels := testLabels(t)
	internal, outside := uniq(t, "internal"), uniq(t, "outside")
	if _, err := e.EnsureNetwork(ctx, internal, true, labels); err != nil {
		t.Fatal(err)
	}
	cleanupNetwork(t, e, internal)
	if _, err := e.EnsureNetwork(ctx, outside, false, labels); err != nil {
		t.Fatal(err)
	}
	cleanupNetwork(t, e, outside)

	server := ContainerSpec{Name: uniq(t, "server"), Image: postgresImage, Labels: labels, Network: outside,
		Env: []string{"POSTGRES_HOST_AUTH_METHOD=trust"}, StopTimeout: time.Second}
	serverID := createStarted(t, ctx, e, server)
	sc, err := e.InspectContainer(ctx, serverID)
	if err != nil {
		t.Fatal(err)
	}
	target := sc.IPs[outside]
	control := sleeper(uniq(t, "control"), labels)
	control.Network = outside
	controlID := createStarted(t, ctx, e, control)
	inside := sleeper(uniq(t, "inside"), labels)
	inside.Network = internal
	insideID := createStarted(t, ctx, e, inside)

	// The control reaches the service once it listens.
	deadline := time.Now().Add(90 * time.Second)
	for {
		res, err := e.ExecCapture(ctx, controlID, tcpProbe(target, 5432), ExecOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("control: %s:5432 never answered from the ordinary network", target)
		}
		time.Sleep(500 * time.Millisecond)
	}
	res, err := e.ExecCapture(ctx, insideID, tcpProbe(target, 5432), ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode == 0 {
		t.Errorf("a container on the internal network reached %s:5432 on another network", target)
	}
}

// What an internal network does NOT isolate: the host itself. Traffic to the
// host's own addresses is not forwarded, so Docker's isolation rules (in
// FORWARD) do not see it: a container on an internal network reaches every
// host process listening on all interfaces, through the network's gateway
// and the host's other addresses. Host processes bound to 127.0.0.1 stay out
// of reach. This test pins that behaviour down; Lifeboat's drills must not
// count on an internal network to keep the app away from, say, a local MTA
// listening on 0.0.0.0:25.
func TestInternalNetworkStillReachesHost(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := testCtx(t, 2*time.Minute)
	labels := testLabels(t)
	netName := uniq(t, "net")
	if _, err := e.EnsureNetwork(ctx, netName, true, labels); err != nil {
		t.Fatal(err)
	}
	cleanupNetwork(t, e, netName)
	n, err := e.InspectNetwork(ctx, netName)
	if err != nil || n.Gateway == "" {
		t.Fatalf("network %+v, %v", n, err)
	}

	all, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	loopback, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer loopback.Close()
	for _, l := range []net.Listener{all, loopback} {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	allPort := all.Addr().(*net.TCPAddr).Port
	loopbackPort := loopback.Addr().(*net.TCPAddr).Port

	inside := sleeper(uniq(t, "inside"), labels)
	inside.Network = netName
	id := createStarted(t, ctx, e, inside)

	probe := func(host string, port int) int {
		res, err := e.ExecCapture(ctx, id, tcpProbe(host, port), ExecOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return res.ExitCode
	}
	if code := probe(n.Gateway, allPort); code != 0 {
		t.Errorf("a host listener on 0.0.0.0 is not reachable at the gateway %s (exit %d): Docker now isolates the host too; update the docs of EnsureNetwork", n.Gateway, code)
	}
	if code := probe(n.Gateway, loopbackPort); code == 0 {
		t.Errorf("a host listener on 127.0.0.1 is reachable from an internal network")
	}
}

// EnsureNetwork's answer for a network that another tool created twice
// (API 1.41 allows it): InspectNetwork says ErrConflict, RemoveNetwork
// removes both.
func TestDuplicateNetworkNames(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := testCtx(t, time.Minute)
	labels := testLabels(t)
	name := uniq(t, "net")
	cleanupNetwork(t, e, name)
	for range 2 {
		if _, err := e.cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge", Labels: labels}); err != nil {
			t.Skipf("this daemon refuses duplicate network names: %v", err)
		}
	}
	if _, err := e.InspectNetwork(ctx, name); err == nil {
		t.Errorf("InspectNetwork of a duplicated name succeeded")
	}
	if err := e.RemoveNetwork(ctx, name); err != nil {
		t.Fatal(err)
	}
	if list, _ := e.ListNetworks(ctx, labels); len(list) != 0 {
		t.Errorf("left: %+v", list)
	}
}
