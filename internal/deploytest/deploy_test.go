package deploytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/internal/imagebuild"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

const (
	appImage = "lifeboat-test/exampleapp:vps"
	bucket   = "heroku-backups"
	prefix   = "backups/shop/DATABASE_URL/"
)

// TestPlaybookTurnsAFreshVPSIntoAStandby is the whole story: one
// ansible-playbook run turns a fresh Debian 12 VPS into a scheduled,
// monitored standby, a second run changes nothing, and the refresh unit the
// timer would start restores the newest archive and boots the app on it.
func TestPlaybookTurnsAFreshVPSIntoAStandby(t *testing.T) {
	start := time.Now()
	ctx := t.Context()
	root, err := imagebuild.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	requireTools(t)
	vpsImage := requireVPSImage(t, root)
	pgImage := testenv.RequirePostgresImage(t)
	id := randomID(t)

	// ansible-lint, with the production profile of ansible/.ansible-lint.
	lintStart := time.Now()
	lint := exec.CommandContext(ctx, "ansible-lint", "--nocolor")
	lint.Dir = filepath.Join(root, "ansible")
	lint.Env = append(os.Environ(), "NO_COLOR=1")
	if out, err := lint.CombinedOutput(); err != nil {
		t.Fatalf("ansible-lint: %v\n%s", err, out)
	} else if !strings.Contains(string(out), "production profile") {
		t.Fatalf("ansible-lint did not lint with the production profile:\n%s", out)
	}
	t.Logf("ansible-lint (production profile) clean in %s", time.Since(lintStart).Round(time.Second))

	// What the outside world holds: a real pg_dump archive in an S3 bucket
	// the VPS reaches on a Docker network of this test.
	src := testenv.StartPostgres(t)
	testenv.LoadHerokuLike(t, src, "shop", 500)
	counts := src.RowCounts(t, "shop")
	dump := src.Dump(t, "shop")

	network := "lifeboat-deploytest-" + id
	docker(t, "network", "create", "--label", "io.lifeboat.test=deploytest", network)
	t.Cleanup(func() { dockerQuiet("network", "rm", network) })
	gateway := strings.TrimSpace(docker(t, "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}", network))
	if gateway == "" {
		t.Fatalf("network %s has no gateway", network)
	}
	s3 := testenv.StartS3(t, testenv.ListenOn(gateway))
	s3.CreateBucket(t, bucket)
	credsFile := s3.WriteCredentialsFile(t, t.TempDir())
	key := prefix + filepath.Base(testenv.HerokuKey("shop", "DATABASE_URL", time.Now().UTC().Add(-time.Hour), "UTC", true))
	s3.Put(t, bucket, key, testenv.Gzip(t, dump))

	// The app's image, saved for the role to copy and load.
	eng, err := engine.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if err := imagebuild.ExampleApp(ctx, eng, root, appImage); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dockerQuiet("image", "rm", appImage) })
	work := t.TempDir()
	appTar := filepath.Join(work, "exampleapp.tar")
	docker(t, "save", "-o", appTar, appImage)

	// The fresh VPS.
	v := startVPS(t, vpsImage, "lifeboat-deploytest-"+id, network)
	// Inner containers stay in the VPS's cgroup with the systemd driver.
	v.must("sh", "-c", `mkdir -p /etc/docker && printf '{"exec-opts": ["native.cgroupdriver=systemd"]}\n' >/etc/docker/daemon.json`)

	d := inventoryData{Endpoint: s3.Endpoint, Credentials: mustRead(t, credsFile), AppTar: appTar, SourceDir: root}
	inv := writeInventory(t, work, v.name, d)

	// First converge.
	first := playbook(t, root, inv)
	if first.changed == 0 {
		t.Fatalf("the first run changed nothing on a fresh VPS:\n%s", first.out)
	}
	t.Logf("first converge: %s (ok=%d changed=%d)", first.took.Round(time.Second), first.ok, first.changed)

	// A second run changes nothing.
	second := playbook(t, root, inv)
	if second.changed != 0 {
		t.Fatalf("the second run changed %d task(s): %s\n%s", second.changed, strings.Join(changedTasks(second.out), "; "), second.out)
	}
	t.Logf("second run: %s (ok=%d changed=0)", second.took.Round(time.Second), second.ok)

	// Inside the VPS.
	if got := strings.TrimSpace(v.must("systemctl", "is-active", "docker")); got != "active" {
		t.Fatalf("docker is %s", got)
	}
	if got := strings.TrimSpace(v.must("systemctl", "is-enabled", "docker")); got != "enabled" {
		t.Fatalf("docker is %s at boot", got)
	}
	timers := v.must("systemctl", "list-timers", "--all", "--no-legend", "--no-pager")
	for _, job := range []string{"refresh", "drill", "check"} {
		if !strings.Contains(timers, "lifeboat-"+job+"@shop.timer") {
			t.Errorf("systemctl list-timers lacks lifeboat-%s@shop.timer:\n%s", job, timers)
		}
	}
	if got := strings.TrimSpace(v.must("systemctl", "is-active", "lifeboat-serve.service")); got != "active" {
		t.Errorf("lifeboat-serve.service is %s", got)
	}
	units := strings.Fields(v.must("sh", "-c", "ls /etc/systemd/system/lifeboat-*"))
	if len(units) != 7 {
		t.Errorf("units %v: want a service and a timer for each of 3 jobs, and serve", units)
	}
	if out, err := v.exec(append([]string{"systemd-analyze", "verify"}, units...)...); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	exposure := v.must("sh", "-c", "systemd-analyze security lifeboat-refresh@shop.service lifeboat-serve.service | grep -i 'overall exposure'")
	t.Logf("systemd-analyze security:\n%s", strings.TrimSpace(exposure))
	modes := v.must("stat", "-c", "%n %a %U %G", "/etc/lifeboat", "/etc/lifeboat/lifeboat.yaml", "/etc/lifeboat/aws-credentials", "/var/lib/lifeboat")
	for _, want := range []string{"/etc/lifeboat 700 root root", "/etc/lifeboat/lifeboat.yaml 600 root root",
		"/etc/lifeboat/aws-credentials 600 root root", "/var/lib/lifeboat 700 root root"} {
		if !strings.Contains(modes, want+"\n") {
			t.Errorf("want %q in:\n%s", want, modes)
		}
	}
	if readme := v.must("cat", "/etc/lifeboat/README"); !strings.Contains(readme, "lifeboat schedule list") {
		t.Errorf("/etc/lifeboat/README does not say how to see the timers:\n%s", readme)
	}
	if creds := v.must("cat", "/etc/lifeboat/aws-credentials"); creds != mustRead(t, credsFile) {
		t.Errorf("the vaulted credentials did not arrive as written")
	}
	if images := v.must("docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(images, appImage) {
		t.Errorf("the role did not load %s: %s", appImage, images)
	}

	// The Postgres image, loaded into the VPS's own engine.
	loadStart := time.Now()
	loadImage(t, v.name, pgImage)
	t.Logf("docker save %s | docker exec -i … docker load: %s", pgImage, time.Since(loadStart).Round(time.Second))

	// The refresh, as its timer starts it.
	refreshStart := time.Now()
	if out, err := v.exec("systemctl", "start", "lifeboat-refresh@shop.service"); err != nil {
		journal, _ := v.exec("journalctl", "--no-pager", "-n", "80", "-u", "lifeboat-refresh@shop.service")
		t.Fatalf("systemctl start lifeboat-refresh@shop.service: %v\n%s\njournal:\n%s", err, out, journal)
	}
	t.Logf("systemctl start lifeboat-refresh@shop.service: %s", time.Since(refreshStart).Round(time.Second))
	journal := v.must("journalctl", "--no-pager", "-u", "lifeboat-refresh@shop.service")
	if !strings.Contains(journal, "refresh: refreshed (generation 1") {
		t.Errorf("the refresh's output is not in the journal:\n%s", journal)
	}

	// The app inside the VPS answers with the restored data.
	got := appStatus(t, v)
	for table, field := range map[string]string{"app.accounts": "accounts", "billing.invoices": "invoices"} {
		n, ok := got[field].(float64)
		if !ok || int64(n) != counts[table] {
			t.Errorf("the app reports %s = %v, the source database has %d rows", field, got[field], counts[table])
		}
	}

	// The drill and the check, sandboxed the same way, pass too: the check
	// sees a fresh archive, the refresh and the drill.
	for _, job := range []string{"drill", "check"} {
		unit := "lifeboat-" + job + "@shop.service"
		begin := time.Now()
		if out, err := v.exec("systemctl", "start", unit); err != nil {
			journal, _ := v.exec("journalctl", "--no-pager", "-n", "80", "-u", unit)
			t.Fatalf("systemctl start %s: %v\n%s\njournal:\n%s", unit, err, out, journal)
		}
		t.Logf("systemctl start %s: %s", unit, time.Since(begin).Round(time.Second))
	}

	// lifeboat schedule list shows the run.
	var listing struct {
		Jobs []struct {
			App, Job, Result string
			Schedule         string
			Installed        bool
			LastRun          *time.Time `json:"last_run"`
			NextRun          *time.Time `json:"next_run"`
		} `json:"jobs"`
		Serve struct{ State string } `json:"serve"`
	}
	if err := json.Unmarshal([]byte(v.must("lifeboat", "schedule", "list", "--json")), &listing); err != nil {
		t.Fatal(err)
	}
	for _, j := range listing.Jobs {
		if j.Schedule == "off" { // capture, off by default, is listed but has no timer
			continue
		}
		if !j.Installed || j.NextRun == nil {
			t.Errorf("%s/%s: installed %v, next run %v", j.App, j.Job, j.Installed, j.NextRun)
		}
		if j.Result != "success" || j.LastRun == nil || j.LastRun.Before(refreshStart.Add(-time.Second).UTC()) {
			t.Errorf("schedule list does not show the %s run: %+v", j.Job, j)
		}
	}
	if listing.Serve.State != "active" {
		t.Errorf("schedule list: serve %s", listing.Serve.State)
	}
	t.Logf("lifeboat schedule list:\n%s", v.must("lifeboat", "schedule", "list"))

	// The drill leaves the config: the next run removes its units and
	// restarts serve; asked for, it ends with a refresh of every app.
	writeConfig(t, filepath.Dir(inv), d, "off")
	third := playbook(t, root, inv, "--tags", "all,first_refresh")
	changed := strings.Join(changedTasks(third.out), "; ")
	for _, task := range []string{"Write /etc/lifeboat/lifeboat.yaml", "lifeboat schedule install", "Restart lifeboat serve", "Refresh every app now"} {
		if !strings.Contains(changed, task) {
			t.Errorf("the third run did not change %q (changed: %s)", task, changed)
		}
	}
	t.Logf("third run (drill off, --tags all,first_refresh): %s (changed=%d: %s)", third.took.Round(time.Second), third.changed, changed)
	left := v.must("sh", "-c", "ls /etc/systemd/system/ | grep '^lifeboat-' || true")
	if strings.Contains(left, "drill") || strings.Count(left, "lifeboat-") != 5 {
		t.Errorf("after drill: off, the units are:\n%s", left)
	}
	if timers := v.must("systemctl", "list-timers", "--all", "--no-legend", "--no-pager"); strings.Contains(timers, "lifeboat-drill@") {
		t.Errorf("the drill timer is still scheduled:\n%s", timers)
	}
	if got := strings.TrimSpace(v.must("systemctl", "is-active", "lifeboat-serve.service")); got != "active" {
		t.Errorf("lifeboat-serve.service is %s after the config changed", got)
	}
	t.Logf("whole test: %s", time.Since(start).Round(time.Second))
}

