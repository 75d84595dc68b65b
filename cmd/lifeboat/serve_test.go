package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/web"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// serveWorld runs the real `lifeboat serve` on a loopback port, with hooks
// signed by a 0600 secret file. Docker is out of reach (DOCKER_HOST points
// nowhere), so the jobs a hook starts fail at once without touching
// anything: what is tested is what serve lets through.
type serveWorld struct {
	url, secretFile, stateDir string
	done                      chan int
}

func startServe(t *testing.T, extra string) *serveWorld {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	dir := t.TempDir()
	w := &serveWorld{secretFile: filepath.Join(dir, "hook-secret"), stateDir: filepath.Join(dir, "state"), done: make(chan int, 1)}
	os.WriteFile(w.secretFile, []byte("3f1c0e5b9a7d4e2f8c6b1a0d9e8f7a6b\n"), 0o600)
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfg := filepath.Join(dir, "lifeboat.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`state_dir: %s
log_level: error
serve: {listen: "%s", hook_secret_file: %s%s}
apps:
  - name: hooktest
    s3: {bucket: b, endpoint: "http://127.0.0.1:1", path_style: true, timeout: 1s}
`, w.stateDir, addr, w.secretFile, extra)), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		code, _, _ := lb2(ctx, "--config", cfg, "serve")
		w.done <- code
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-w.done:
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	})
	w.url = "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := http.Get(w.url + "/healthz"); err == nil {
			resp.Body.Close()
			return w
		}
		select {
		case code := <-w.done:
			t.Fatalf("serve exited %d", code)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("serve does not answer")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lb2 is lb with a context, for a command that runs until cancelled.
func lb2(ctx context.Context, args ...string) (int, string, string) {
	var o, e bytes.Buffer
	code := run(ctx, args, &o, &e)
	return code, o.String(), e.String()
}

// signWithOpenSSL signs a request the way the README shows, with openssl.
func (w *serveWorld) signWithOpenSSL(t *testing.T, ts int64, method, path, body string) string {
	t.Helper()
	script := `printf '%s.%s.%s.%s' "$T" "$METHOD" "$P" "$BODY" | openssl dgst -sha256 -hmac "$(cat "$SECRET")" -r | cut -d' ' -f1`
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), fmt.Sprintf("T=%d", ts), "METHOD="+method, "P="+path, "BODY="+body, "SECRET="+w.secretFile)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl: %v", err)
	}
	return fmt.Sprintf("t=%d,v1=%s", ts, strings.TrimSpace(string(out)))
}

func (w *serveWorld) post(t *testing.T, path, body, sig string, headers ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.url+path, strings.NewReader(body))
	if sig != "" {
		req.Header.Set("X-Lifeboat-Signature", sig)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeHookSignaturesCannotBeReplayed (issue 8, item 3) against the
// real serve over loopback, signed as the README shows with curl's
// companion openssl: a signature triggers its own app and job once, within
// five minutes of its time; the old body-only signature and GitHub's
// (unless enabled) do nothing.
func TestServeHookSignaturesCannotBeReplayed(t *testing.T) {
	w := startServe(t, "")
	now := time.Now().Unix()
	const refresh, drill = "/hooks/hooktest/refresh", "/hooks/hooktest/drill"

	// The README's curl example, verbatim but for the secret's path.
	script := `t=$(date +%s); body='{}'; path=/hooks/hooktest/refresh
sig=$(printf '%s.POST.%s.%s' "$t" "$path" "$body" | openssl dgst -sha256 -hmac "$(cat "$SECRET")" -r | cut -d' ' -f1)
curl -sS -X POST -H "X-Lifeboat-Signature: t=$t,v1=$sig" --data "$body" "$URL$path"`
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), "SECRET="+w.secretFile, "URL="+w.url)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"status":"started"`) {
		t.Fatalf("the documented curl example: %v %s", err, out)
	}

	body := `{"Records":[{"s3":{"object":{"key":"backups/hooktest/x.dump.gz"}}}]}`
	sig := w.signWithOpenSSL(t, now-1, "POST", refresh, body)
	if code, msg := w.post(t, refresh, body, sig); code != http.StatusAccepted {
		t.Fatalf("a fresh signature: %d %s", code, msg)
	}
	if code, msg := w.post(t, refresh, body, sig); code != http.StatusConflict {
		t.Errorf("the same signed request again: %d %s, want 409", code, msg)
	}
	if code, _ := w.post(t, drill, body, sig); code != http.StatusUnauthorized {
		t.Errorf("a refresh signature on the drill hook: %d, want 401", code)
	}
	empty := w.signWithOpenSSL(t, now-2, "POST", refresh, "")
	if code, _ := w.post(t, refresh, "", empty); code != http.StatusAccepted {
		t.Errorf("an empty-body signature: %d", code)
	}
	for name, s := range map[string]string{
		"the same empty-body signature":   empty,
		"on another app":                  w.signWithOpenSSL(t, now-2, "POST", "/hooks/other/refresh", ""),
		"made ten minutes ago":            w.signWithOpenSSL(t, now-600, "POST", refresh, ""),
		"the old scheme (body-only HMAC)": web.SignGitHub(bytes.TrimSpace(mustReadBytes(t, w.secretFile)), []byte("")),
	} {
		if code, _ := w.post(t, refresh, "", s); code != http.StatusUnauthorized && code != http.StatusConflict {
			t.Errorf("%s: %d, want refused", name, code)
		}
	}
	gh := web.SignGitHub(bytes.TrimSpace(mustReadBytes(t, w.secretFile)), []byte(body))
	if code, _ := w.post(t, refresh, body, "", "X-Hub-Signature-256", gh, "X-GitHub-Delivery", "d-1"); code != http.StatusUnauthorized {
		t.Errorf("a GitHub signature without serve.github_signatures: %d", code)
	}
}

