package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"golang.org/x/term"
)

// ExecOptions are the optional parts of an Exec.
type ExecOptions struct {
	User       string   // e.g. "postgres"; "" is the container's user
	Env        []string // KEY=value added to the container's; may hold secrets: never logged
	WorkingDir string
	Stdin      io.Reader // nil: no stdin (the process reads EOF)
	Stdout     io.Writer // nil discards
	Stderr     io.Writer // nil discards
}

// ExecResult is the outcome of ExecCapture.
type ExecResult struct {
	ExitCode int
	Stdout   string
	Stderr   string
}

// Exec runs cmd in the running container id, without a TTY, streaming its
// stdout and stderr to opts.Stdout and opts.Stderr as they come (a
// pg_restore running for minutes is never buffered whole), and returns its
// exit code. A non-zero exit code is not an error: err is for failures to
// run or follow the command (ErrNotRunning when the container is not
// running, ErrNotFound when it does not exist).
//
// Cancelling ctx stops waiting and returns ctx's error, but the process
// keeps running in the container: the Engine API has no way to signal an
// exec'd process. Callers that must stop it stop or remove the container
// (or run the command under `timeout` in the container).
func (e *Engine) Exec(ctx context.Context, id string, cmd []string, opts ExecOptions) (int, error) {
	what := fmt.Sprintf("exec %q in container %s", cmdName(cmd), shortID(id))
	created, err := e.cli.ExecCreate(ctx, id, client.ExecCreateOptions{
		User:         opts.User,
		Env:          opts.Env,
		WorkingDir:   opts.WorkingDir,
		Cmd:          cmd,
		AttachStdin:  opts.Stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return -1, e.classify(err, what)
	}
	att, err := e.cli.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return -1, e.classify(err, what)
	}
	defer att.Close()

	if opts.Stdin != nil {
		go func() {
			_, _ = io.Copy(att.Conn, opts.Stdin)
			_ = att.CloseWrite() // EOF for the process
		}()
	}
	stdout, stderr := orDiscard(opts.Stdout), orDiscard(opts.Stderr)
	outDone := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(stdout, stderr, att.Reader)
		outDone <- err
	}()
	select {
	case err := <-outDone:
		if err != nil {
			return -1, fmt.Errorf("%s: reading output: %w", what, err)
		}
	case <-ctx.Done():
		att.Close()
		<-outDone // the writers are the caller's again once we return
		return -1, fmt.Errorf("%s: %w (the process may still be running in the container)", what, ctx.Err())
	}
	return e.execExitCode(ctx, created.ID, what)
}

// ExecCapture is Exec with stdout and stderr collected in memory: for short
// commands only (checks, queries), never for dumps or restores.
func (e *Engine) ExecCapture(ctx context.Context, id string, cmd []string, opts ExecOptions) (ExecResult, error) {
	var stdout, stderr bytes.Buffer
	opts.Stdout, opts.Stderr = &stdout, &stderr
	code, err := e.Exec(ctx, id, cmd, opts)
	return ExecResult{ExitCode: code, Stdout: stdout.String(), Stderr: stderr.String()}, err
}

// execExitCode waits for the exec to be marked finished (the output stream
// can end a moment before) and returns its exit code.
func (e *Engine) execExitCode(ctx context.Context, execID, what string) (int, error) {
	delay := 5 * time.Millisecond
	for {
		res, err := e.cli.ExecInspect(ctx, execID, client.ExecInspectOptions{})
		if err != nil {
			return -1, e.classify(err, what)
		}
		if !res.Running {
			return res.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(delay):
		}
		if delay < 200*time.Millisecond {
			delay *= 2
		}
	}
}

