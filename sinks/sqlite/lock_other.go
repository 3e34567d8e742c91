//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || windows)

package sqlite

import (
	"errors"
	"os"
	"runtime"
)

func lockFile(*os.File) error {
	return errors.New("run locks are not supported on " + runtime.GOOS)
}

func unlockFile(*os.File) error { return nil }
