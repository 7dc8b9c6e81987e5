package planner_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The planner and the model must stay pure: no I/O, no clients, no clock. Direct imports are checked strictly.
// Transitively only the clients are banned: client-go's apply configurations (which the model's Plan carries)
// import k8s.io/client-go/rest for their generated helpers, so rest and net/http are in the build graph anyway
// without being used.
var (
	bannedDirect = []string{
		"net/http",
		"os",
		"os/exec",
		"k8s.io/client-go/rest",
		"k8s.io/client-go/kubernetes",
		"sigs.k8s.io/controller-runtime/pkg/client",
		"github.com/prometheus/client_golang/api",
		"github.com/prometheus/client_golang/api/prometheus/v1",
	}
	// k8s.io/client-go/kubernetes/scheme is pulled in by the apply configurations too; the clientset and its
	// typed clients are not.
	bannedTransitive = []string{
		"k8s.io/client-go/kubernetes",
		"k8s.io/client-go/kubernetes/typed",
		"sigs.k8s.io/controller-runtime/pkg/client",
		"github.com/prometheus/client_golang/api",
	}
)

type listedPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func goList(t *testing.T, pkg string) listedPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", pkg).Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	var p listedPackage
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPurity(t *testing.T) {
	for _, pkg := range []string{"github.com/konsumerator/konsumerator/planner", "github.com/konsumerator/konsumerator/model"} {
		p := goList(t, pkg)
		for _, imp := range p.Imports {
			for _, banned := range bannedDirect {
				if imp == banned {
					t.Errorf("%s imports %s", pkg, imp)
				}
			}
		}
		for _, dep := range p.Deps {
			for _, banned := range bannedTransitive {
				if dep == banned || strings.HasPrefix(dep, banned+"/") && banned != "k8s.io/client-go/kubernetes" {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}

// TestNoClock: the planner's only time is Snapshot.Now.
func TestNoClock(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, call := range []string{"time.Now(", "time.Since(", "time.Until(", "rand."} {
			if strings.Contains(string(src), call) {
				t.Errorf("%s calls %s", f, call)
			}
		}
	}
}
