package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/web"
)

func newServeCmd(g *globals) *cobra.Command {
	var listen string
	c := &cobra.Command{
		Use:   "serve",
		Short: "HTTP status page, /metrics, and signed hooks that trigger refresh or drill",
		Long: `Serve, on serve.listen (default 127.0.0.1:8077):
  GET  /                        status of every app: standby generation and state, data age,
                                last refresh, last drill with a link to its report
  GET  /status.json             the same as JSON
  GET  /metrics                 Prometheus metrics of every app
  GET  /apps/{app}/reports/{id} a drill report (id: latest or a drill id)
  POST /hooks/{app}/refresh     trigger a refresh (or /drill), e.g. from an S3 event
                                notification or a deploy hook; the body must be signed:
                                X-Lifeboat-Signature: sha256=<hex HMAC-SHA256 of the body>
                                with the key in serve.hook_secret_file
Triggers are single-flight per app and job: a trigger during a run is coalesced into at
most one follow-up run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			if listen != "" {
				cfg.Serve.Listen = listen
			}
			log := g.logger(cfg)
			eng, err := engine.New(cmd.Context())
			if err != nil {
				log.Warn("no Docker engine: the status page cannot say whether containers run", "err", err)
				eng = nil
			} else {
				defer eng.Close()
			}
			var secret []byte
			if f := cfg.Serve.HookSecretFile; f != "" {
				b, err := os.ReadFile(f)
				if err != nil {
					return fmt.Errorf("serve.hook_secret_file: %w", err)
				}
				secret = []byte(strings.TrimSpace(string(b)))
			}
			ops := g.operations(cfg)
			run := func(ctx context.Context, appName, job string) error {
				app, err := cfg.App(appName)
				if err != nil {
					return err
				}
				l, err := failover.Lock(app, "lifeboat serve: "+job+" (hook)")
				if err != nil {
					return err
				}
				defer l.Release()
				if eng == nil {
					return engine.ErrUnreachable
				}
				s := failover.NewStandby(app, eng, log, nil)
				switch job {
				case "refresh":
					_, err = ops.Refresh(ctx, s, failover.RefreshOptions{})
				case "drill":
					_, err = ops.Drill(ctx, s, failover.DrillOptions{Trigger: "webhook", TriggeredBy: "lifeboat serve hook", ToolVersion: version()})
				}
				return err
			}
			srv := &web.Server{Config: cfg, Engine: eng, Run: run, HookSecret: secret, Log: log}
			ln, err := net.Listen("tcp", cfg.Serve.Listen)
			if err != nil {
				return fmt.Errorf("serve.listen %s: %w (is another lifeboat serve running? pick another address with serve.listen or --listen)", cfg.Serve.Listen, err)
			}
			hs := &http.Server{Handler: srv.Handler(cmd.Context()), ReadHeaderTimeout: 10 * time.Second}
			go func() {
				<-cmd.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				hs.Shutdown(ctx)
			}()
			fmt.Fprintf(g.stderr, "lifeboat serve: listening on http://%s (hooks %s)\n", ln.Addr(), map[bool]string{true: "enabled", false: "disabled: set serve.hook_secret_file"}[len(secret) > 0])
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	c.Flags().StringVar(&listen, "listen", "", "address to listen on (default: serve.listen)")
	return c
}