// ExecInteractive runs cmd in the running container id as user, wired to
// this process's stdin and stdout, and returns its exit code; it is what
// `lifeboat db psql` uses.
//
// When stdin is a terminal the command gets a TTY: the local terminal is put
// in raw mode for the duration (and restored, also on error), the window size
// is passed on and followed on resize (SIGWINCH). When stdin is not a
// terminal (a script piped in) it runs like Exec, without a TTY, with stderr
// to os.Stderr.
//
// After the command exits, a goroutine may stay blocked reading stdin until
// the next input or the end of the program; this is meant for a CLI that
// exits afterwards. Cancelling ctx behaves as for Exec.
func (e *Engine) ExecInteractive(ctx context.Context, id string, cmd []string, user string) (int, error) {
	inFd := int(os.Stdin.Fd())
	if !term.IsTerminal(inFd) {
		return e.Exec(ctx, id, cmd, ExecOptions{User: user, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	}
	return e.execTTY(ctx, id, cmd, user, os.Stdin, os.Stdout, inFd, int(os.Stdout.Fd()))
}

// execTTY runs cmd with a TTY, copying in to it and its output to out.
// inFd, when a terminal, is put in raw mode; outFd, when a terminal, gives
// the window size. Either may be -1.
func (e *Engine) execTTY(ctx context.Context, id string, cmd []string, user string, in io.Reader, out io.Writer, inFd, outFd int) (int, error) {
	what := fmt.Sprintf("exec %q in container %s", cmdName(cmd), shortID(id))
	created, err := e.cli.ExecCreate(ctx, id, client.ExecCreateOptions{
		User:         user,
		Cmd:          cmd,
		TTY:          true,
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
		Env:          termEnv(),
	})
	if err != nil {
		return -1, e.classify(err, what)
	}
	att, err := e.cli.ExecAttach(ctx, created.ID, client.ExecAttachOptions{TTY: true})
	if err != nil {
		return -1, e.classify(err, what)
	}
	defer att.Close()

	if inFd >= 0 && term.IsTerminal(inFd) {
		state, err := term.MakeRaw(inFd)
		if err != nil {
			return -1, fmt.Errorf("%s: put the terminal in raw mode: %w", what, err)
		}
		defer func() { _ = term.Restore(inFd, state) }()
	}
	if outFd >= 0 && term.IsTerminal(outFd) {
		resize := func() {
			if w, h, err := term.GetSize(outFd); err == nil && w > 0 && h > 0 {
				// API 1.41 ignores a console size given at creation: resize instead.
				_, _ = e.cli.ExecResize(ctx, created.ID, client.ExecResizeOptions{Height: uint(h), Width: uint(w)})
			}
		}
		resize()
		stop := onWindowResize(resize)
		defer stop()
	}

	go func() {
		// No CloseWrite at the end of in: a terminal's end of input is ^D,
		// passed on as a byte, and a half-close makes the daemon (20.10)
		// drop the rest of the TTY's output.
		_, _ = io.Copy(att.Conn, in)
	}()
	outDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(out, att.Reader) // a TTY's output is not multiplexed
		outDone <- err
	}()
	select {
	case err := <-outDone:
		if err != nil && !errors.Is(err, io.EOF) {
			return -1, fmt.Errorf("%s: %w", what, err)
		}
	case <-ctx.Done():
		att.Close()
		<-outDone
		return -1, fmt.Errorf("%s: %w (the process may still be running in the container)", what, ctx.Err())
	}
	return e.execExitCode(ctx, created.ID, what)
}

// termEnv passes the local TERM on, so psql and friends draw correctly.
func termEnv() []string {
	if t := os.Getenv("TERM"); t != "" {
		return []string{"TERM=" + t}
	}
	return nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// cmdName is the program of cmd, for messages (arguments may hold secrets).
func cmdName(cmd []string) string {
	if len(cmd) == 0 {
		return ""
	}
	return cmd[0]
}

// ExecDetached starts cmd in the running container id and returns as soon
// as it started, without waiting for it or reading its output: for work
// that may outlive the caller (a full ANALYZE after a restore). Its exit
// code is never known; it ends with the process or with the container.
// Errors are as Exec's.
func (e *Engine) ExecDetached(ctx context.Context, id string, cmd []string, opts ExecOptions) error {
	what := fmt.Sprintf("exec %q in container %s", cmdName(cmd), shortID(id))
	created, err := e.cli.ExecCreate(ctx, id, client.ExecCreateOptions{
		User: opts.User, Env: opts.Env, WorkingDir: opts.WorkingDir, Cmd: cmd,
	})
	if err != nil {
		return e.classify(err, what)
	}
	if _, err := e.cli.ExecStart(ctx, created.ID, client.ExecStartOptions{Detach: true}); err != nil {
		return e.classify(err, what)
	}
	return nil
}