func TestServeGitHubDeliveriesOnce(t *testing.T) {
	w := startServe(t, ", github_signatures: true")
	body := `{"ref":"refs/heads/main"}`
	gh := web.SignGitHub(bytes.TrimSpace(mustReadBytes(t, w.secretFile)), []byte(body))
	if code, msg := w.post(t, "/hooks/hooktest/drill", body, "", "X-Hub-Signature-256", gh, "X-GitHub-Delivery", "72d3162e"); code != http.StatusAccepted {
		t.Fatalf("a GitHub delivery: %d %s", code, msg)
	}
	if code, _ := w.post(t, "/hooks/hooktest/drill", body, "", "X-Hub-Signature-256", gh, "X-GitHub-Delivery", "72d3162e"); code != http.StatusConflict {
		t.Errorf("the same delivery again: %d", code)
	}
}

// TestServeHardening (item 10): a bad report id is the caller's error (400,
// no server paths in the answer), and a client that stalls in the middle
// of its request, or sits idle, is cut off.
func TestServeHardening(t *testing.T) {
	saved := web.Timeouts
	web.Timeouts.ReadHeader, web.Timeouts.Read, web.Timeouts.Write, web.Timeouts.Idle = time.Second, 2*time.Second, 2*time.Second, 2*time.Second
	t.Cleanup(func() { web.Timeouts = saved })
	w := startServe(t, "")

	resp, err := http.Get(w.url + "/apps/hooktest/reports/..%2f..%2fetc%2fpasswd")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(b), w.stateDir) {
		t.Errorf("an invalid report id: %d %q, want 400 without paths", resp.StatusCode, b)
	}

	// Headers sent, then a body that never comes: before, the handler
	// waited for it for ever, holding the connection.
	conn, err := net.Dial("tcp", strings.TrimPrefix(w.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /hooks/hooktest/refresh HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	io.Copy(io.Discard, conn) // returns when the server closes the connection
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("a stalled request body held the connection for %v", took)
	}

	// An idle keep-alive connection is closed too.
	idle, err := net.Dial("tcp", strings.TrimPrefix(w.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	fmt.Fprintf(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(idle)
	if r, err := http.ReadResponse(br, nil); err != nil || r.StatusCode != 200 {
		t.Fatalf("healthz: %v", err)
	} else {
		io.Copy(io.Discard, r.Body)
	}
	start = time.Now()
	idle.SetReadDeadline(time.Now().Add(20 * time.Second))
	io.Copy(io.Discard, br)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("an idle connection stayed open %v", took)
	}
}

func mustReadBytes(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
