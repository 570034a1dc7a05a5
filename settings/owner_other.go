//go:build !unix

package settings

import "io/fs"

// checkPrivateDir has nothing to check where Unix owners and mode bits do not
// exist: the per-user application data folder is already private.
func checkPrivateDir(dir string, fi fs.FileInfo) error { return nil }
