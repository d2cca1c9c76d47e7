//go:build !linux

package sqlite

import "errors"

// freeSpace is not measured here: readiness and start-up messages rely on
// SQLite's own errors.
func freeSpace(string) (uint64, error) { return 0, errors.ErrUnsupported }

// writable is not checked here.
func writable(string) bool { return true }