// requireTools fails the test naming what is missing.
func requireTools(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "the deployment test runs as root (it bind-mounts the VPS's Docker data directory and removes what the VPS wrote there)")
	}
	testenv.RequireDocker(t)
	for _, tool := range []string{"docker", "ansible-playbook", "ansible-vault", "ansible-lint"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, "%s not found: run scripts/test-deps.sh (it installs ansible and ansible-lint from Debian)", tool)
		}
	}
}

// requireVPSImage returns the tag scripts/build-vps-image.sh gives the image
// of this very script, and fails when it is not built.
func requireVPSImage(t *testing.T, root string) string {
	t.Helper()
	script := filepath.Join(root, "scripts", "build-vps-image.sh")
	out, err := exec.Command(script, "--print-tag").Output()
	if err != nil {
		t.Fatalf("%s --print-tag: %v", script, err)
	}
	tag := strings.TrimSpace(string(out))
	if err := exec.Command("docker", "image", "inspect", tag).Run(); err != nil {
		t.Fatalf("the VPS image %s is not built: run scripts/build-vps-image.sh (or scripts/test-deps.sh)", tag)
	}
	return tag
}

type vps struct {
	t    *testing.T
	name string
}

// startVPS runs the VPS container the way that works on Docker 20.10 with
// cgroup v1 without --privileged, its own /var/lib/docker bind-mounted from
// a directory of the test, and waits for systemd to finish booting. The
// container, its inner containers and that directory go at the end.
func startVPS(t *testing.T, image, name, network string) *vps {
	t.Helper()
	dataDir := t.TempDir()
	t.Cleanup(func() {
		dockerQuiet("rm", "-f", "-v", name)
		// What the inner engine left (overlay layers owned by many users).
		os.RemoveAll(dataDir)
	})
	docker(t, "run", "-d", "--name", name, "--hostname", "standby-1", "--network", network,
		"--label", "io.lifeboat.test=deploytest",
		"--cgroupns=host", "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
		"--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
		"--device-cgroup-rule", "a *:* rwm",
		"--tmpfs", "/run", "--tmpfs", "/run/lock",
		"-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro",
		"-v", dataDir+":/var/lib/docker",
		"--stop-signal", "SIGRTMIN+3",
		image)
	v := &vps{t: t, name: name}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, _ := v.exec("systemctl", "is-system-running")
		state := strings.TrimSpace(out)
		if state == "running" {
			return v
		}
		if state == "degraded" {
			failed, _ := v.exec("systemctl", "--failed", "--no-legend", "--no-pager")
			t.Logf("the VPS booted degraded:\n%s", failed)
			return v
		}
		if time.Now().After(deadline) {
			logs, _ := exec.Command("docker", "logs", "--tail", "50", name).CombinedOutput()
			t.Fatalf("systemd in %s did not finish booting (state %q):\n%s", name, state, logs)
		}
		time.Sleep(time.Second)
	}
}

