// Command exampleapp is a small Heroku-style app used by Lifeboat's tests
// and demo: it reads DATABASE_URL, PORT and DYNO like a Heroku app, and has
// the process types of its Procfile:
//
//	web      HTTP on $PORT: /health queries the database; / reports what it
//	         sees (row counts of app.accounts and billing.invoices, DYNO);
//	         /egress?addr=host:port tries an outbound connection (drills
//	         check that it fails)
//	worker   checks the database every few seconds and logs it
//	release  the release phase: records itself in lifeboat_example.releases;
//	         fails when RELEASE_FAIL is set
//
// It is built into an image FROM scratch (see internal/imagebuild).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix(fmt.Sprintf("[%s] ", os.Getenv("DYNO")))
	if len(os.Args) < 2 {
		log.Fatal("usage: exampleapp web|worker|release")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		log.Fatal("DATABASE_URL is not set")
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		log.Fatalf("database: %v", err)
	}
	defer pool.Close()
	switch os.Args[1] {
	case "web":
		web(ctx, pool)
	case "worker":
		worker(ctx, pool)
	case "release":
		release(ctx, pool)
	default:
		log.Fatalf("unknown process type %q", os.Args[1])
	}
}

func web(ctx context.Context, pool *pgxpool.Pool) {
	port := os.Getenv("PORT")
	if port == "" {
		log.Fatal("PORT is not set")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		cctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		var one int
		if err := pool.QueryRow(cctx, "select 1").Scan(&one); err != nil {
			http.Error(w, "database: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		out := map[string]any{"dyno": os.Getenv("DYNO"), "mode": os.Getenv("LIFEBOAT_MODE")}
		for _, q := range []struct{ key, sql string }{
			{"accounts", "select count(*) from app.accounts"},
			{"invoices", "select count(*) from billing.invoices"},
			{"releases", "select count(*) from lifeboat_example.releases"},
		} {
			var n int64
			if err := pool.QueryRow(r.Context(), q.sql).Scan(&n); err != nil {
				out[q.key+"_error"] = err.Error()
				continue
			}
			out[q.key] = n
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("/egress", func(w http.ResponseWriter, r *http.Request) {
		addr := r.URL.Query().Get("addr")
		conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			fmt.Fprintf(w, "blocked: %v\n", err)
			return
		}
		conn.Close()
		fmt.Fprintf(w, "connected to %s\n", addr)
	})
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Printf("web listening on :%s", port)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

func worker(ctx context.Context, pool *pgxpool.Pool) {
	log.Print("worker up")
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		var n int64
		if err := pool.QueryRow(ctx, "select count(*) from app.accounts").Scan(&n); err != nil && ctx.Err() == nil {
			log.Printf("worker: database: %v", err)
		} else if ctx.Err() == nil {
			log.Printf("worker: %d accounts", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func release(ctx context.Context, pool *pgxpool.Pool) {
	if v := os.Getenv("RELEASE_FAIL"); v != "" {
		// As a crashing app often does, it prints its settings, secrets
		// and all: Lifeboat must not pass them on.
		log.Fatalf("release: failing because RELEASE_FAIL=%s is set (DATABASE_URL=%s)", v, os.Getenv("DATABASE_URL"))
	}
	_, err := pool.Exec(ctx, `
CREATE SCHEMA IF NOT EXISTS lifeboat_example;
CREATE TABLE IF NOT EXISTS lifeboat_example.releases (at timestamptz NOT NULL DEFAULT now(), dyno text);
INSERT INTO lifeboat_example.releases (dyno) VALUES ('`+os.Getenv("DYNO")+`')`)
	if err != nil {
		log.Fatalf("release: %v", err)
	}
	log.Print("release: done")
}
