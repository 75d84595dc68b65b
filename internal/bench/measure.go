package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// sample is one timed run of one tool on one object.
type sample struct {
	Round int
	// Wall is the child's wall time, from start to exit.
	Wall time.Duration
	// MaxRSS is the child's peak resident set in bytes (getrusage's
	// ru_maxrss of the waited-for child: for a child that execs, or that
	// waits for children of its own, the largest of them).
	MaxRSS int64
	// CPU is user + system time of the child and its waited-for children.
	CPU time.Duration
	// Transfer is the time lifeboat reports for the download phase
	// alone (0 for aws).
	Transfer time.Duration
	// SyncAfter is how long an fsync of the file the child produced took
	// right after its exit: the writeback of what it left dirty in the page
	// cache (lifeboat fsyncs what it writes; aws s3 cp does not).
	SyncAfter time.Duration
	// Phases are the steps of the run, in order: from lifeboat's JSON
	// report, or marked by a by-hand script (restore, failover, refresh).
	Phases []phase
	// RTO is the rto_seconds `lifeboat failover --json` reported.
	RTO time.Duration
	// Health is how long lifeboat waited for web's health path once the
	// app's containers ran (health_seconds of its JSON; refresh).
	Health time.Duration
	// DiskHighWater is the most the run took of the volumes' and the
	// cache's file system, as lifeboat's run record measured it (refresh;
	// 0: not measured).
	DiskHighWater int64
	// Back is the wall time of the step that undid the measured one
	// (`lifeboat failback --complete` after a failover); not in Wall.
	Back time.Duration
}

// timeFsync fsyncs the file at path and returns how long it took.
func timeFsync(path string) (time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	t := time.Now()
	err = f.Sync()
	return time.Since(t), err
}

// run runs cmd to completion and measures it. Standard output is returned;
// standard error is kept for the error message.
//
// The child is started through a copy of this program in runner mode (see
// runMeasured), not directly. Go starts children with vfork semantics
// (clone with CLONE_VM), so the child execs from the parent's address
// space, and on exec Linux folds that address space's peak RSS into the
// child's ru_maxrss: a child started by this process (which held archives
// and upload buffers) would report at least this process's peak. The runner
// is a fresh process of a few MiB, so only that small floor remains.
func run(cmd *exec.Cmd) (sample, []byte, error) {
	self, err := os.Executable()
	if err != nil {
		return sample{}, nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return sample{}, nil, err
	}
	defer pr.Close()
	args := cmd.Args
	cmd.Args = append([]string{self, cmd.Path}, args[1:]...)
	cmd.Path = self
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, runnerEnv+"=1")
	cmd.ExtraFiles = []*os.File{pw}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		pw.Close()
		return sample{}, nil, err
	}
	pw.Close()
	var rep runnerReport
	jerr := json.NewDecoder(pr).Decode(&rep)
	werr := cmd.Wait()
	if jerr != nil {
		return sample{}, stdout.Bytes(), fmt.Errorf("%s: no measurement from the runner (%v, %v)\n%s",
			strings.Join(args, " "), jerr, werr, tail(stderr.String(), 20))
	}
	s := sample{Wall: rep.Wall, MaxRSS: rep.MaxRSSKiB * 1024, CPU: rep.CPU}
	if rep.Err != "" || werr != nil {
		return s, stdout.Bytes(), fmt.Errorf("%s: %s%v\n%s", strings.Join(args, " "), rep.Err, werr, tail(stderr.String(), 20))
	}
	return s, stdout.Bytes(), nil
}

// runnerEnv, set to 1, makes this program run its arguments as a command and
// report the measurement (runnerReport as JSON) on file descriptor 3.
const runnerEnv = "LIFEBOAT_BENCH_RUNNER"

type runnerReport struct {
	Wall      time.Duration `json:"wall_ns"`
	MaxRSSKiB int64         `json:"maxrss_kib"`
	CPU       time.Duration `json:"cpu_ns"`
	Err       string        `json:"error,omitempty"`
}

