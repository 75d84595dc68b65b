package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Standalone lets programs outside `go test` (the demo, the benchmarks) use
// this package's helpers, which take a testing.TB. It implements the methods
// those helpers call; the embedded TB is nil and never reached. Fatal
// panics with ErrFatal: recover it at the top of the program, then call
// Close to run the cleanups.
type Standalone struct {
	testing.TB
	dir      string
	cleanups []func()
	ctx      context.Context
	cancel   context.CancelFunc
}

// ErrFatal is the value Standalone.Fatal panics with.
type ErrFatal struct{ Msg string }

func (e ErrFatal) Error() string { return e.Msg }

// NewStandalone returns a Standalone whose temp dirs live under dir.
func NewStandalone(dir string) (*Standalone, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Standalone{dir: abs, ctx: ctx, cancel: cancel}, nil
}

// Dir is the absolute directory given to NewStandalone.
func (s *Standalone) Dir() string { return s.dir }

func (s *Standalone) Helper()                  {}
func (s *Standalone) Name() string             { return filepath.Base(s.dir) }
func (s *Standalone) Context() context.Context { return s.ctx }
func (s *Standalone) Cleanup(f func())         { s.cleanups = append(s.cleanups, f) }
func (s *Standalone) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "  "+format+"\n", args...)
}
func (s *Standalone) Log(args ...any) { fmt.Fprintln(os.Stderr, args...) }
func (s *Standalone) Error(args ...any) {
	fmt.Fprintln(os.Stderr, append([]any{"error:"}, args...)...)
}
func (s *Standalone) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "error: "+format+"\n", args...)
}
func (s *Standalone) Fatal(args ...any) {
	panic(ErrFatal{Msg: fmt.Sprint(args...)})
}
func (s *Standalone) Fatalf(format string, args ...any) {
	panic(ErrFatal{Msg: fmt.Sprintf(format, args...)})
}

// TempDir returns a new directory under Dir, removed by Close. It is
// world-readable so that a local Postgres run as another user can use it.
func (s *Standalone) TempDir() string {
	p, err := os.MkdirTemp(s.dir, "tmp-")
	if err != nil {
		s.Fatal(err)
	}
	os.Chmod(p, 0o755)
	s.Cleanup(func() { os.RemoveAll(p) })
	return p
}

// Close runs the cleanups, last registered first.
func (s *Standalone) Close() {
	s.cancel()
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
	s.cleanups = nil
}
