package manifests_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/konsumerator/konsumerator/internal/testenv"
)

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestDockerfileBuildsLikeMake: no Docker engine runs in CI, so the image recipe is held to the Makefile's
// build instead: the same flags, the same -X version variable, a static binary, a non-root runtime.
func TestDockerfileBuildsLikeMake(t *testing.T) {
	makefile := readRepoFile(t, "Makefile")
	dockerfile := readRepoFile(t, "Dockerfile")

	ldflags := regexp.MustCompile(`(?m)^LDFLAGS := (.*)$`).FindStringSubmatch(makefile)
	if ldflags == nil {
		t.Fatal("no LDFLAGS in the Makefile")
	}
	want := strings.ReplaceAll(ldflags[1], "$(VERSION)", "${VERSION}")
	if !strings.Contains(dockerfile, `-ldflags "`+want+`"`) {
		t.Errorf("the Dockerfile does not build with the Makefile's ldflags %q", want)
	}
	build := regexp.MustCompile(`(?m)^build:.*\n\t(.*)$`).FindStringSubmatch(makefile)
	if build == nil {
		t.Fatal("no build target in the Makefile")
	}
	for _, part := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/konsumerator"} {
		if !strings.Contains(build[1], part) {
			t.Errorf("make build lost %s; update this test and the Dockerfile together", part)
		}
		if !strings.Contains(dockerfile, part) {
			t.Errorf("the Dockerfile builds without %s, unlike make build", part)
		}
	}
	for _, want := range []string{
		"FROM --platform=$BUILDPLATFORM golang:1.26 AS builder",
		"ARG VERSION",
		"FROM gcr.io/distroless/static-debian12:nonroot",
		"USER 65532:65532",
		`ENTRYPOINT ["/konsumerator"]`,
	} {
		if !strings.Contains(dockerfile, want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
	if !strings.Contains(makefile, "docker build --build-arg VERSION=$(VERSION)") {
		t.Error("make docker-build does not pass VERSION to the Dockerfile")
	}
	ignore := readRepoFile(t, ".dockerignore")
	for _, needed := range []string{"go.mod", "go.sum", "cmd", "api", "config"} {
		for _, line := range strings.Split(ignore, "\n") {
			if strings.TrimSuffix(strings.TrimSpace(line), "/") == needed {
				t.Errorf(".dockerignore excludes %s, which the build needs", needed)
			}
		}
	}
}

// TestDockerignoreKeepsEmbeddedFiles: a file that Go code embeds but .dockerignore excludes builds locally and
// fails only in the image build, which CI cannot run.
func TestDockerignoreKeepsEmbeddedFiles(t *testing.T) {
	root := testenv.RepoRoot()
	var excluded []string
	for _, line := range strings.Split(readRepoFile(t, ".dockerignore"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "!") {
			continue
		}
		excluded = append(excluded, strings.TrimSuffix(line, "/"))
	}
	embed := regexp.MustCompile(`(?m)^//go:embed (.+)$`)
	err := walkGoSources(root, func(path string, src []byte) error {
		for _, m := range embed.FindAllStringSubmatch(string(src), -1) {
			for _, pattern := range strings.Fields(m[1]) {
				target, _ := filepath.Rel(root, filepath.Join(filepath.Dir(path), pattern))
				for _, ex := range excluded {
					matched, _ := filepath.Match(ex, filepath.Base(target))
					if matched || target == ex || strings.HasPrefix(target, ex+"/") {
						t.Errorf("%s embeds %s, which .dockerignore excludes (%s)", path, target, ex)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
