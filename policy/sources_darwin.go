package policy

import (
	"context"
	"os/user"
	"path/filepath"

	"github.com/cardbridge/cardbridge/internal/fswatch"
)

// Domain is the managed preferences domain a configuration profile sets
// cardbridge's policies in.
const Domain = "org.cardbridge"

// managedPrefs is where configuration profiles put managed preferences.
const managedPrefs = "/Library/Managed Preferences"

func platformSources() []source {
	machine := filepath.Join(managedPrefs, Domain+".plist")
	srcs := []source{{where: machine, read: func() (Values, error) { return ReadPlist(machine) }}}
	if u, err := user.Current(); err == nil && u.Username != "" {
		mine := filepath.Join(managedPrefs, u.Username, Domain+".plist")
		srcs = append(srcs, source{where: mine, perUser: true, read: func() (Values, error) { return ReadPlist(mine) }})
	}
	return srcs
}

// platformWatch tells of changes to the managed preferences files
// platformSources reads.
func platformWatch(ctx context.Context) (<-chan struct{}, error) {
	var paths []string
	for _, s := range platformSources() {
		paths = append(paths, s.where)
	}
	return fswatch.Watch(ctx, paths...)
}
