package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// Storage keeps the stored files of images under keys such as images/<random>/256.jpg. Keys
// are made by this package only: never from a client's input.
type Storage interface {
	// Put stores size bytes from r under key.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Get opens the file under key; ErrNotExist when there is none.
	Get(ctx context.Context, key string) (io.ReadCloser, int64, error)
	// Delete removes the files under keys; missing ones are not an error.
	Delete(ctx context.Context, keys ...string) error
	// PresignPut is a URL a client may PUT exactly size bytes to, under key, until ttl passes;
	// ErrNoPresign when the store cannot sign (the filesystem).
	PresignPut(ctx context.Context, key string, size int64, ttl time.Duration) (string, error)
	// Stale lists the keys under prefix last written before cutoff (direct uploads never
	// completed), up to limit.
	Stale(ctx context.Context, prefix string, cutoff time.Time, limit int) ([]string, error)
	// Name describes the store for the start-up log, without secrets.
	Name() string
}

// ErrNotExist is a key with no file.
var ErrNotExist = errors.New("media: no such file")

// ErrNoPresign is a store that cannot sign upload URLs.
var ErrNoPresign = errors.New("media: this store cannot sign upload URLs")

// Credentials of an S3-compatible store.
type Credentials struct{ AccessKey, SecretKey string }

// Open opens the store STORAGE_URL names: empty or file:///path for the filesystem (dir when
// empty), s3://bucket?region=…&endpoint=…&path_style=true for an S3-compatible store.
func Open(rawURL, dir string, creds Credentials) (Storage, error) {
	if rawURL == "" {
		return NewFS(dir)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("STORAGE_URL: %w", err)
	}
	switch u.Scheme {
	case "file":
		p := u.Path
		if u.Host != "" || p == "" {
			p = strings.TrimPrefix(rawURL, "file://")
		}
		return NewFS(p)
	case "s3":
		return newS3FromURL(u, creds)
	}
	return nil, fmt.Errorf("STORAGE_URL: want file:///path or s3://bucket?region=…&endpoint=…, got scheme %q", u.Scheme)
}