// runMeasured is the runner mode: it runs args with this process's standard
// streams and environment (less runnerEnv), waits for it, and writes its
// wall time, peak RSS (ru_maxrss, KiB) and CPU time to fd 3. It exits with
// the child's exit code.
func runMeasured(args []string) {
	report := os.NewFile(3, "report")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, runnerEnv+"=") {
			env = append(env, kv)
		}
	}
	var rep runnerReport
	code := 0
	if len(args) == 0 {
		rep.Err, code = "runner: no command", 2
	} else {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr, cmd.Env = os.Stdin, os.Stdout, os.Stderr, env
		start := time.Now()
		err := cmd.Run()
		rep.Wall = time.Since(start)
		if cmd.ProcessState != nil {
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				rep.MaxRSSKiB = ru.Maxrss // KiB on Linux
				rep.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			}
			code = cmd.ProcessState.ExitCode()
		}
		if err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				rep.Err, code = err.Error(), 1
			}
		}
	}
	json.NewEncoder(report).Encode(rep)
	os.Exit(code)
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// fetchJSON is the part of `lifeboat fetch --json` the benchmark reads
// (failover/archive.FetchResult).
type fetchJSON struct {
	Status   string `json:"status"`
	Key      string `json:"key"`
	Download struct {
		Parts        int   `json:"parts"`
		FetchedBytes int64 `json:"fetched_bytes"`
		ResumedBytes int64 `json:"resumed_bytes"`
		Retries      int   `json:"retries"`
	} `json:"download"`
	Seconds    float64 `json:"seconds"`
	Throughput float64 `json:"throughput_bytes_per_second"`
	Archive    *struct {
		Path     string   `json:"path"`
		DumpSize int64    `json:"dump_size"`
		Verified []string `json:"verified"`
	} `json:"archive"`
}

// tool is one contender: a lifeboat configuration or aws s3 cp.
type tool struct {
	Name string
	// Note says how it was configured, for the report.
	Note string
	// Only, when set, is the one object ID this contender runs on.
	Only string
	run  func(o object, round int) (sample, error)
}

// runsOn says whether the contender is measured on object o.
func (t tool) runsOn(o object) bool { return t.Only == "" || t.Only == o.ID }

// lifeboatTool runs `lifeboat fetch --app APP --json` into an empty cache.
func lifeboatTool(bin, cfg, stateDir string, v variant) tool {
	name := "lifeboat fetch"
	if !v.Default {
		name += " (tuned)"
	}
	return tool{
		Name: name,
		Note: fmt.Sprintf("download.concurrency %d, download.part_size %s", v.Concurrency, iec(v.PartSize)),
		run: func(o object, round int) (sample, error) {
			app := v.app(o)
			// Start from an empty cache, as on a fresh standby.
			if err := os.RemoveAll(filepath.Join(stateDir, app)); err != nil {
				return sample{}, err
			}
			syscall.Sync()
			cmd := exec.Command(bin, "--config", cfg, "fetch", "--app", app, "--json")
			cmd.Env = cleanEnv()
			s, out, err := run(cmd)
			if err != nil {
				return s, err
			}
			var res fetchJSON
			if err := json.Unmarshal(out, &res); err != nil {
				return s, fmt.Errorf("lifeboat fetch --json printed %q: %v", tail(string(out), 5), err)
			}
			if res.Status != "fetched" || res.Key != o.Key || res.Download.FetchedBytes != o.Size || res.Archive == nil {
				return s, fmt.Errorf("lifeboat fetch did not fetch %s in full: status %q, key %q, %d of %d bytes",
					o.Key, res.Status, res.Key, res.Download.FetchedBytes, o.Size)
			}
			if s.SyncAfter, err = timeFsync(res.Archive.Path); err != nil {
				return s, err
			}
			if res.Throughput > 0 {
				s.Transfer = time.Duration(float64(res.Download.FetchedBytes) / res.Throughput * float64(time.Second))
			}
			// Free the space (and the dirty pages) before the next run.
			os.RemoveAll(filepath.Join(stateDir, app))
			return s, nil
		},
	}
}

