package cluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/konsumerator/konsumerator/internal/testenv"
)

// TestToolsScriptSaysWhatItBuildsAndStaysAlive runs hack/tools.sh against an empty cache with a stand-in for go
// that takes a few seconds to "build": the script must say what it builds and roughly how long that takes, and
// keep printing while the build runs, as a first build of kube-apiserver is silent for minutes otherwise. The
// heartbeat's sleeps must not outlive the script: the demo's test fails on any process the demo leaves behind.
func TestToolsScriptSaysWhatItBuildsAndStaysAlive(t *testing.T) {
	script := filepath.Join(testenv.RepoRoot(), "hack", "tools.sh")

	usage, _ := exec.Command(script).CombinedOutput()
	for _, want := range []string{"kube-apiserver", "~7 min", "prometheus", "~3 min", "kwok", "~2 min", "etcd", "~30 s", "chromium"} {
		if !strings.Contains(string(usage), want) {
			t.Errorf("hack/tools.sh's usage does not mention %q:\n%s", want, usage)
		}
	}

	cache, bin := t.TempDir(), t.TempDir()
	// etcd's throwaway module counts as resolved when its go.sum exists, so only the build runs.
	src := filepath.Join(cache, "src", "etcd-v3.6.16")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "go.sum"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fakeGo := `#!/bin/sh
# A go build that takes 3 seconds and writes its -o file.
while [ $# -gt 0 ]; do
  if [ "$1" = -o ]; then out=$2; fi
  shift
done
sleep 3.5
printf '#!/bin/sh\n' >"$out"
chmod +x "$out"
`
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(fakeGo), 0o755); err != nil {
		t.Fatal(err)
	}
	// A sleep that says who it is, so that the test can tell whether one is still running after the script.
	realSleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	sleeps := filepath.Join(t.TempDir(), "sleeps")
	fakeSleep := "#!/bin/sh\necho $$ >>" + sleeps + "\nexec " + realSleep + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "sleep"), []byte(fakeSleep), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, "path", "etcd")
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "KONSUMERATOR_CACHE="+cache,
		"KONSUMERATOR_TOOLS_HEARTBEAT=1", "ETCD_VERSION=v3.6.16")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("hack/tools.sh path etcd: %v\n%s", err, stderr.String())
	}
	if got, want := strings.TrimSpace(stdout.String()), filepath.Join(cache, "bin", "etcd-v3.6.16", "etcd"); got != want {
		t.Errorf("stdout %q, want only the path %q", got, want)
	}
	pids, err := os.ReadFile(sleeps)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(string(pids))); n < 3 {
		t.Errorf("%d sleeps recorded, want the build's and at least two heartbeats'", n)
	}
	for _, pid := range strings.Fields(string(pids)) {
		if running(pid) {
			t.Errorf("sleep %s still runs after hack/tools.sh exited", pid)
		}
	}
	log := stderr.String()
	for _, want := range []string{"building etcd", "about 30 s", "still building etcd: 0m01s so far", "done building etcd in"} {
		if !strings.Contains(log, want) {
			t.Errorf("stderr lacks %q:\n%s", want, log)
		}
	}
}

// running says whether the process runs (a zombie has ended; only its status waits to be read).
func running(pid string) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}
