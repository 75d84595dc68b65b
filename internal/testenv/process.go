package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// depsHint ends every "not installed" failure.
const depsHint = "run scripts/test-deps.sh"

var (
	portsMu sync.Mutex
	// portsGiven holds the ports FreePort has returned, so that two parallel
	// tests of one test binary are never handed the same port.
	portsGiven = map[int]bool{}
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that no other caller in this test binary has been given. (Another process
// may still take it before the caller binds it; servers started here retry
// with another port when that happens.)
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testenv: finding a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		portsMu.Lock()
		given := portsGiven[port]
		portsGiven[port] = true
		portsMu.Unlock()
		if !given {
			return port
		}
	}
	t.Fatal("testenv: no free port found")
	return 0
}

// process is a server started by this package: a child process whose output
// goes to a log file, stopped with a signal and waited for.
type process struct {
	name    string // for messages: "minio", "postgres"
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	err     error         // Wait's result, valid after done
}

// startProcess starts cmd with its stdout and stderr appended to logPath.
// The process gets its own process group and dies with the test binary.
func startProcess(name string, cmd *exec.Cmd, logPath string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = childSysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig to the process and, if it has not exited within grace,
// kills its whole process group; it returns once the process is gone.
func (p *process) stop(sig os.Signal, grace time.Duration) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	killGroup(p.cmd.Process.Pid)
	<-p.done
}

// logTail returns the last lines of the process's log, for failure messages.
func (p *process) logTail() string {
	return tailFile(p.logPath, 40)
}

func tailFile(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// runCommand runs cmd to completion and returns its stdout; on failure the
// error carries stderr.
func runCommand(cmd *exec.Cmd) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &stdout
	}
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		return nil, fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}

// findExecutable returns the first of: the file named by env var envName,
// each of defaults, the name on PATH. It returns "" when none exists.
func findExecutable(envName, name string, defaults ...string) string {
	if p := os.Getenv(envName); p != "" {
		return p
	}
	for _, p := range defaults {
		if isExecutable(p) {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// toolsDir is where scripts/test-deps.sh installs tool binaries.
func toolsDir() string {
	if d := os.Getenv("LIFEBOAT_TOOLS"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "lifeboat", "tools", "bin")
}

// isAddrInUse reports whether a server's log says its port was taken.
func isAddrInUse(log string) bool {
	l := strings.ToLower(log)
	return strings.Contains(l, "address already in use") || strings.Contains(l, "port") && strings.Contains(l, "in use")
}

var errExited = errors.New("process exited")

// waitUntil polls ready every interval until it returns true, the process
// exits (errExited) or timeout passes.
func waitUntil(p *process, timeout time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if ready() {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s: %w (%v)", p.name, errExited, p.err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not ready after %v", p.name, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// signalName is the name setpriv --pdeathsig takes.
func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGKILL:
		return "KILL"
	case syscall.SIGQUIT:
		return "QUIT"
	case syscall.SIGTERM:
		return "TERM"
	}
	return fmt.Sprint(int(sig))
}
