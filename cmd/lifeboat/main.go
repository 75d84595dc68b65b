// Command lifeboat keeps a verified standby copy of a Heroku app and its
// Postgres database on a VPS outside Heroku and AWS.
//
// Exit codes: 0 done, 1 failed, 2 bad usage or config, 75 another run holds
// this app's lock.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
