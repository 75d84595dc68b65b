package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// world is the label value (engine.LabelApp) of the Docker objects that play
// the outside world: not the demo app's, so that lifeboat never counts them
// as its own.
const world = app + "-world"

// startWorld plays "the Internet" for the drill's egress probe on a machine
// that has none: the example app's web server on a Docker network the demo
// creates, published on that network's gateway address. It returns that
// address, and whether a container on another, ordinary (not internal)
// Docker network reached it: the control that makes the drill's "no egress"
// check mean something. A drill network with egress would reach the address
// as the control does; the drill's internal network must not.
//
// (A container on another Docker network is no stand-in: Docker's isolation
// rules drop traffic between bridge networks whether or not they are
// internal. A host process on 0.0.0.0 is none either: internal networks
// reach the host. A port published on one gateway address is reached from
// an ordinary network through the host, and not from an internal one.)
func startWorld(t *testenv.Standalone, eng *engine.Engine, image string) (addr, control string) {
	ctx := t.Context()
	labels := map[string]string{engine.LabelApp: world}
	netName := "lifeboat-" + world
	if _, err := eng.EnsureNetwork(ctx, netName, false, labels); err != nil {
		t.Fatal(err)
	}
	n, err := eng.InspectNetwork(ctx, netName)
	if err != nil {
		t.Fatal(err)
	}
	if n.Gateway == "" {
		t.Fatalf("network %s has no gateway address", netName)
	}
	addr = net.JoinHostPort(n.Gateway, strconv.Itoa(testenv.FreePort(t)))
	_, port, _ := net.SplitHostPort(addr)
	hostPort, _ := strconv.Atoi(port)
	web := func(name, network string, publish []engine.Port) string {
		id, err := eng.CreateContainer(ctx, engine.ContainerSpec{Name: name, Image: image, Cmd: []string{"web"},
			// The example app's web needs a DATABASE_URL, and connects only
			// when asked a page that reads the database.
			Env:    []string{"PORT=5000", "DATABASE_URL=postgres://nobody@nowhere.invalid/none"},
			Labels: labels, Network: network, Publish: publish, StopTimeout: time.Second})
		if err == nil {
			err = eng.StartContainer(ctx, id)
		}
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	web("lifeboat-"+world+"-server", netName, []engine.Port{{HostIP: n.Gateway, HostPort: hostPort, ContainerPort: 5000}})

	// The control: from a container on a network of its own, with egress.
	ctlNet := "lifeboat-" + world + "-control"
	if _, err := eng.EnsureNetwork(ctx, ctlNet, false, labels); err != nil {
		t.Fatal(err)
	}
	ctl := web("lifeboat-"+world+"-control", ctlNet, nil)
	c, err := eng.InspectContainer(ctx, ctl)
	if err != nil {
		t.Fatal(err)
	}
	control = egressFrom(ctx, c.IPs[ctlNet], addr)
	eng.RemoveContainer(ctx, ctl, true)
	eng.RemoveNetwork(ctx, ctlNet)
	return addr, control
}

// egressFrom asks the example app's web at ip:5000 to connect to addr, and
// returns its answer ("connected to …" or "blocked: …"), waiting up to 30s
// for the app to listen.
func egressFrom(ctx context.Context, ip, addr string) string {
	u := "http://" + net.JoinHostPort(ip, "5000") + "/egress?addr=" + url.QueryEscape(addr)
	hc := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get(u)
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Sprintf("no answer from the control container: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
