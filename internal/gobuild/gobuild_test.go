package gobuild_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/konsumerator/konsumerator/internal/gobuild"
	"github.com/konsumerator/konsumerator/internal/testenv"
)

// TestTheLinkerDropsUnusedMethods builds the operator as Args does, with the linker's record of why it keeps each
// symbol (-dumpdep), and fails when any function it keeps may call a method by a name known only at run time
// (the linker marks those <ReflectMethod>): then every exported method of every linked type is kept, and the
// executable and its resident memory grow by a quarter. The failure names the chain of calls from main that
// reaches such a function, to find the import that brought it.
func TestTheLinkerDropsUnusedMethods(t *testing.T) {
	if testing.Short() {
		t.Skip("links the operator")
	}
	args := gobuild.Args(filepath.Join(t.TempDir(), "konsumerator"))
	args = append([]string{args[0], "-ldflags=-dumpdep"}, args[1:]...)
	cmd := exec.Command("go", args...)
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The linker writes one line "from -> to" per reference it follows, from the program's roots outwards, so
	// the first line that reaches a symbol says why it is kept.
	keptBy := map[string]string{}
	reflectMethods := map[string]bool{} // the functions marked; first is the first the linker kept
	var first string
	var other bytes.Buffer
	scanner := bufio.NewScanner(stderr)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		from, to, ok := strings.Cut(scanner.Text(), " -> ")
		if !ok {
			other.WriteString(scanner.Text() + "\n")
			continue
		}
		if name, marked := strings.CutSuffix(from, " <ReflectMethod>"); marked {
			if first == "" {
				first = name
			}
			reflectMethods[name] = true
		}
		from, to = symbolName(from), symbolName(to)
		if _, seen := keptBy[to]; !seen {
			keptBy[to] = from
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, other.String())
	}
	if len(keptBy) == 0 {
		t.Fatalf("the linker wrote no record of what it keeps (-dumpdep); go %s said:\n%s", strings.Join(args, " "), other.String())
	}
	if first == "" {
		return
	}
	var chain []string
	for name, seen := first, map[string]bool{}; name != "" && !seen[name]; name = keptBy[name] {
		seen[name] = true
		chain = append(chain, name)
	}
	t.Errorf("the linker keeps every exported method: %d kept functions may call a method by a name known only at run time, the first kept through\n  %s",
		len(reflectMethods), strings.Join(chain, "\n  <- "))
}

// symbolName is a symbol of a -dumpdep line without the linker's marks ("<ReflectMethod>", "<UsedInIface>").
func symbolName(s string) string {
	if i := strings.LastIndex(s, " <"); i >= 0 && strings.HasSuffix(s, ">") {
		return s[:i]
	}
	return s
}

// TestEveryBuildOfTheOperatorHasTheTags holds `make build`, `make run` and the image's Dockerfile, which cannot
// call Args, to the same tags.
func TestEveryBuildOfTheOperatorHasTheTags(t *testing.T) {
	operatorBuild := regexp.MustCompile(`\bgo (build|run)\b.*\s` + regexp.QuoteMeta(gobuild.OperatorPackage) + `(\s|$)`)
	for _, file := range []string{"Makefile", "Dockerfile"} {
		raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), file))
		if err != nil {
			t.Fatal(err)
		}
		// A command continued over lines with a backslash is one command.
		text := strings.ReplaceAll(string(raw), "\\\n", " ")
		text = strings.ReplaceAll(text, "$(GO) ", "go ")
		builds := 0
		for _, line := range strings.Split(text, "\n") {
			if !operatorBuild.MatchString(line) {
				continue
			}
			builds++
			if !strings.Contains(line, "-tags "+gobuild.Tags+" ") {
				t.Errorf("%s builds or runs the operator without -tags %s:\n%s", file, gobuild.Tags, strings.TrimSpace(line))
			}
		}
		if builds == 0 {
			t.Errorf("%s has no command that builds %s", file, gobuild.OperatorPackage)
		}
	}
}