// exec runs a command inside the VPS and returns its combined output.
func (v *vps) exec(args ...string) (string, error) {
	out, err := exec.Command("docker", append([]string{"exec", v.name}, args...)...).CombinedOutput()
	return string(out), err
}

func (v *vps) must(args ...string) string {
	v.t.Helper()
	out, err := v.exec(args...)
	if err != nil {
		v.t.Fatalf("in the VPS: %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

type inventoryData struct {
	Endpoint, Credentials, AppTar, SourceDir string
}

// writeInventory writes an inventory like ansible/inventory.example, for the
// VPS over the docker connection, with the secrets in a vault file
// encrypted with ansible-vault. It returns the inventory's hosts.yml.
func writeInventory(t *testing.T, dir, host string, d inventoryData) string {
	t.Helper()
	inv := filepath.Join(dir, "inventory")
	for _, sub := range []string{"group_vars/lifeboat", "files"} {
		if err := os.MkdirAll(filepath.Join(inv, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(inv, path), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("hosts.yml", fmt.Sprintf(`lifeboat:
  hosts:
    %s:
      ansible_connection: community.docker.docker
      ansible_user: root
      ansible_python_interpreter: /usr/bin/python3
`, host))
	write("group_vars/lifeboat/main.yml", fmt.Sprintf(`lifeboat_config_file: "{{ inventory_dir }}/files/lifeboat.yaml"
lifeboat_source_dir: %q
lifeboat_secrets:
  aws-credentials: "{{ vault_lifeboat_aws_credentials }}"
lifeboat_images:
  - name: %s
    archive: %q
`, d.SourceDir, appImage, d.AppTar))
	vault, _ := json.Marshal(map[string]string{"vault_lifeboat_aws_credentials": d.Credentials})
	write("group_vars/lifeboat/vault.yml", string(vault)+"\n")
	writeConfig(t, inv, d, "Sun *-*-* 06:00:00 UTC")
	password := filepath.Join(dir, "vault-password")
	if err := os.WriteFile(password, []byte(randomID(t)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	enc := exec.Command("ansible-vault", "encrypt", "--vault-password-file", password, filepath.Join(inv, "group_vars/lifeboat/vault.yml"))
	if out, err := enc.CombinedOutput(); err != nil {
		t.Fatalf("ansible-vault encrypt: %v\n%s", err, out)
	}
	if b := mustRead(t, filepath.Join(inv, "group_vars/lifeboat/vault.yml")); !strings.HasPrefix(b, "$ANSIBLE_VAULT;") {
		t.Fatalf("the vault file is not encrypted:\n%s", b)
	}
	return filepath.Join(inv, "hosts.yml")
}

// writeConfig writes the inventory's lifeboat.yaml with the given drill
// schedule. The timers fire at times the test is unlikely to meet; the test
// starts the refresh unit itself.
func writeConfig(t *testing.T, inv string, d inventoryData, drill string) {
	t.Helper()
	body := fmt.Sprintf(`state_dir: /var/lib/lifeboat
log_level: info
serve: {listen: "127.0.0.1:8077"}
apps:
  - name: shop
    s3:
      bucket: %s
      prefix: %s
      endpoint: %s
      path_style: true
      credentials_file: /etc/lifeboat/aws-credentials
      timeout: 10s
    download: {concurrency: 4, part_size: 1MiB}
    database:
      image: %s
      jobs: 2
    app:
      image: %s
      port: 5000
      health: {path: /health, timeout: 2m}
    # The S3 server is reachable from the VPS: a drill's network must not be.
    drill: {egress_probes: [%q]}
    schedule:
      refresh: "*-*-* 04:00:00 UTC"
      drill: %q
      check: "*-*-* 05:00:00 UTC"
`, bucket, prefix, d.Endpoint, testenv.PostgresImage, appImage, strings.TrimPrefix(d.Endpoint, "http://"), drill)
	if err := os.WriteFile(filepath.Join(inv, "files", "lifeboat.yaml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

type run struct {
	out                            string
	ok, changed, unreachable, fail int
	took                           time.Duration
}

var recapRE = regexp.MustCompile(`(?m)^\S+\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

// playbook runs ansible/site.yml against the inventory, with the repo's
// ansible.cfg (pipelining on), and fails the test unless it succeeds.
func playbook(t *testing.T, root, hosts string, args ...string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Minute)
	defer cancel()
	args = append([]string{"-i", hosts, "--vault-password-file", filepath.Join(filepath.Dir(filepath.Dir(hosts)), "vault-password")}, args...)
	cmd := exec.CommandContext(ctx, "ansible-playbook", append(args, "site.yml")...)
	cmd.Dir = filepath.Join(root, "ansible")
	cmd.Env = append(os.Environ(), "ANSIBLE_CONFIG="+filepath.Join(root, "ansible", "ansible.cfg"), "ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	begin := time.Now()
	err := cmd.Run()
	r := run{out: buf.String(), took: time.Since(begin)}
	m := recapRE.FindStringSubmatch(r.out)
	if err != nil || m == nil {
		t.Fatalf("ansible-playbook: %v\n%s", err, r.out)
	}
	r.ok, _ = strconv.Atoi(m[1])
	r.changed, _ = strconv.Atoi(m[2])
	r.unreachable, _ = strconv.Atoi(m[3])
	r.fail, _ = strconv.Atoi(m[4])
	if r.fail != 0 || r.unreachable != 0 {
		t.Fatalf("ansible-playbook: failed=%d unreachable=%d\n%s", r.fail, r.unreachable, r.out)
	}
	return r
}

// changedTasks names the tasks and handlers a playbook run reported as
// changed.
func changedTasks(out string) []string {
	var tasks []string
	var task string
	for _, line := range strings.Split(out, "\n") {
		for _, p := range []string{"TASK [", "RUNNING HANDLER ["} {
			if rest, ok := strings.CutPrefix(line, p); ok {
				task, _, _ = strings.Cut(rest, "]")
			}
		}
		if strings.HasPrefix(line, "changed: ") {
			tasks = append(tasks, task)
		}
	}
	return tasks
}

// loadImage copies an image of the host's engine into the VPS's engine:
// docker save | docker exec -i VPS docker load.
func loadImage(t *testing.T, vpsName, image string) {
	t.Helper()
	save := exec.Command("docker", "save", image)
	load := exec.Command("docker", "exec", "-i", vpsName, "docker", "load")
	pipe, err := save.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	load.Stdin = pipe
	var out bytes.Buffer
	load.Stdout, load.Stderr = &out, &out
	if err := save.Start(); err != nil {
		t.Fatal(err)
	}
	if err := load.Run(); err != nil {
		save.Process.Kill()
		save.Wait()
		t.Fatalf("docker load of %s into the VPS: %v\n%s", image, err, out.String())
	}
	if err := save.Wait(); err != nil {
		t.Fatalf("docker save %s: %v", image, err)
	}
}

// appStatus asks the standby's web process, inside the VPS, what it sees:
// found by its labels, reached on its container address as Lifeboat's own
// health check does.
func appStatus(t *testing.T, v *vps) map[string]any {
	t.Helper()
	ids := strings.Fields(v.must("docker", "ps", "-q", "--filter", "label=io.lifeboat.app=shop", "--filter", "label=io.lifeboat.role=web"))
	if len(ids) != 1 {
		t.Fatalf("web containers of shop in the VPS: %v", ids)
	}
	ip := strings.Fields(v.must("docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", ids[0]))
	if len(ip) == 0 {
		t.Fatalf("the web container has no address")
	}
	body := v.must("python3", "-c", "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())", "http://"+ip[0]+":5000/")
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("the app answered %q: %v", body, err)
	}
	return m
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// dockerQuiet runs a cleanup command; its failure (already gone) is fine.
func dockerQuiet(args ...string) { _ = exec.Command("docker", args...).Run() }

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func randomID(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
