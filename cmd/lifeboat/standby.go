package main

import (
	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/lock"
	"github.com/lifeboat-dr/lifeboat/failover/textsafe"
)

// standby loads the config, takes the app's lock when locked is set, and
// connects to the Docker engine. release must be called.
func (g *globals) standby(cmd *cobra.Command, locked bool) (s *failover.Standby, release func(), err error) {
	cfg, app, err := g.loadApp()
	if err != nil {
		return nil, nil, err
	}
	unlock := func() {}
	if locked {
		l, err := failover.Lock(app, lock.CommandLine())
		if err != nil {
			return nil, nil, err
		}
		unlock = func() { l.Release() }
	}
	eng, err := engine.New(cmd.Context())
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return failover.NewStandby(app, eng, g.logger(cfg), textsafe.NewWriter(g.stderr)), func() { eng.Close(); unlock() }, nil
}
