package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// Media is where uploaded images are kept and what one may cost. Defaults are in Defaults.
type Media struct {
	StorageURL     string        // STORAGE_URL: empty (default) keeps files in Dir; s3://bucket?region=…&endpoint=…&path_style=true an S3-compatible bucket
	Dir            string        // AGORA_MEDIA_DIR: the folder of the filesystem store (default media, beside agora.db)
	PublicBaseURL  string        // AGORA_MEDIA_PUBLIC_URL: base URL of public image files (a CDN or a public bucket); empty: served by Agora under /media/
	AccessKey      string        // AWS_ACCESS_KEY_ID: the S3 store's access key
	SecretKey      string        // AWS_SECRET_ACCESS_KEY: the S3 store's secret key (masked when printed)
	MaxBytes       int64         // AGORA_IMAGE_MAX_BYTES: largest image file taken in (default 10 MiB)
	MaxPixels      int64         // AGORA_IMAGE_MAX_PIXELS: largest width × height, checked from the header before decoding (default 25,000,000)
	UploadsPerUser Budget        // AGORA_RATE_LIMIT_UPLOAD: image uploads per user (default 30/1h)
	QuotaBytes     int64         // AGORA_STORAGE_QUOTA: storage all of one user's images may use (default 500 MiB)
	SignedURLTTL   time.Duration // AGORA_MEDIA_SIGNED_TTL: lifetime of the signed URLs of images not everyone may see (default 1h)
	UnattachedTTL  time.Duration // AGORA_IMAGE_UNATTACHED_TTL: an image not made an avatar or part of a post within it is deleted (default 24h)
	SweepInterval  time.Duration // AGORA_MEDIA_SWEEP_INTERVAL: how often unused images are deleted (default 10m; 0 = never)
	SharedMaxAge   time.Duration // AGORA_MEDIA_SHARED_MAX_AGE: how long a CDN may serve a public image before asking Agora again (default 10m)
}

func loadMedia(d Media) (Media, []error) {
	var errs []error
	m := Media{
		StorageURL:     os.Getenv("STORAGE_URL"),
		Dir:            get("AGORA_MEDIA_DIR", d.Dir),
		PublicBaseURL:  strings.TrimRight(os.Getenv("AGORA_MEDIA_PUBLIC_URL"), "/"),
		AccessKey:      os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretKey:      os.Getenv("AWS_SECRET_ACCESS_KEY"),
		MaxBytes:       parse(&errs, "AGORA_IMAGE_MAX_BYTES", d.MaxBytes, parseInt64),
		MaxPixels:      parse(&errs, "AGORA_IMAGE_MAX_PIXELS", d.MaxPixels, parseInt64),
		UploadsPerUser: parse(&errs, "AGORA_RATE_LIMIT_UPLOAD", d.UploadsPerUser, ParseBudget),
		QuotaBytes:     parse(&errs, "AGORA_STORAGE_QUOTA", d.QuotaBytes, parseInt64),
		SignedURLTTL:   parse(&errs, "AGORA_MEDIA_SIGNED_TTL", d.SignedURLTTL, time.ParseDuration),
		UnattachedTTL:  parse(&errs, "AGORA_IMAGE_UNATTACHED_TTL", d.UnattachedTTL, time.ParseDuration),
		SweepInterval:  parse(&errs, "AGORA_MEDIA_SWEEP_INTERVAL", d.SweepInterval, time.ParseDuration),
		SharedMaxAge:   parse(&errs, "AGORA_MEDIA_SHARED_MAX_AGE", d.SharedMaxAge, time.ParseDuration),
	}
	if u := m.StorageURL; u != "" && !strings.HasPrefix(u, "s3://") && !strings.HasPrefix(u, "file://") {
		errs = append(errs, fmt.Errorf("STORAGE_URL: want s3://bucket?region=…&endpoint=… or file:///path, got %q", maskURL(u)))
	}
	if strings.HasPrefix(m.StorageURL, "s3://") && (m.AccessKey == "" || m.SecretKey == "") {
		errs = append(errs, fmt.Errorf("STORAGE_URL: an s3:// store needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"))
	}
	if p := m.PublicBaseURL; p != "" {
		if u, err := url.Parse(p); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("AGORA_MEDIA_PUBLIC_URL: want an absolute http(s) URL, got %q", p))
		}
	}
	for name, v := range map[string]int64{"AGORA_IMAGE_MAX_BYTES": m.MaxBytes, "AGORA_IMAGE_MAX_PIXELS": m.MaxPixels, "AGORA_STORAGE_QUOTA": m.QuotaBytes} {
		if v < 1 {
			errs = append(errs, fmt.Errorf("%s: want at least 1", name))
		}
	}
	for name, v := range map[string]time.Duration{"AGORA_MEDIA_SIGNED_TTL": m.SignedURLTTL, "AGORA_IMAGE_UNATTACHED_TTL": m.UnattachedTTL} {
		if v < time.Minute {
			errs = append(errs, fmt.Errorf("%s: want at least 1m", name))
		}
	}
	if m.SweepInterval < 0 {
		errs = append(errs, fmt.Errorf("AGORA_MEDIA_SWEEP_INTERVAL: want a duration of 0 or more"))
	}
	if m.SharedMaxAge < 0 || m.SharedMaxAge%time.Second != 0 {
		errs = append(errs, fmt.Errorf("AGORA_MEDIA_SHARED_MAX_AGE: want whole seconds, 0 or more"))
	}
	return m, errs
}

func (m Media) String() string {
	storage := "folder:" + m.Dir
	if m.StorageURL != "" {
		storage = maskURL(m.StorageURL)
	}
	secret := "(unset)"
	if m.SecretKey != "" {
		secret = "(set)"
	}
	return fmt.Sprintf("storage=%s media_public_url=%q aws_access_key_id=%q aws_secret_access_key=%s image_max_bytes=%d image_max_pixels=%d "+
		"rate_limit_upload=%s storage_quota=%d media_signed_ttl=%s image_unattached_ttl=%s media_sweep_interval=%s media_shared_max_age=%s",
		storage, m.PublicBaseURL, m.AccessKey, secret, m.MaxBytes, m.MaxPixels, m.UploadsPerUser, m.QuotaBytes,
		m.SignedURLTTL, m.UnattachedTTL, m.SweepInterval, m.SharedMaxAge)
}
