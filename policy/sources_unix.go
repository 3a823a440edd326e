//go:build !windows && !darwin

package policy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cardbridge/cardbridge/internal/fswatch"
)

// Dir holds the machine's policy files: policy.json, and the *.json files
// of policy.d, which override it and each other in name order (so that a
// configuration tool can drop in a file of its own).
const Dir = "/etc/cardbridge"

func platformSources() []source { return dirSources(Dir) }

// dirSources are the policy files of dir, the highest first.
func dirSources(dir string) []source {
	files := []string{filepath.Join(dir, "policy.json")}
	if ents, err := os.ReadDir(filepath.Join(dir, "policy.d")); err == nil {
		for _, e := range ents {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
				files = append(files, filepath.Join(dir, "policy.d", e.Name()))
			}
		}
	}
	slices.Reverse(files)
	srcs := make([]source, len(files))
	for i, f := range files {
		srcs[i] = source{where: f, read: func() (Values, error) { return ReadJSONFile(f) }}
	}
	return srcs
}

// platformWatch tells of changes to policy.json and policy.d, watching
// /etc (or the nearest directory that exists) until they are created.
func platformWatch(ctx context.Context) (<-chan struct{}, error) {
	return fswatch.Watch(ctx, filepath.Join(Dir, "policy.json"), filepath.Join(Dir, "policy.d"))
}
