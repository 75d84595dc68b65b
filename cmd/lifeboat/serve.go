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
  POST /hooks/{app}/refresh     trigger a refresh (or /drill, or /capture), e.g. from an S3 event
                                notification or a deploy hook, signed with the key in
                                serve.hook_secret_file:
  X-Lifeboat-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<METHOD>.<path>.<body>">
A signature is good for its app and job only, within 5 minutes of its time, and once.
GitHub's X-Hub-Signature-256 is accepted only with serve.github_signatures: true (each
X-GitHub-Delivery once). Signing with curl and openssl:

  t=$(date +%s); body='{}'; path=/hooks/your-app/refresh
  sig=$(printf '%s.POST.%s.%s' "$t" "$path" "$body" | openssl dgst -sha256 -hmac "$(cat /etc/lifeboat/hook-secret)" -r | cut -d' ' -f1)
  curl -X POST -H "X-Lifeboat-Signature: t=$t,v1=$sig" --data "$body" http://127.0.0.1:8077$path

Triggers are single-flight per app and job: a trigger during a run is coalesced into at
most one follow-up run. A capture trigger during a capture, or within capture.min_interval
of the last successful one, is answered "skipped" with the time of that capture.`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{noJSON: "it runs until stopped (its status is at /status.json)"},
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
				if err := web.CheckSecret(secret); err != nil {
					return usagef("serve.hook_secret_file %s: %v", f, err)
				}
			}
			ops := g.operations(cfg)
			run := func(ctx context.Context, appName, job string) error {
				app, err := cfg.App(appName)
				if err != nil {
					return err
				}
				return ops.RunJob(ctx, app, eng, job, version())
			}
			srv := &web.Server{Config: cfg, Engine: eng, Run: run, HookSecret: secret, GitHubSignatures: cfg.Serve.GitHubSignatures, Log: log}
			ln, err := net.Listen("tcp", cfg.Serve.Listen)
			if err != nil {
				return fmt.Errorf("serve.listen %s: %w (is another lifeboat serve running? pick another address with serve.listen or --listen)", cfg.Serve.Listen, err)
			}
			hs := srv.HTTPServer(cmd.Context())
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