// awsTool runs `aws s3 cp s3://BUCKET/KEY FILE` with the CLI's default
// transfer settings (an empty config file), the MinIO endpoint on the
// command line and the keys in the environment.
func awsTool(bin, endpoint, configFile, outDir string, s3env []string) tool {
	return tool{
		Name: "aws s3 cp",
		Note: "the CLI's defaults (max_concurrent_requests 10, multipart_chunksize 8 MiB)",
		run: func(o object, round int) (sample, error) {
			dst := filepath.Join(outDir, filepath.Base(o.Key))
			os.Remove(dst)
			syscall.Sync()
			cmd := exec.Command(bin, "s3", "cp", "s3://"+bucket+"/"+o.Key, dst,
				"--endpoint-url", endpoint, "--no-progress", "--only-show-errors")
			cmd.Env = append(cleanEnv(), s3env...)
			cmd.Env = append(cmd.Env, "AWS_CONFIG_FILE="+configFile, "AWS_SHARED_CREDENTIALS_FILE="+configFile)
			s, _, err := run(cmd)
			if err != nil {
				return s, err
			}
			if got := fileSize(dst); got != o.Size {
				return s, fmt.Errorf("aws s3 cp wrote %d bytes, the object has %d", got, o.Size)
			}
			if s.SyncAfter, err = timeFsync(dst); err != nil {
				return s, err
			}
			os.Remove(dst)
			return s, nil
		},
	}
}

// awsGunzipTool runs `aws s3 cp` of the .dump.gz, then `gzip -d` on it:
// what it takes by hand to get the plain .dump that lifeboat caches (still
// without lifeboat's checks).
func awsGunzipTool(bin, endpoint, configFile, outDir string, s3env []string) tool {
	return tool{
		Name: "aws s3 cp + gunzip",
		Note: "`aws s3 cp` as above, then `gzip -d` of the file (the plain `.dump` lifeboat caches, without its checks)",
		Only: "gz",
		run: func(o object, round int) (sample, error) {
			gz := filepath.Join(outDir, filepath.Base(o.Key))
			plain := strings.TrimSuffix(gz, ".gz")
			os.Remove(gz)
			os.Remove(plain)
			syscall.Sync()
			cmd := exec.Command("/bin/sh", "-c", `"$1" s3 cp "$2" "$3" --endpoint-url "$4" --no-progress --only-show-errors && gzip -d -f "$3"`,
				"sh", bin, "s3://"+bucket+"/"+o.Key, gz, endpoint)
			cmd.Env = append(cleanEnv(), s3env...)
			cmd.Env = append(cmd.Env, "AWS_CONFIG_FILE="+configFile, "AWS_SHARED_CREDENTIALS_FILE="+configFile)
			s, _, err := run(cmd)
			if err != nil {
				return s, err
			}
			if fileSize(plain) <= 0 {
				return s, fmt.Errorf("aws s3 cp + gzip -d left no %s", plain)
			}
			if s.SyncAfter, err = timeFsync(plain); err != nil {
				return s, err
			}
			os.Remove(plain)
			return s, nil
		},
	}
}

// cleanEnv is this process's environment without AWS_*, LIFEBOAT_* or
// PYENV_* variables, so that the developer's shell does not change what is
// measured.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "LIFEBOAT_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// resolveAWS finds the aws CLI. A pyenv shim is resolved to the program it
// runs (`pyenv which aws`), so that pyenv's own start-up (a few bash
// processes) is not counted against the CLI.
func resolveAWS(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	p, err := exec.LookPath("aws")
	if err != nil {
		return "", fmt.Errorf("aws not found on PATH: run scripts/test-deps.sh, or pass -aws")
	}
	if strings.Contains(p, "/shims/") {
		if out, err := exec.Command("pyenv", "which", "aws").Output(); err == nil {
			if real := strings.TrimSpace(string(out)); real != "" {
				return real, nil
			}
		}
	}
	return p, nil
}
