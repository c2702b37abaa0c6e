package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
)

// ContentTag hashes everything a build reads: every file under the context (path, executable bit, bytes; a
// symlink's target), the Dockerfile, the build arguments and the platform.
//
// It reads the context as docker sends it. A context directory that is itself a symbolic link (or lies under
// one) is resolved to the directory it points to, as the docker CLI does before it sends the context
// (ResolveAndValidateContextPath in github.com/docker/cli, cli/command/image/build/context.go: "The context dir
// might be a symbolic link, so follow it to the actual target directory"). A symlink inside the context is sent
// as a link, not followed, so its target path is hashed and the file it names is not.
//
// It ignores .dockerignore on purpose: a file that the build would skip can only cause a spare rebuild, never a
// stale image. Only .git is skipped.
func ContentTag(projectDir, context, dockerfile string, buildArgs map[string]string, platform string) (string, error) {
	h := sha256.New()
	root, err := filepath.EvalSymlinks(filepath.Join(projectDir, context))
	if err != nil {
		return "", fmt.Errorf("reading build context %q: %w", context, err)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// docker sends a symlink as a link, so its target is what the build sees.
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "link %s -> %s\n", filepath.ToSlash(rel), filepath.ToSlash(target))
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "file %s %t\n", filepath.ToSlash(rel), info.Mode()&0o111 != 0)
		return hashFile(h, path)
	})
	if err != nil {
		return "", fmt.Errorf("reading build context %q: %w", context, err)
	}
	fmt.Fprintf(h, "dockerfile %s\n", dockerfile)
	if err := hashFile(h, filepath.Join(projectDir, dockerfile)); err != nil {
		return "", fmt.Errorf("reading Dockerfile %q: %w", dockerfile, err)
	}
	for _, k := range slices.Sorted(maps.Keys(buildArgs)) {
		fmt.Fprintf(h, "arg %q=%q\n", k, buildArgs[k])
	}
	fmt.Fprintf(h, "platform %s\n", platform)
	return "c-" + hex.EncodeToString(h.Sum(nil))[:24], nil
}

func hashFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, f)
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	return err
}
