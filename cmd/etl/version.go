package main

import (
	"fmt"
	"runtime/debug"
)

// version is what `etl --version` prints: the module's version (a tagged
// release, or "(devel)" for a build from a checkout), the VCS revision and
// whether the tree was modified, and the Go version, all from the build
// information the Go toolchain embeds.
func version(info *debug.BuildInfo, ok bool) string {
	if !ok || info == nil {
		return "etl (no build information)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	rev, at, dirty := "", "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	out := fmt.Sprintf("etl %s", v)
	if rev != "" {
		out += " revision " + rev
		if dirty {
			out += " (modified)"
		}
		if at != "" {
			out += " " + at
		}
	} else {
		out += " (no VCS revision: built outside a git checkout, or with -buildvcs=false)"
	}
	return out + " " + info.GoVersion
}
