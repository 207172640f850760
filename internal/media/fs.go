package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FS stores files in a folder, for a single server or development: zero set-up.
type FS struct{ root string }

// NewFS stores under dir, creating it.
func NewFS(dir string) (*FS, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("media folder %s: %w", abs, err)
	}
	return &FS{root: abs}, nil
}

// path is key's file, refusing keys that would leave the folder.
func (f *FS) path(key string) (string, error) {
	if key == "" || !fs.ValidPath(key) || strings.Contains(key, `\`) {
		return "", ErrNotExist
	}
	return filepath.Join(f.root, filepath.FromSlash(key)), nil
}

// Put writes to a temporary file and renames it: a reader never sees half a file.
func (f *FS) Put(_ context.Context, key string, r io.Reader, _ int64, _ string) error {
	p, err := f.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// Get opens key's file.
func (f *FS) Get(_ context.Context, key string) (io.ReadCloser, int64, error) {
	p, err := f.path(key)
	if err != nil {
		return nil, 0, err
	}
	file, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, ErrNotExist
	}
	if err != nil {
		return nil, 0, err
	}
	st, err := file.Stat()
	if err != nil || !st.Mode().IsRegular() {
		file.Close()
		return nil, 0, ErrNotExist
	}
	return file, st.Size(), nil
}

// Delete removes the files, and their folder once empty.
func (f *FS) Delete(_ context.Context, keys ...string) error {
	var errs []error
	for _, k := range keys {
		p, err := f.path(k)
		if err != nil {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		_ = os.Remove(filepath.Dir(p)) // only succeeds when empty
	}
	return errors.Join(errs...)
}

// PresignPut: the filesystem has no URL of its own to upload to.
func (f *FS) PresignPut(context.Context, string, int64, time.Duration) (string, error) {
	return "", ErrNoPresign
}

// Name is the folder.
func (f *FS) Name() string { return "folder:" + f.root }

// Stale lists the files under prefix modified before cutoff.
func (f *FS) Stale(_ context.Context, prefix string, cutoff time.Time, limit int) ([]string, error) {
	dir := filepath.Join(f.root, filepath.FromSlash(strings.TrimSuffix(prefix, "/")))
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || !info.ModTime().Before(cutoff) {
			continue
		}
		if keys = append(keys, strings.TrimSuffix(prefix, "/")+"/"+e.Name()); len(keys) == limit {
			break
		}
	}
	return keys, nil
}
