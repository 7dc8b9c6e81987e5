package main

import (
	"os/exec"
	"testing"
	"time"
)

func TestParseNameAndParent(t *testing.T) {
	name, ppid, err := parseNameAndParent("4242 (kube (api) server) S 17 4242 4242 0 -1 4194560 1 0 0 0 250 130 0 0 20 0 9 0")
	if err != nil || name != "kube (api) server" || ppid != 17 {
		t.Fatalf("got %q, %d, %v", name, ppid, err)
	}
	if _, _, err := parseNameAndParent("4242 kube-apiserver S 17"); err == nil {
		t.Fatal("a line without a command name in parentheses parsed")
	}
}

// A child that spins shows up under its own name, the bench under benchProgram.
func TestReadCPUByProgramCountsChildren(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	before, err := readCPUByProgram()
	if err != nil {
		t.Fatal(err)
	}
	// It spins until killed, so it is still there however fast the machine.
	cmd := exec.Command(sh, "-c", "while :; do :; done")
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Read while the child runs: an ended, reaped child is no longer in /proc.
	var during cpuByProgram
	for time.Since(start) < 30*time.Second {
		time.Sleep(200 * time.Millisecond)
		if during, err = readCPUByProgram(); err != nil {
			t.Fatal(err)
		}
		if during.since(before)["sh"] >= 0.1 {
			break
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	used := during.since(before)
	if used["sh"] < 0.1 {
		t.Fatalf("the spinning child used %.2f s by /proc, want at least 0.1 s: %v", used["sh"], used)
	}
	if _, ok := during[benchProgram]; !ok {
		t.Fatalf("no %q entry: %v", benchProgram, during)
	}
}

func TestAPICostScenario(t *testing.T) {
	if got, err := parseScenarios("api-cost"); err != nil || !got[scenarioAPICost] || got[scenarioMany] {
		t.Errorf("parseScenarios(api-cost) = %v, %v", got, err)
	}
	// 1,000 requests that cost the API server 13.7 s of CPU: 13.7 ms each.
	r := apiCostRow{kind: "status", n: 1000, cpu: cpuWindow{8, cpuByProgram{"kube-apiserver": 13.7, "etcd": 0.9}}}
	if ms := r.perRequestMs("kube-apiserver"); ms < 13.69 || ms > 13.71 {
		t.Errorf("per request = %g ms, want 13.7", ms)
	}
	if ms := r.perRequestMs("prometheus"); ms != 0 {
		t.Errorf("a program that did not run: %g ms, want 0", ms)
	}
}
