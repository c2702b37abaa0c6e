// Package jsonfile is the stand-ins' shared state on disk: a JSON file that several processes (the engine's
// provider plugins, a test's API stand-in) read and change under one exclusive lock.
package jsonfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// Update takes the exclusive lock on lockFile, reads file's JSON into v (a missing file leaves v as it is), runs
// f, and writes v back when f returns nil. what names the state in errors.
func Update(file, lockFile, what string, v any, f func() error) error {
	lock, err := os.OpenFile(lockFile, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer func() { _ = lock.Close() }() // closing releases the lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	raw, err := os.ReadFile(file)
	switch {
	case err == nil:
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("%s %s: %w", what, file, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if err := f(); err != nil {
		return err
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, out, 0o600)
}
